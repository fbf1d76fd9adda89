import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from soundsight.backends.cgan import CganPainter
from soundsight.backends.shapes_world import ShapesWorldPainter
from soundsight.errors import ConfigError
from soundsight.generate import GenerateConfig
from soundsight.loading import load_painter, painter_backend
from soundsight.models.cgan import CganConfig, CganGenerator
from soundsight.shapes.build import BuildReport
from soundsight.train import cgan, word_vectors
from soundsight.train.attributes import ATTRIBUTE_LOGITS
from soundsight.word_vectors import embed_caption, load_word_vectors

TINY = CganConfig(noise_dim=8, width=4, d_width=4, compressed_dim=8, ca_dim=8)


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vectors")
    return word_vectors.main(word_vectors.WordVectorsTrainConfig(out=out, size=16, sentences=2000, epochs=3))


def test_word_vectors_train_probe_and_pool(vectors: Path, tmp_path: Path) -> None:
    report = json.loads((vectors.parent / "probe.json").read_text())
    assert [p["pooling"] for p in report["probes"]] == ["minmax", "mean", "slots"]
    assert all(0.0 <= p["color"] <= 1.0 and p["phrases_scored"] > 100 for p in report["probes"])
    loaded = load_word_vectors(vectors)
    assert loaded.vector_size == 16 and {"red", "star", "background"} <= set(loaded.key_to_index)
    one, swapped = "a red star on a blue background", "a blue star on a red background"
    assert embed_caption(one, loaded).shape == (32,)
    assert np.array_equal(embed_caption(one, loaded), embed_caption(swapped, loaded))  # the order is lost
    slots = embed_caption(one, loaded, "slots"), embed_caption(swapped, loaded, "slots")
    assert slots[0].shape == (80,) and not np.array_equal(*slots)  # kept, slot by slot
    assert np.array_equal(slots[0][16:32], loaded["red"]) and not slots[0][:16].any()  # colour slot; no size
    text = tmp_path / "vectors.txt"
    loaded.save_word2vec_format(str(text), binary=False)  # a user's own vectors, in the text format
    assert np.allclose(embed_caption(one, load_word_vectors(text)), embed_caption(one, loaded), atol=1e-5)
    (tmp_path / "bad.bin").write_bytes(b"\x80\x04not vectors")
    with pytest.raises(ConfigError, match="not word2vec-format vectors"):
        load_word_vectors(tmp_path / "bad.bin")


def _config(build: BuildReport, vectors: Path, out: Path, steps: int, **extra: object) -> cgan.CganTrainConfig:
    model = CganConfig(**{**TINY.__dict__, **extra.pop("model", {})})  # type: ignore[arg-type]
    settings = {"batch_size": 8, "checkpoint_every": 2, "sample_every": 2, "log_every": 1, "validate_captions": 4,
                **extra}  # fmt: skip
    return cgan.CganTrainConfig(data=build.out, word_vectors=vectors, out=out, model=model, steps=steps,
                                progress=False, **settings)  # type: ignore[arg-type]


def _losses(out: Path) -> dict[int, tuple[float, float]]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {row["step"]: (row["loss"], row["d_loss"]) for row in rows if "loss" in row}


def test_free_attributes_are_drawn_as_the_spec_draws_scenes() -> None:
    from soundsight.shapes.captions import CaptionSpec, draw_free_attributes

    rng = np.random.default_rng(0)
    drawn = [draw_free_attributes(CaptionSpec("star", "red"), rng) for _ in range(400)]
    assert all(d.background != "red" and (d.size == "small" or d.position == "center") for d in drawn)
    assert {d.size for d in drawn} == {"small", "big"} and len({d.position for d in drawn}) == 5
    assert len({d.background for d in drawn}) == 7
    named = CaptionSpec("star", "red", position="left", background="blue")
    only = CaptionSpec("star", "red", "small", "left", "blue")
    assert {draw_free_attributes(named, rng) for _ in range(50)} == {only}
    assert {draw_free_attributes(CaptionSpec("star", "red", "big"), rng).position for _ in range(50)} == {"center"}


def test_the_slots_painter_draws_what_a_caption_leaves_free_from_the_seed(vectors: Path) -> None:
    loaded = load_word_vectors(vectors)
    painter = CganPainter("tiny", CganGenerator(CganConfig(**{**TINY.__dict__, "pooling": "slots",
                                                               "condition_dim": 80})), loaded)  # fmt: skip
    free = [painter._condition("a red star", seed) for seed in range(6)]
    assert all(c[16:32].tolist() == loaded["red"].tolist() and c[32:48].tolist() == loaded["star"].tolist()
               for c in free)  # fmt: skip
    assert all(c[:16].any() and c[64:].any() for c in free)  # a size and a background drawn, not zeros
    assert len({c.tobytes() for c in free}) > 1 and np.array_equal(free[0], painter._condition("a red star", 0))
    full = "a small red star on the left on a blue background"
    assert np.array_equal(painter._condition(full, 3), embed_caption(full, loaded, "slots"))
    pictures = painter.paint(["a red star", "a red star"], GenerateConfig(), [5, 5])
    assert np.array_equal(pictures[0], pictures[1])
    minmax = CganPainter("tiny", CganGenerator(CganConfig(**{**TINY.__dict__, "condition_dim": 32})), loaded)
    assert np.array_equal(minmax._condition("a red star", 1), embed_caption("a red star", loaded))


