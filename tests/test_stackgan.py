import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from soundsight.backends.shapes_world import ShapesWorldPainter
from soundsight.backends.stackgan import StackGanPainter, to_canvas
from soundsight.defaults import paints_spoken_shapes
from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.generate import GenerateConfig
from soundsight.loading import load_painter, load_stackgan, painter_backend
from soundsight.models.stackgan import StackGanConfig
from soundsight.shapes.build import BuildReport
from soundsight.shapes.render import make_scene, render_scene
from soundsight.train.stackgan import StackGanTrainConfig, main

TINY = StackGanConfig(condition_dim=16, noise_dim=8, width=8, d_width=8, residual_blocks=1)


def _config(build: BuildReport, out: Path, stage: int, steps: int, **extra: object) -> StackGanTrainConfig:
    return StackGanTrainConfig(data=build.out, out=out, stage=stage, model=TINY, steps=steps, batch_size=8,
                               checkpoint_every=2, sample_every=2, log_every=1, validate_captions=4, progress=False,
                               **extra)  # type: ignore[arg-type]  # fmt: skip


def _losses(out: Path) -> dict[int, tuple[float, float]]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {row["step"]: (row["loss"], row["d_loss"]) for row in rows if "loss" in row}


@pytest.fixture(scope="module")
def stage1(small_build: BuildReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stackgan") / "stage1"
    main(_config(small_build, out, 1, 4))
    return out


def test_the_renderer_draws_the_same_scene_at_128_px() -> None:
    for args in (("star", "red", "small", "left", "blue"), ("heart", "sks", "big", "center", "blue")):
        scene = make_scene(*args, rng=np.random.default_rng(1))
        small, large = np.asarray(render_scene(scene)), np.asarray(render_scene(scene, 128))
        assert large.shape == (128, 128, 3)
        assert np.abs(to_canvas(large[None])[0].astype(float) - small).mean() < 1.0


def test_stage1_trains_resumes_and_paints_one_picture_per_seed(stage1: Path, small_build: BuildReport,
                                                               tmp_path: Path) -> None:  # fmt: skip
    assert sorted(p.name for p in stage1.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert sorted(p.name for p in (stage1 / "samples").iterdir()) == ["step-000002.png", "step-000004.png"]
    card = json.loads((stage1 / "model" / "training.json").read_text())
    assert card["stage"] == 1 and 0.0 <= card["val_all_attributes"] <= 1.0
    resumed = tmp_path / "resumed"
    main(_config(small_build, resumed, 1, 2))
    main(_config(small_build, resumed, 1, 4))
    expected, got = _losses(stage1), _losses(resumed)
    assert sorted(got) == sorted(expected) == [1, 2, 3, 4]  # each step once
    assert [got[s] for s in expected] == [pytest.approx(expected[s], abs=1e-4) for s in expected]  # the same curve

    assert painter_backend(stage1) == "stackgan"  # a run folder: its model/
    checked = load_painter(stage1)  # it paints only Spoken Shapes: held to the world's rule as the bundled SD is
    assert isinstance(checked, ShapesWorldPainter) and paints_spoken_shapes(stage1)
    painter = checked.inner
    assert isinstance(painter, StackGanPainter) and painter.native_size == 64
    first = painter.paint(["a red star", "a red star"], GenerateConfig(), [3, 4])
    again = painter.paint(["a blue moon", "a red star"], GenerateConfig(), [9, 3])
    assert first.shape == (2, 64, 64, 3) and 0.0 <= first.min() and first.max() <= 1.0
    assert np.array_equal(first[0], again[1]) and not np.array_equal(first[0], first[1])


@pytest.fixture(scope="module")
def stage2(stage1: Path, small_build: BuildReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stackgan") / "stage2"
    main(_config(small_build, out, 2, 2, stage1=stage1))
    return out / "model"


def test_stage2_refines_stage1_to_128_px(stage2: Path, small_build: BuildReport) -> None:
    with pytest.raises(ConfigError, match="--stage1"):
        StackGanTrainConfig(data=small_build.out, stage=2)
    folder = stage2
    assert json.loads((folder / "config.json").read_text())["stages"] == [1, 2]
    both = load_stackgan(folder)
    assert both.native_size == 128 and both.sampler_name(None) == "StackGAN"
    assert both.paint(["a green cross"], GenerateConfig(), [0]).shape == (1, 128, 128, 3)
    alone = load_stackgan(folder, stage=1)
    assert alone.paint(["a green cross"], GenerateConfig(), [0]).shape == (1, 64, 64, 3)


def test_what_a_stackgan_cannot_take_is_one_line(stage1: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "soundsight", "paint", "a red star", "--image-model", str(stage1), "-o"]
    refused = subprocess.run([*command, str(tmp_path / "a"), "--steps", "5"], capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1].endswith("has no denoising steps to choose")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"model_type": "soundsight-stackgan", "stages": [1]}))
    with pytest.raises(ModelNotFoundError, match="not a StackGAN this version reads"):
        load_painter(tmp_path / "other")


