"""Content checks for the held-out sound synthesiser: lengths, levels, SNR and where each class's energy lies."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal, stats

from soundsight.heldout.sounds import (
    LABELS,
    SAMPLE_RATE,
    SCENES,
    HeldOutClip,
    background_noise,
    clip_rng,
    heldout_clips,
    synthesize,
    synthesize_parts,
)

INDICES = range(6)
PEAK_TOLERANCE = 1e-6


def _band_fraction(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Share of the (T,) signal's energy between low_hz and high_hz (inclusive)."""
    freqs = np.fft.rfftfreq(len(x), d=1.0 / SAMPLE_RATE)
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(power[(freqs >= low_hz) & (freqs <= high_hz)].sum() / power.sum())


def _parts(label: str, index: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, float | str]]:
    """The (clean, noise, params) split of clip ``index`` of ``label``."""
    return synthesize_parts(label, clip_rng(label, index, seed))


def test_scenes_match_the_table() -> None:
    assert LABELS == ("bell", "siren", "drum", "whistle", "rain", "chirp")
    assert SCENES == {
        "bell": "a yellow circle",
        "siren": "a red triangle",
        "drum": "a black square",
        "whistle": "a white star",
        "rain": "a blue heart",
        "chirp": "a green cross",
    }


def test_every_clip_is_float32_1_to_4_s_with_peak_in_range() -> None:
    clips = heldout_clips(4, seed=0)
    assert [c.label for c in clips] == [label for label in LABELS for _ in range(4)]
    assert [c.index for c in clips] == list(range(4)) * len(LABELS)
    durations = []
    for clip in clips:
        assert isinstance(clip, HeldOutClip)
        assert clip.scene == SCENES[clip.label]
        wav = clip.waveform
        assert wav.dtype == np.float32 and wav.ndim == 1
        assert np.all(np.isfinite(wav))
        assert 1.0 * SAMPLE_RATE <= len(wav) <= 4.0 * SAMPLE_RATE
        peak = float(np.max(np.abs(wav)))
        assert 0.5 - PEAK_TOLERANCE <= peak <= 0.9 + PEAK_TOLERANCE
        assert peak == pytest.approx(float(clip.params["peak"]), abs=PEAK_TOLERANCE)
        assert clip.params["label"] == clip.label
        durations.append(len(wav))
    assert len(set(durations)) > len(clips) // 2, "durations should be drawn per clip"


def test_same_seed_repeats_and_other_seed_differs() -> None:
    first = heldout_clips(2, seed=3)
    again = heldout_clips(2, seed=3)
    other = heldout_clips(2, seed=4)
    for a, b, c in zip(first, again, other, strict=True):
        assert np.array_equal(a.waveform, b.waveform)
        assert a.params == b.params
        assert a.waveform.shape != c.waveform.shape or not np.array_equal(a.waveform, c.waveform)


def test_any_clip_can_be_remade_alone() -> None:
    clips = heldout_clips(3, seed=7)
    clip = clips[LABELS.index("rain") * 3 + 2]
    assert (clip.label, clip.index) == ("rain", 2)
    wav, params = synthesize("rain", np.random.default_rng([7, LABELS.index("rain"), 2]))
    assert np.array_equal(wav, clip.waveform)
    assert params == clip.params


def test_unknown_label_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="trumpet"):
        synthesize("trumpet", np.random.default_rng(0))
    with pytest.raises(ValueError, match="trumpet"):
        clip_rng("trumpet", 0)


@pytest.mark.parametrize("label", LABELS)
def test_noise_is_added_at_10_to_30_db_snr(label: str) -> None:
    kinds = set()
    for index in INDICES:
        clean, noise, params = _parts(label, index)
        snr = 10.0 * np.log10(np.mean(clean**2) / np.mean(noise**2))
        assert 10.0 - 1e-6 <= snr <= 30.0 + 1e-6
        assert snr == pytest.approx(float(params["snr_db"]), abs=1e-6)
        wav, _ = synthesize(label, clip_rng(label, index))
        assert np.array_equal(wav, (clean + noise).astype(np.float32))
        kinds.add(params["noise"])
    assert kinds <= {"white", "pink"}


def test_pink_noise_leans_low_and_white_is_flat() -> None:
    rng = np.random.default_rng(11)
    white = background_noise("white", 32_000, rng)
    pink = background_noise("pink", 32_000, rng)
    assert np.mean(white**2) == pytest.approx(1.0) and np.mean(pink**2) == pytest.approx(1.0)
    assert _band_fraction(white, 0.0, 1000.0) == pytest.approx(1000.0 / 8000.0, abs=0.03)
    assert _band_fraction(pink, 0.0, 1000.0) > 0.5
    with pytest.raises(ValueError):
        background_noise("brown", 100, rng)


