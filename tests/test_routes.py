import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from soundsight.defaults import bundled_asr_dir, bundled_image_model_dir
from soundsight.models.stackgan import StackGanConfig, Stage1Generator
from soundsight.shapes.build import BuildReport
from soundsight.train.stackgan import save_stackgan


@pytest.fixture(scope="module")
def random_stackgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A StackGAN of random weights: a painter that reads back nothing of its captions."""
    folder = tmp_path_factory.mktemp("gan") / "model"
    config = StackGanConfig(condition_dim=16, noise_dim=8, width=8, d_width=8)
    torch.manual_seed(0)  # weights that do not depend on the tests run before (some draws read a word by chance)
    save_stackgan(folder, config, {1: Stage1Generator(config)})
    return folder


def test_one_table_scores_every_asr_painter_and_route(small_build: BuildReport, random_stackgan: Path,
                                                      tmp_path: Path) -> None:  # fmt: skip
    whisper, sd = str(bundled_asr_dir()), str(bundled_image_model_dir())
    out = tmp_path / "routes"
    command = [sys.executable, "-m", "soundsight", "evaluate", "routes", str(small_build.out), "-o", str(out),
               "--asr-model", whisper, "--image-model", sd, "--image-model", str(random_stackgan), "--limit", "4",
               "--words", str(small_build.out / "words" / "test"), "--word-pairs", "3", "--no-progress"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    (asr,) = report["asrs"]
    assert asr["name"] == "whisper_shapes" and asr["clips"] == 4 and asr["parameters"] > 1_000_000
    assert asr["wer_clean"] is not None and asr["wer_clean"] <= 0.1  # our Whisper hears the test voices
    painters = {p["name"]: p for p in report["painters"]}  # folders by their own names
    assert painters["sd_shapes"]["side_px"] == 64 and painters["sd_shapes"]["test_all"] >= 0.5
    assert painters["model"]["test_all"] == 0.0  # the random StackGAN: random weights paint nothing readable
    routes = {r["name"]: r for r in report["routes"]}
    assert sorted(routes) == ["whisper_shapes -> model", "whisper_shapes -> sd_shapes"]
    assert routes["whisper_shapes -> sd_shapes"]["all_attributes"] >= 0.5
    assert routes["whisper_shapes -> sd_shapes"]["seconds_per_item"] > asr["seconds_per_clip"]
    words = {r["name"]: r for r in report["word_routes"]}  # a colour word and a shape word said apart
    assert sorted(words) == sorted(routes) and all(r["pairs"] == 3 for r in words.values())
    assert words["whisper_shapes -> model"]["right"] == 0.0
    assert words["whisper_shapes -> sd_shapes"]["seconds_per_item"] > 0.0
    markdown = (out / "report.md").read_text()
    assert "| route (speech -> picture) | all attributes | s / item |" in markdown
    assert "| route (a colour word and a shape word said apart -> picture) |" in markdown
    assert (out / "plot.png").stat().st_size > 1000
    with Image.open(out / "painters.png") as grid:  # the 4 test captions, one row a painter, 198 x 238 px a tile
        assert grid.size == (4 * 198, 2 * 238)
        frames = [[grid.getpixel((198 * column + 99, 238 * row + 1)) for column in range(4)] for row in range(2)]
    green, red = (40, 170, 70), (220, 40, 40)
    assert green in frames[0] and frames[1] == [red] * 4  # SD reads right at least half the time; random never


def test_a_route_naming_no_given_model_is_one_line(small_build: BuildReport, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "soundsight", "evaluate", "routes", str(small_build.out), "-o",
               str(tmp_path / "r"), "--asr-model", "moonshine", "--route", "speech-transformer:stackgan"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --route speech-transformer:stackgan")
    assert not (tmp_path / "r").exists()