def test_the_cgan_trains_resumes_and_paints_one_picture_per_seed(small_build: BuildReport, vectors: Path,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    run = tmp_path / "cgan"
    cgan.main(_config(small_build, vectors, run, 4))
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000002.png", "step-000004.png"]
    card = json.loads((run / "model" / "training.json").read_text())
    assert 0.0 <= card["val_all_attributes"] <= 1.0
    saved = json.loads((run / "model" / "config.json").read_text())
    assert saved["model_type"] == "soundsight-cgan" and saved["condition_dim"] == 32  # min and max of 16-d
    resumed = tmp_path / "resumed"
    cgan.main(_config(small_build, vectors, resumed, 2))
    cgan.main(_config(small_build, vectors, resumed, 4))
    expected, got = _losses(run), _losses(resumed)
    assert sorted(got) == sorted(expected) == [1, 2, 3, 4]
    assert [got[s] for s in expected] == [pytest.approx(expected[s], abs=1e-4) for s in expected]

    assert painter_backend(run) == "cgan"
    checked = load_painter(run)
    assert isinstance(checked, ShapesWorldPainter)
    painter = checked.inner
    assert isinstance(painter, CganPainter) and painter.native_size == 64
    first = painter.paint(["a red star", "a red star"], GenerateConfig(), [3, 4])
    again = painter.paint(["a blue heart", "a red star"], GenerateConfig(), [9, 3])
    assert first.shape == (2, 64, 64, 3) and 0.0 <= first.min() and first.max() <= 1.0
    assert np.array_equal(first[0], again[1]) and not np.array_equal(first[0], first[1])


def test_the_cgan_variants_train(small_build: BuildReport, vectors: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="wrong_text"):
        cgan.CganTrainConfig(wrong_text="none")
    with pytest.raises(ConfigError, match="augmentation"):
        CganConfig(augmentation="dropout")
    with pytest.raises(ConfigError, match="omit_rate"):
        cgan.CganTrainConfig(omit_rate=1.5)
    with pytest.raises(ConfigError, match="weights_dtype"):
        cgan.CganTrainConfig(weights_dtype="int8")
    cgan.main(_config(small_build, vectors, tmp_path / "ca", 1, model={"augmentation": "ca", "pooling": "slots"},
                      wrong_text="random", sample_every=0, attribute_weight=1.0, l1_weight=10.0,
                      omit_rate=0.5, weights_dtype="float16"))  # fmt: skip
    settings = json.loads((tmp_path / "ca" / "config.json").read_text())
    assert settings["omit_rate"] == 0.5
    with safe_open(str(tmp_path / "ca" / "model" / "generator.safetensors"), "pt") as generator:
        dtypes = {name: generator.get_tensor(name).dtype for name in generator.keys()}
    assert dtypes["layers.0.weight"] == torch.float16 and dtypes["condition_mean"] == torch.float32
    with safe_open(str(tmp_path / "ca" / "checkpoint-1" / "model_1.safetensors"), "pt") as discriminator:
        head = discriminator.get_tensor("attribute_head.linear.weight")
    assert head.shape == (ATTRIBUTE_LOGITS, 8 * TINY.d_width * 4 * 4)
    saved = json.loads((tmp_path / "ca" / "model" / "config.json").read_text())
    assert (saved["augmentation"], saved["pooling"], saved["condition_dim"]) == ("ca", "slots", 80)
    painter = load_painter(tmp_path / "ca")
    assert painter.paint(["a small red star on the left"], GenerateConfig(), [0]).shape == (1, 64, 64, 3)


def test_train_cgan_refuses_missing_vectors_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "soundsight", "train", "cgan", "--word-vectors",
                           str(tmp_path / "none.bin"), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("no such file")
    done = subprocess.run([sys.executable, "-m", "soundsight", "train", "cgan", "--omit-rate", "2",
                           "--out", str(tmp_path / "omit")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].endswith("expected a probability from 0 to 1")
    assert not (tmp_path / "omit").exists()


def test_the_shipped_cgan_loads_by_name_and_paints_what_the_verifier_reads() -> None:
    from soundsight.evaluate.image_model import paint_prompts, score_painted

    painter = load_painter("cgan")
    assert isinstance(painter, ShapesWorldPainter) and isinstance(painter.inner, CganPainter)
    assert painter.inner.generator.config.pooling == "slots"
    # the model alone (never painted again): a regression check of the shipped weights and their vectors'
    # standardisation; two words as the keyword route joins them, and a whole caption
    captions = ["a red star"] * 4 + ["a small blue heart on the left on a yellow background"] * 2
    images = paint_prompts(painter.inner, captions, GenerateConfig(seed=0), progress=False)
    verdicts = score_painted(images, captions, [str(i) for i in range(len(captions))]).verdicts
    assert [v.correct for v in verdicts] == [True] * len(captions)
    assert len({v.read["background"] for v in verdicts[:4]}) >= 3  # the free background drawn from each seed
    assert not score_painted(images[:1], ["a blue star"], ["c"]).verdicts[0].correct
