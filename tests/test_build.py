import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from soundsight.errors import OutputExistsError
from soundsight.shapes.build import BuildConfig, BuildReport, build_dataset
from soundsight.shapes.captions import parse_caption
from soundsight.shapes.spec import HELD_OUT, TEST_VOICES

from .conftest import SMALL_COUNTS

SCENE_KEYS = {"file_name", "caption", "shape", "color", "size", "position", "background"}
SPEECH_KEYS = {"file_name", "text", "caption", "voice", "snr_db", "scene"}


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def test_layout_and_metadata(small_build: BuildReport) -> None:
    root = small_build.out
    assert small_build.failures == [] and small_build.written == sum(SMALL_COUNTS.values())
    for split, n in SMALL_COUNTS.items():
        scenes = _rows(root / "scenes" / split / "metadata.jsonl")
        speech = _rows(root / "speech" / split / "metadata.jsonl")
        assert len(scenes) == len(speech) == n == len(list((root / "scenes" / split).glob("*.png")))
        for scene, clip in zip(scenes, speech, strict=True):
            assert set(scene) >= SCENE_KEYS and set(clip) >= SPEECH_KEYS
            assert clip["caption"] == scene["caption"] and clip["text"].endswith(scene["caption"])
            assert clip["scene"] == f"scenes/{split}/{scene['file_name']}"
            spec = parse_caption(scene["caption"])
            assert (spec.shape, spec.color) == (scene["shape"], scene["color"])
            assert ((scene["color"], scene["shape"]) in HELD_OUT) == (split == "novel")
            assert (clip["voice"] in TEST_VOICES) == (split in ("test", "novel"))
            with Image.open(root / clip["scene"]) as image:
                assert image.size == (64, 64) and image.mode == "RGB"
            info = sf.info(str(root / "speech" / split / clip["file_name"]))
            assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
    test_clips = _rows(root / "speech" / "test" / "metadata.jsonl")
    assert {c["snr_db"] is None for c in test_clips} == {True, False}
    subject = _rows(root / "subject" / "metadata.jsonl")
    assert len(subject) == 5 and all(row["instance_prompt"] == "a sks heart" for row in subject)
    assert json.loads((root / "build.json").read_text())["seed"] == 3


def test_loads_with_datasets_imagefolder(small_build: BuildReport) -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset("imagefolder", data_dir=str(small_build.out / "scenes"))
    assert ds["train"].num_rows == SMALL_COUNTS["train"] and ds["test"].num_rows == SMALL_COUNTS["test"]
    row = ds["train"][0]
    first = _rows(small_build.out / "scenes" / "train" / "metadata.jsonl")[0]
    assert row["caption"] == first["caption"] and row["image"].size == (64, 64)
    novel = datasets.load_dataset("imagefolder", data_files={"novel": str(small_build.out / "scenes" / "novel" / "**")})
    assert {(r["color"], r["shape"]) for r in novel["novel"]} <= HELD_OUT


def test_same_seed_same_bytes_and_interrupted_builds_resume(small_build: BuildReport, tmp_path: Path) -> None:
    out = tmp_path / "again"
    config = BuildConfig(out=out, seed=3, workers=1, progress=False, **SMALL_COUNTS)
    build_dataset(config)
    assert _digest(out) == _digest(small_build.out)
    # interrupt: files lost mid-way and a temporary left behind
    for path in [
        *sorted((out / "scenes" / "train").glob("*.png"))[:5],
        *sorted((out / "speech" / "test").glob("*.wav"))[:3],
    ]:
        path.unlink()
    (out / "scenes" / "train" / ".000000.png.123.tmp").write_bytes(b"partial")
    report = build_dataset(config)
    assert report.written == 8 and report.reused == sum(SMALL_COUNTS.values()) - 8
    assert _digest(out) == _digest(small_build.out)


def test_a_smaller_count_leaves_exactly_that_many(small_build: BuildReport, tmp_path: Path) -> None:
    out = tmp_path / "grow"
    build_dataset(BuildConfig(out=out, train=6, val=0, test=3, novel=0, seed=3, progress=False))
    report = build_dataset(BuildConfig(out=out, train=4, val=0, test=3, novel=0, seed=3, progress=False))
    assert report.reused == 7 and len(list((out / "scenes" / "train").glob("*.png"))) == 4
    assert len(_rows(out / "speech" / "train" / "metadata.jsonl")) == 4


def test_another_seed_or_a_foreign_folder_is_not_overwritten(small_build: BuildReport, tmp_path: Path) -> None:
    with pytest.raises(OutputExistsError, match="holds a build with seed 3"):
        build_dataset(BuildConfig(out=small_build.out, train=1, val=0, test=0, novel=0, seed=4, progress=False))
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="is not a Spoken Shapes build"):
        build_dataset(BuildConfig(out=foreign, train=1, val=0, test=0, novel=0, progress=False))
    assert (foreign / "holiday.jpg").read_bytes() == b"x"


def test_force_replaces_a_build_of_another_seed(tmp_path: Path) -> None:
    out = tmp_path / "set"
    build_dataset(BuildConfig(out=out, train=2, val=0, test=0, novel=0, seed=1, progress=False))
    first = np.asarray(Image.open(out / "scenes" / "train" / "000000.png"))
    build_dataset(BuildConfig(out=out, train=2, val=0, test=0, novel=0, seed=2, force=True, progress=False))
    assert json.loads((out / "build.json").read_text())["seed"] == 2
    assert not np.array_equal(first, np.asarray(Image.open(out / "scenes" / "train" / "000000.png")))
