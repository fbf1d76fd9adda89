import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image
from typer.testing import CliRunner

from soundsight.cli import app
from soundsight.errors import ConfigError
from soundsight.models.image_model import ImageModelConfig, build_unet
from soundsight.shapes.build import BuildReport
from soundsight.shapes.captions import parse_caption
from soundsight.train.diffusion import DiffusionTrainConfig
from soundsight.train.diffusion import main as train_diffusion
from soundsight.train.scenes import draw_caption, load_scenes

from .tiny_models import TOKENIZERS

TINY_MODEL = ["--vae-channels", "8,8,8", "--unet-channels", "16,32,32", "--text-width", "32", "--text-layers", "1"]


def _command(build: BuildReport, out: Path, stage: str, steps: int, launcher: list[str]) -> list[str]:
    return [*launcher, "soundsight", "train", "image", "--data", str(build.out), "--out", str(out), "--stage", stage,
            "--tokenizer", str(TOKENIZERS / "bpe_simple_vocab_16e6.txt.gz"), *TINY_MODEL, "--vae-steps", "4",
            "--vae-batch-size", "8", "--steps", str(steps), "--batch-size", "8", "--checkpoint-every", "4",
            "--validate-every", "0", "--log-every", "1", "--seed", "1", "--vae-mixed-precision", "no",
            "--no-progress"]  # fmt: skip


def _losses(run: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if "loss" in row}


