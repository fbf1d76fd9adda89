"""The wider readings of the spec's sound table the adapter may train on: still each class, past our ranges."""

from __future__ import annotations

import numpy as np
import pytest

from soundsight.shapes.spec import SAMPLE_RATE, SOUND_LABELS
from soundsight.train.sound_variety import RECIPES, varied_sounds

from .test_sounds import _peak_hz, _share


@pytest.mark.parametrize("seed", range(6))
def test_each_recipe_still_sounds_like_its_class(seed: int) -> None:
    n = 2 * SAMPLE_RATE
    clip = {label: RECIPES[label](n, np.random.default_rng([seed, i])) for i, label in enumerate(SOUND_LABELS)}
    assert 290 <= _peak_hz(clip["bell"]) <= 4.3 * 1100 and _share(clip["bell"], 280, 7900) > 0.95
    assert _share(clip["drum"], 0, 500) > 0.3  # low thumps, plus a burst of any colour
    assert 1150 <= _peak_hz(clip["whistle"]) <= 3650
    assert _share(clip["chirp"], 1400, 7900) > 0.9
    assert _share(clip["rain"], 120, 7900) > 0.9
    siren_track = [_peak_hz(clip["siren"][i : i + 1600]) for i in range(0, n - 1600, 1600)]
    assert 440 <= min(siren_track) and max(siren_track) <= 1560 and max(siren_track) - min(siren_track) > 150
    whistle_track = [_peak_hz(clip["whistle"][i : i + 3200]) for i in range(0, n - 3200, 3200)]
    assert max(whistle_track) - min(whistle_track) < 0.1 * np.mean(whistle_track)  # a steady tone


def test_varied_sounds_take_turns_and_repeat_for_a_seed() -> None:
    clips, labels = varied_sounds(24, seed=3)
    assert labels == list(SOUND_LABELS) * 4
    again, _ = varied_sounds(24, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(clips, again, strict=True))
    other, _ = varied_sounds(24, seed=4)
    assert not np.array_equal(clips[0], other[0])
    for clip in clips:
        assert clip.dtype == np.float32 and np.isfinite(clip).all()
        assert 0.8 * SAMPLE_RATE <= len(clip) <= 4.5 * SAMPLE_RATE
        assert 0.3 - 1e-6 <= np.abs(clip).max() <= 0.95 + 1e-6
