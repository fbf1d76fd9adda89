"""The six synthetic sound classes: what each one sounds like (its spectrum), and the build's sounds/ layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundsight.errors import ConfigError
from soundsight.shapes.build import BuildConfig, BuildReport, build_dataset
from soundsight.shapes.sounds import SYNTHS, plan_sound, read_sounds, render_sound
from soundsight.shapes.spec import SAMPLE_RATE, SOUND_LABELS, SOUND_SCENES, sound_scene_caption

from .conftest import SMALL_COUNTS


def _spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    power = np.abs(np.fft.rfft(x)) ** 2
    return np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE), power


def _share(x: np.ndarray, low: float, high: float) -> float:
    """Share of the clip's power between low and high Hz."""
    freqs, power = _spectrum(x)
    return float(power[(freqs >= low) & (freqs <= high)].sum() / power.sum())


def _peak_hz(x: np.ndarray) -> float:
    freqs, power = _spectrum(x)
    return float(freqs[np.argmax(power)])


@pytest.mark.parametrize("seed", range(5))
def test_each_class_has_the_spectrum_the_spec_describes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2 * SAMPLE_RATE
    clip = {label: synth(n, np.random.default_rng(rng.integers(2**31))) for label, synth in SYNTHS.items()}
    assert 400 <= _peak_hz(clip["bell"]) <= 4.2 * 900 and _share(clip["bell"], 380, 3900) > 0.95
    assert _share(clip["siren"], 540, 1320) > 0.95
    assert _share(clip["drum"], 0, 400) > 0.5  # low thumps, plus a broadband burst
    assert 1500 <= _peak_hz(clip["whistle"]) <= 3100 and _share(clip["whistle"], 1450, 6200) > 0.95
    assert _share(clip["chirp"], 1900, 6100) > 0.9
    assert _share(clip["rain"], 250, 7100) > 0.9 and _share(clip["rain"], 0, 250) < 0.05
    siren_track = [_peak_hz(clip["siren"][i : i + 1600]) for i in range(0, n - 1600, 1600)]
    assert max(siren_track) - min(siren_track) > 300  # it sweeps
    whistle_track = [_peak_hz(clip["whistle"][i : i + 3200]) for i in range(0, n - 3200, 3200)]
    assert max(whistle_track) - min(whistle_track) < 0.05 * np.mean(whistle_track)  # only slight vibrato


def test_plans_are_balanced_seeded_and_within_the_spec() -> None:
    plans = [plan_sound(0, "train", i) for i in range(60)]
    assert [p.label for p in plans[:6]] == list(SOUND_LABELS)
    assert {p.label: sum(q.label == p.label for q in plans) for p in plans} == dict.fromkeys(SOUND_LABELS, 10)
    assert plans == [plan_sound(0, "train", i) for i in range(60)]
    assert plans[0] != plan_sound(1, "train", 0) and plans[0] != plan_sound(0, "test", 0)
    for plan in plans:
        x = render_sound(plan)
        assert 1.0 <= plan.duration_s <= 4.0 and len(x) == int(plan.duration_s * SAMPLE_RATE)
        assert 10 <= plan.snr_db <= 30 and plan.noise in ("white", "pink")
        assert x.dtype == np.float32 and np.abs(x).max() == pytest.approx(plan.peak, abs=1e-4)
    assert len({p.duration_s for p in plans}) > 40  # every parameter varies per clip


def test_every_sound_is_bound_to_its_scene() -> None:
    assert sound_scene_caption("bell") == "a yellow circle" and sound_scene_caption("chirp") == "a green cross"
    assert len({scene for scene in SOUND_SCENES.values()}) == 6


def test_the_build_writes_sounds_with_their_metadata(small_build: BuildReport) -> None:
    for split in ("train", "val", "test"):
        folder = small_build.out / "sounds" / split
        rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
        assert len(rows) == SMALL_COUNTS[split]
        for row in rows:
            assert {"file_name", "label", "scene"} <= set(row) and row["scene"] == sound_scene_caption(row["label"])
            info = sf.info(folder / row["file_name"])
            assert (info.samplerate, info.channels, info.subtype) == (SAMPLE_RATE, 1, "PCM_16")
    assert not (small_build.out / "sounds" / "novel").exists()
    clips = read_sounds(small_build.out, "test", limit=3)
    assert [c.label for c in clips] == ["bell", "siren", "drum"] and clips[0].waveform.dtype == np.float32


def test_sound_counts_can_differ_from_the_scene_counts(tmp_path: Path) -> None:
    build_dataset(BuildConfig(out=tmp_path / "set", train=0, val=0, test=1, novel=0, sounds_train=7, sounds_val=0,
                              progress=False))  # fmt: skip
    assert len(list((tmp_path / "set" / "sounds" / "train").glob("*.wav"))) == 7
    assert len(list((tmp_path / "set" / "sounds" / "test").glob("*.wav"))) == 1
    with pytest.raises(ConfigError, match=r"^--sounds-val -1: a count cannot be negative$"):
        BuildConfig(out=tmp_path / "x", sounds_val=-1)
    with pytest.raises(ConfigError, match="no sounds/val/metadata.jsonl"):
        read_sounds(tmp_path / "nothing", "val")