def test_evaluate_stackgan_writes_both_stages_and_the_variety(stage2: Path, small_build: BuildReport,
                                                              tmp_path: Path) -> None:  # fmt: skip
    out = tmp_path / "report"
    command = [sys.executable, "-m", "soundsight", "evaluate", "stackgan", str(stage2), "--data",
               str(small_build.out), "-o", str(out), "--against", str(stage2), "--limit", "4", "--seeds", "2",
               "--variety-captions", "2", "--no-progress"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["stages"]] == ["model stage 1", "model stage 2"]
    assert [r["side_px"] for r in report["stages"]] == [64, 128] and report["iou_side_px"] == 128
    assert 0.5 < report["iou_world"] < 1.0  # the spec's jitter alone moves the outline
    assert all(0.0 <= r["full_size_iou"] <= 1.0 for r in report["stages"])
    assert [v["name"] for v in report["variety"]] == ["model stage 1", "model stage 2", "model"]
    assert report["settings"]["captions"] == {"test": 4, "novel": 4}
    assert sorted(p.name for p in out.glob("variety-*.png")) == [
        "variety-model-stage-1.png", "variety-model-stage-2.png", "variety-model.png"]  # fmt: skip
    assert "object IoU at 128 px" in (out / "report.md").read_text()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "Traceback" not in again.stderr and str(out) in again.stderr.strip()


def test_the_ca_relu_keeps_sigma_at_least_one_and_its_variant_lets_it_shrink() -> None:
    from soundsight.models.stackgan import ConditioningAugmentation

    embedding = torch.ones(2, 4)
    for relu, floor in ((True, 1.0), (False, 0.0)):
        ca = ConditioningAugmentation(StackGanConfig(embedding_dim=4, condition_dim=3, ca_relu=relu))
        torch.nn.init.zeros_(ca.fc.weight)
        torch.nn.init.constant_(ca.fc.bias, -4.0)  # mu and log-variance -4 before the ReLU
        c, mu, log_variance = (t.detach() for t in ca(embedding, torch.Generator().manual_seed(0)))
        assert torch.allclose(log_variance, torch.full_like(log_variance, -4.0 if not relu else 0.0))
        assert (c - mu).abs().max() > 0.3 if relu else (c - mu).abs().max() < 0.5
        assert float(torch.exp(0.5 * log_variance).min()) >= floor


def test_the_shipped_stackgan_loads_by_name_and_paints_what_the_verifier_reads() -> None:
    from soundsight.evaluate.image_model import paint_prompts, score_painted

    both, first = load_painter("stackgan"), load_painter("stackgan-1")
    assert isinstance(both, ShapesWorldPainter) and isinstance(both.inner, StackGanPainter)
    assert isinstance(first, ShapesWorldPainter) and isinstance(first.inner, StackGanPainter)
    assert both.inner.native_size == 128 and first.inner.native_size == 64
    assert both.inner.config.text_pooling == "char-cnn-rnn" and both.inner.config.fill_free
    # the model alone (never painted again): a regression check of the shipped weights and their text encoder;
    # "a red star" leaves size, position and background to the seed
    captions = ["a red star"] * 4 + ["a small blue heart on the left on a yellow background"] * 2
    for painter in (both, first):
        images = to_canvas(paint_prompts(painter.inner, captions, GenerateConfig(seed=0), progress=False))
        verdicts = score_painted(images, captions, [str(i) for i in range(len(captions))]).verdicts
        assert [v.correct for v in verdicts] == [True] * len(captions)
        assert len({v.read["background"] for v in verdicts[:4]}) >= 3  # the free background drawn from each seed
        assert not score_painted(images[:1], ["a blue star"], ["c"]).verdicts[0].correct