@pytest.fixture(scope="module")
def tiny_run(small_build: BuildReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both stages, a few steps each, with validation grids: a whole `train image` run in miniature."""
    out = tmp_path_factory.mktemp("image-run")
    command = _command(small_build, out, "all", 8, [sys.executable, "-m"])
    command[command.index("--validate-every") + 1] = "4"
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_training_captions_follow_the_grammar_and_name_only_what_the_scene_shows() -> None:
    scene = {"shape": "star", "color": "red", "size": "small", "position": "left", "background": "blue"}
    rng = np.random.default_rng(0)
    captions = [draw_caption(scene, rng) for _ in range(200)]
    for caption in captions:
        spec = parse_caption(caption)
        assert (spec.shape, spec.color) == ("star", "red")
        assert spec.size in (None, "small") and spec.position in (None, "left") and spec.background in (None, "blue")
    assert len(set(captions)) > 20  # word orders, synonyms and omissions all vary
    assert any(c.startswith("a blue background with") for c in captions)


def test_mirrored_scenes_swap_left_and_right(small_build: BuildReport, tmp_path: Path) -> None:
    scenes = load_scenes(small_build.out, "train", tmp_path / "cache", progress=False)
    assert len(scenes.pixels) == 2 * small_build.counts["train"]
    for k in range(0, len(scenes.pixels), 2):
        assert np.array_equal(scenes.pixels[k + 1], scenes.pixels[k][:, ::-1])
        swapped = {"left": "right", "right": "left"}.get(
            scenes.attributes[k]["position"], scenes.attributes[k]["position"]
        )
        assert scenes.attributes[k + 1]["position"] == swapped
    again = load_scenes(small_build.out, "train", tmp_path / "cache", progress=False)  # from the cache
    assert np.array_equal(again.pixels, scenes.pixels)


def test_the_unet_attends_only_where_the_latent_is_coarse() -> None:
    unet = build_unet(ImageModelConfig(unet_channels=(16, 32, 32), text_width=32, unet_heads=2))
    assert unet.config.down_block_types == ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D")
    assert unet.config.up_block_types == ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D")
    assert unet.config.sample_size == 16


def test_a_run_saves_a_pipeline_that_plain_diffusers_loads(tiny_run: Path) -> None:
    pipe = StableDiffusionPipeline.from_pretrained(tiny_run / "diffusion" / "model")
    assert pipe.tokenizer.model_max_length == 77 and len(pipe.tokenizer) == 49_408
    assert pipe.vae.config.scaling_factor != 0.18215  # measured on our latents, not SD's constant
    image = pipe("a red star on a blue background", num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                 output_type="pil").images[0]  # fmt: skip
    assert image.size == (64, 64)
    model_index = json.loads((tiny_run / "diffusion" / "model" / "model_index.json").read_text())
    assert (
        model_index["safety_checker"] == [None, None] and model_index["scheduler"][1] == "DPMSolverMultistepScheduler"
    )
    assert all(p.suffix != ".bin" for p in (tiny_run / "diffusion" / "model").rglob("*"))


def test_validation_grids_are_scored_as_training_goes(tiny_run: Path) -> None:
    rows = [json.loads(line) for line in (tiny_run / "diffusion" / "log.jsonl").read_text().splitlines()]
    scored = [row for row in rows if "val" in row]
    assert [row["step"] for row in scored] == [4, 8]
    assert set(scored[0]["val"]) == {"all", "background", "color", "size", "position", "shape"}
    grid = Image.open(tiny_run / "diffusion" / "validation" / "step-000008.png")
    assert grid.width >= 8 * 64 * 3
    assert len(_losses(tiny_run / "vae")) == 4 and len(_losses(tiny_run / "diffusion")) == 8


def test_a_killed_diffusion_run_resumes_on_the_same_loss_curve(
    small_build: BuildReport, tiny_run: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m"]
    for name in ("unbroken", "killed"):
        (tmp_path / name).mkdir()
        os.symlink(tiny_run / "vae", tmp_path / name / "vae")  # the same stage-1 VAE under both
    subprocess.run(_command(small_build, tmp_path / "unbroken", "diffusion", 12, launcher), check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    killed = tmp_path / "killed" / "diffusion"
    process = subprocess.Popen(_command(small_build, tmp_path / "killed", "diffusion", 12, launcher), env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while not (killed / "checkpoint-4" / "step.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "model").exists(), "the run was killed before it finished"
    subprocess.run(_command(small_build, tmp_path / "killed", "diffusion", 12, launcher), check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    expected, got = _losses(tmp_path / "unbroken" / "diffusion"), _losses(killed)
    assert sorted(got) == sorted(expected) == list(range(1, 13))
    assert [got[s] for s in expected] == pytest.approx([expected[s] for s in expected], abs=1e-4)
    rows = [json.loads(line) for line in (killed / "log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows if "loss" in row] == list(range(1, 13))  # each step once after the resume
    saved = {p.suffix for p in killed.glob("checkpoint-*/*")}
    assert saved == {".safetensors", ".json"}  # the EMA and the optimiser too: no pickle to run code from


def test_two_cpu_processes_under_accelerate(small_build: BuildReport, tmp_path: Path) -> None:
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m"]  # fmt: skip
    result = subprocess.run(_command(small_build, tmp_path, "all", 4, launcher), capture_output=True, text=True,
                            timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(_losses(tmp_path / "diffusion")) == [1, 2, 3, 4]
    assert StableDiffusionPipeline.from_pretrained(tmp_path / "diffusion" / "model").unet.config.sample_size == 16


def test_the_diffusion_stage_needs_its_vae(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config.json there"):
        train_diffusion(DiffusionTrainConfig(out=tmp_path / "diffusion", vae=tmp_path / "missing"))


def test_evaluate_image_paints_a_split_for_shapes_score(
    small_build: BuildReport, tiny_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    model = str(tiny_run / "diffusion" / "model")
    args = ["evaluate", "image", str(small_build.out), "-o", str(out), "--image-model", model,
            "--steps", "2", "--limit", "5", "--report", str(tmp_path / "report.json"), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "images" / "metadata.jsonl").read_text().splitlines()]
    test_rows = [
        json.loads(line) for line in (small_build.out / "scenes" / "test" / "metadata.jsonl").read_text().splitlines()
    ]
    assert [r["caption"] for r in rows] == [r["caption"] for r in test_rows[:5]]
    assert Image.open(out / "images" / rows[0]["file_name"]).size == (64, 64)
    assert json.loads((tmp_path / "report.json").read_text())["num_images"] == 5
    scored = CliRunner().invoke(app, ["shapes", "score", str(out / "images"), "--json"])
    assert scored.exit_code == 0 and json.loads(scored.stdout)["num_images"] == 5
    assert CliRunner().invoke(app, args).exit_code == 1  # never into an existing folder


def test_evaluate_loop_goes_from_speech_to_scored_pictures(
    small_build: BuildReport, tiny_run: Path, tiny_whisper: Path, tmp_path: Path
) -> None:
    out = tmp_path / "loop"
    model = str(tiny_run / "diffusion" / "model")
    args = ["evaluate", "loop", str(small_build.out), "-o", str(out), "--image-model", model,
            "--asr-model", str(tiny_whisper), "--steps", "2", "--limit", "3", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (out / "images" / "metadata.jsonl").read_text().splitlines()]
    speech = [
        json.loads(line) for line in (small_build.out / "speech" / "test" / "metadata.jsonl").read_text().splitlines()
    ]
    assert [r["caption"] for r in rows] == [r["caption"] for r in speech[:3]]
    assert {"transcript", "prompt"} <= set(rows[0]) and (out / "grid.png").is_file()


def test_a_new_run_can_start_from_a_saved_pipeline(small_build: BuildReport, tiny_run: Path, tmp_path: Path) -> None:
    saved = tiny_run / "diffusion" / "model"
    command = _command(small_build, tmp_path, "diffusion", 2, [sys.executable, "-m"])
    command += ["--vae", str(tiny_run / "vae" / "model"), "--init-from", str(saved), "--learning-rate", "0"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    before = StableDiffusionPipeline.from_pretrained(saved).unet.state_dict()
    after = StableDiffusionPipeline.from_pretrained(tmp_path / "diffusion" / "model").unet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # no learning: the saved weights came through