@pytest.mark.parametrize("index", INDICES)
def test_bell_peak_sits_on_a_partial_of_its_f0(index: int) -> None:
    clean, noise, params = _parts("bell", index)
    f0 = float(params["f0_hz"])
    assert 400.0 <= f0 <= 900.0
    x = clean + noise
    freqs = np.fft.rfftfreq(len(x), d=1.0 / SAMPLE_RATE)
    peak_hz = float(freqs[np.argmax(np.abs(np.fft.rfft(x)))])
    assert min(abs(peak_hz - r * f0) / (r * f0) for r in (1.0, 2.0, 3.0, 4.2)) < 0.03
    # the partials carry the energy, and each strike decays: its last tenth is quieter than its first
    bands = sum(_band_fraction(x, 0.97 * r * f0, 1.03 * r * f0) for r in (1.0, 2.0, 3.0, 4.2))
    assert bands > 0.8
    strikes = [float(params[f"strike{k + 1}_s"]) for k in range(int(params["strikes"]))]
    edges = [round(s * SAMPLE_RATE) for s in strikes] + [len(clean)]
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        tenth = (stop - start) // 10
        assert np.mean(clean[stop - tenth : stop] ** 2) < 0.8 * np.mean(clean[start : start + tenth] ** 2)


@pytest.mark.parametrize("index", INDICES)
def test_siren_pitch_stays_between_500_and_1300_hz_and_moves(index: int) -> None:
    clean, noise, params = _parts("siren", index)
    assert 1.0 <= float(params["rate_hz"]) <= 3.0
    freqs, _, z = signal.stft(clean + noise, fs=SAMPLE_RATE, nperseg=512)
    pitch = freqs[np.argmax(np.abs(z), axis=0)][2:-2]  # skip half-empty edge frames
    assert np.mean((pitch >= 500.0) & (pitch <= 1300.0)) > 0.95
    assert np.percentile(pitch, 95) - np.percentile(pitch, 5) > 300.0, "a siren should sweep"
    assert _band_fraction(clean + noise, 500.0, 1300.0) > 0.85


@pytest.mark.parametrize("index", INDICES)
def test_drum_energy_is_mostly_below_300_hz(index: int) -> None:
    clean, noise, params = _parts("drum", index)
    assert 2 <= float(params["thumps"]) <= 4
    assert _band_fraction(clean, 0.0, 300.0) > 0.9
    assert _band_fraction(clean + noise, 0.0, 300.0) > 0.8
    # thumps decay fast: the energy sits in short stretches, not spread over the clip
    frame = SAMPLE_RATE // 50
    energy = np.add.reduceat(clean**2, np.arange(0, len(clean), frame))
    assert np.mean(energy > 0.1 * energy.max()) < 0.5


@pytest.mark.parametrize("index", INDICES)
def test_whistle_energy_is_mostly_between_1_4_and_3_1_khz(index: int) -> None:
    clean, noise, params = _parts("whistle", index)
    f_hz = float(params["f_hz"])
    assert 1500.0 <= f_hz <= 3000.0
    assert float(params["vibrato_depth"]) < 0.02
    x = clean + noise
    assert _band_fraction(x, 1400.0, 3100.0) > 0.85
    assert _band_fraction(x, 0.97 * f_hz, 1.03 * f_hz) > 0.8


@pytest.mark.parametrize("index", INDICES)
def test_rain_is_band_passed_noise_with_clicks(index: int) -> None:
    clean, noise, params = _parts("rain", index)
    low, high = float(params["band_low_hz"]), float(params["band_high_hz"])
    assert low < high
    assert float(params["clicks"]) >= 1
    # the bed: a per-bin median over frames ignores the sparse clicks and leaves the band-passed noise
    freqs, _, z = signal.stft(clean, fs=SAMPLE_RATE, nperseg=256)
    bed = np.median(np.abs(z) ** 2, axis=1)
    in_band = (freqs >= low / 1.5) & (freqs <= high * 1.5)
    assert bed[in_band].sum() / bed.sum() > 0.85
    assert bed[freqs < low / 2.0].sum() / bed.sum() < 0.05
    # clicks make the clean sound heavier-tailed than Gaussian noise (kurtosis 3)
    assert stats.kurtosis(clean, fisher=False) > 3.15
    # and it is noise-like, not tonal: no single bin holds much of the energy
    power = np.abs(np.fft.rfft(clean)) ** 2
    assert power.max() / power.sum() < 0.01


@pytest.mark.parametrize("index", INDICES)
def test_chirp_energy_is_in_2_to_6_khz_and_sweeps_upward(index: int) -> None:
    clean, noise, params = _parts("chirp", index)
    x = clean + noise
    assert _band_fraction(x, 1800.0, 6500.0) > 0.85
    freqs, _, z = signal.stft(x, fs=SAMPLE_RATE, nperseg=128, noverlap=112)
    mag = np.abs(z)
    energy = (mag**2).sum(axis=0)
    active = energy > 0.2 * energy.max()
    steps = np.diff(freqs[np.argmax(mag, axis=0)])
    both = active[1:] & active[:-1]
    rises, falls = int((steps[both] > 0).sum()), int((steps[both] < 0).sum())
    assert rises > 3 * max(falls, 1)
    # bursts: much of the clip is (nearly) silent between them
    assert np.mean(active) < 0.7
