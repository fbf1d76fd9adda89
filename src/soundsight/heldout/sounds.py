"""Held-out synthesiser of the six Spoken Shapes sound classes, for evaluation only.

Its job is to make sounds that no training generator made, so that a model can be scored on data
"made by someone else". It was written from the text of the sound-class specification alone
(the table of six classes, their recipes and scenes, and the clip-level rules), without reading
any other implementation; every loose word in that text is given this module's own reading:

* bell: 1-2 strikes, each a sum of partials at exactly 1, 2, 3 and 4.2 x f0 (f0 400-900 Hz) with
  random amplitudes, random phases and exponential decays that shorten for the higher partials.
* siren: one pure sine whose frequency moves between a low end of 560-650 Hz and a high end of
  1130-1240 Hz, 1-3 sweeps a second, with a sine, triangle or rising-sawtooth sweep shape.
* drum: 2-4 thumps, each a sine of 60-120 Hz with a short downward pitch glide from up to 1.4x
  that, amplitude decay constant 40-150 ms, and a high-passed (0.8-2.5 kHz) noise burst at its
  attack with a 4-25 ms decay constant and 10-35 % of the thump's level.
* whistle: a sine of 1.5-3 kHz, vibrato at 4-7 Hz with 0.2-1.2 % depth, light tremolo and a
  soft attack and release.
* rain: white noise through a Butterworth band-pass (order 2-4, low edge 300-1500 Hz, 1.5-4
  octaves wide, top at most 7.2 kHz), plus Poisson-timed "droplet" clicks (5-40 a second, peaks
  about 4-9x the bed RMS), each a 1-6 kHz sine ring damped in 0.8-4 ms.
* chirp: 1-4 bursts, each of 2-6 sweeps rising from 2-3 kHz to 4.5-6 kHz in 8-35 ms (linear or
  exponential), separated by 5-30 ms, with silence between the bursts.

Every clip lasts 1-4 s at 16 kHz, gets white or pink background noise at 10-30 dB SNR (measured
against the mean power of the clean sound over the whole clip), and is scaled so that its peak
absolute sample is 0.5-0.9. Every one of these numbers is drawn anew for each clip, from a
numpy Generator handed in (never the global random state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import signal

SAMPLE_RATE = 16_000
LABELS = ("bell", "siren", "drum", "whistle", "rain", "chirp")
SCENES: dict[str, str] = {
    "bell": "a yellow circle",
    "siren": "a red triangle",
    "drum": "a black square",
    "whistle": "a white star",
    "rain": "a blue heart",
    "chirp": "a green cross",
}

DURATION_RANGE_S = (1.0, 4.0)
SNR_RANGE_DB = (10.0, 30.0)
PEAK_RANGE = (0.5, 0.9)
NOISE_KINDS = ("white", "pink")
EDGE_FADE_S = 0.005

BELL_RATIOS = (1.0, 2.0, 3.0, 4.2)
BELL_F0_RANGE_HZ = (400.0, 900.0)
SIREN_LOW_RANGE_HZ = (560.0, 650.0)
SIREN_HIGH_RANGE_HZ = (1130.0, 1240.0)
SIREN_RATE_RANGE_HZ = (1.0, 3.0)
SIREN_SHAPES = ("sine", "triangle", "saw")
DRUM_HIT_RANGE_HZ = (60.0, 120.0)
DRUM_THUMPS_RANGE = (2, 4)
WHISTLE_RANGE_HZ = (1500.0, 3000.0)
RAIN_CLICK_RATE_RANGE_HZ = (5.0, 40.0)
CHIRP_LOW_RANGE_HZ = (2000.0, 3000.0)
CHIRP_HIGH_RANGE_HZ = (4500.0, 6000.0)

Params = dict[str, float | str]


@dataclass(frozen=True)
class HeldOutClip:
    """One held-out clip and what it was drawn from.

    ``waveform`` is a (T,) float32 array in [-1, 1] at ``SAMPLE_RATE``; ``params`` holds the drawn
    parameters (frequencies in Hz, times in s, levels in dB or linear amplitude) for reports.
    """

    label: str
    index: int
    waveform: np.ndarray
    params: Params

    @property
    def scene(self) -> str:
        """The scene caption this clip's sound should produce."""
        return SCENES[self.label]


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """One draw, uniform in [bounds[0], bounds[1]]."""
    return float(rng.uniform(bounds[0], bounds[1]))


def _time_axis(n_samples: int) -> np.ndarray:
    """(n_samples,) float64 sample times in seconds."""
    return np.arange(n_samples, dtype=np.float64) / SAMPLE_RATE


def _phase_from_frequency(freq_hz: np.ndarray, start_phase: float = 0.0) -> np.ndarray:
    """Integrate an instantaneous frequency (Hz per sample) into a phase in radians, same shape."""
    return start_phase + 2.0 * np.pi * np.cumsum(freq_hz) / SAMPLE_RATE


def _edge_fade(x: np.ndarray, fade_s: float = EDGE_FADE_S) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``fade_s`` seconds on a (T,) array; returns a new array."""
    n = min(int(round(fade_s * SAMPLE_RATE)), len(x) // 2)
    out = x.copy()
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
        out[:n] *= ramp
        out[len(out) - n :] *= ramp[::-1]
    return out


def _bell(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """Struck bell: partials at 1, 2, 3, 4.2 x f0 with their own exponential decays. Returns (n,) float64."""
    t = _time_axis(n)
    duration = n / SAMPLE_RATE
    f0 = _uniform(rng, BELL_F0_RANGE_HZ)
    tau0 = _uniform(rng, (0.4, 1.6))
    decay_exponent = _uniform(rng, (0.4, 1.0))
    n_strikes = int(rng.integers(1, 3))
    params: Params = {"f0_hz": f0, "decay_s": tau0, "decay_exponent": decay_exponent, "strikes": float(n_strikes)}
    amps = [1.0] + [float(rng.uniform(0.15, 0.8)) for _ in BELL_RATIOS[1:]]
    for ratio, amp in zip(BELL_RATIOS, amps, strict=True):
        params[f"partial_{ratio:g}_amp"] = amp
    onsets = [_uniform(rng, (0.0, 0.08))]
    if n_strikes == 2:
        onsets.append(_uniform(rng, (0.35 * duration, 0.7 * duration)))
    out = np.zeros(n)
    for k, onset in enumerate(onsets):
        strike_gain = 1.0 if k == 0 else float(rng.uniform(0.5, 1.0))
        params[f"strike{k + 1}_s"] = onset
        local = t - onset
        active = local >= 0.0
        for ratio, amp in zip(BELL_RATIOS, amps, strict=True):
            tau = tau0 / ratio**decay_exponent
            phase = float(rng.uniform(0.0, 2.0 * np.pi))
            tone = np.sin(2.0 * np.pi * f0 * ratio * local[active] + phase)
            out[active] += strike_gain * amp * tone * np.exp(-local[active] / tau)
    return out, params


def _sweep_shape(kind: str, cycles: np.ndarray) -> np.ndarray:
    """Periodic shape in [0, 1] of ``cycles`` (float array, one period per unit), same shape."""
    frac = np.mod(cycles, 1.0)
    if kind == "sine":
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * frac)
    if kind == "triangle":
        return 1.0 - np.abs(2.0 * frac - 1.0)
    # saw: a rise over most of the period, then a quick (20 %) fall so the pitch does not jump
    rise = 0.8
    return np.where(frac < rise, frac / rise, (1.0 - frac) / (1.0 - rise))


def _siren(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """Pure sine whose frequency sweeps between a low and a high end 1-3 times a second. Returns (n,) float64."""
    t = _time_axis(n)
    low = _uniform(rng, SIREN_LOW_RANGE_HZ)
    high = _uniform(rng, SIREN_HIGH_RANGE_HZ)
    rate = _uniform(rng, SIREN_RATE_RANGE_HZ)
    shape = str(rng.choice(SIREN_SHAPES))
    start_cycle = float(rng.uniform(0.0, 1.0))
    freq = low + (high - low) * _sweep_shape(shape, start_cycle + rate * t)
    out = np.sin(_phase_from_frequency(freq, float(rng.uniform(0.0, 2.0 * np.pi))))
    params: Params = {"low_hz": low, "high_hz": high, "rate_hz": rate, "shape": shape, "start_cycle": start_cycle}
    return out, params


def _drum(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """2-4 low thumps with a pitch glide and a noise burst at each attack. Returns (n,) float64."""
    duration = n / SAMPLE_RATE
    n_thumps = int(rng.integers(DRUM_THUMPS_RANGE[0], DRUM_THUMPS_RANGE[1] + 1))
    # onsets: sorted uniform draws over the first part of the clip, then pushed apart by at least 120 ms
    latest = max(duration - 0.3, 0.2)
    onsets = np.sort(rng.uniform(0.0, latest, size=n_thumps))
    for k in range(1, n_thumps):
        onsets[k] = max(onsets[k], onsets[k - 1] + 0.12)
    burst_sos = signal.butter(2, _uniform(rng, (800.0, 2500.0)), btype="highpass", fs=SAMPLE_RATE, output="sos")
    params: Params = {"thumps": float(n_thumps)}
    out = np.zeros(n)
    for k, onset in enumerate(onsets):
        start = int(round(onset * SAMPLE_RATE))
        if start >= n:
            break
        m = n - start
        local = _time_axis(m)
        hit_hz = _uniform(rng, DRUM_HIT_RANGE_HZ)
        glide = _uniform(rng, (1.0, 1.4))
        glide_s = _uniform(rng, (0.01, 0.04))
        decay_s = _uniform(rng, (0.04, 0.15))
        gain = _uniform(rng, (0.6, 1.0))
        freq = hit_hz * (1.0 + (glide - 1.0) * np.exp(-local / glide_s))
        thump = np.sin(_phase_from_frequency(freq)) * np.exp(-local / decay_s)
        burst_s = _uniform(rng, (0.004, 0.025))
        burst_level = _uniform(rng, (0.1, 0.35))
        burst_len = min(m, int(round(5.0 * burst_s * SAMPLE_RATE)))
        burst = signal.sosfilt(burst_sos, rng.standard_normal(burst_len))
        burst *= burst_level * np.exp(-local[:burst_len] / burst_s) / (np.max(np.abs(burst)) + 1e-12)
        out[start:] += gain * thump
        out[start : start + burst_len] += gain * burst
        params.update(
            {
                f"thump{k + 1}_s": float(onset),
                f"thump{k + 1}_hz": hit_hz,
                f"thump{k + 1}_glide": glide,
                f"thump{k + 1}_decay_s": decay_s,
                f"thump{k + 1}_burst_s": burst_s,
                f"thump{k + 1}_burst_level": burst_level,
            }
        )
    return out, params


def _whistle(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """Steady 1.5-3 kHz sine with slight vibrato, light tremolo and soft edges. Returns (n,) float64."""
    t = _time_axis(n)
    duration = n / SAMPLE_RATE
    f_hz = _uniform(rng, WHISTLE_RANGE_HZ)
    vib_rate = _uniform(rng, (4.0, 7.0))
    vib_depth = _uniform(rng, (0.002, 0.012))
    trem_depth = _uniform(rng, (0.0, 0.1))
    trem_rate = _uniform(rng, (2.0, 6.0))
    attack_s = _uniform(rng, (0.02, 0.1))
    release_s = _uniform(rng, (0.03, 0.15))
    freq = f_hz * (1.0 + vib_depth * np.sin(2.0 * np.pi * vib_rate * t + float(rng.uniform(0.0, 2.0 * np.pi))))
    tone = np.sin(_phase_from_frequency(freq, float(rng.uniform(0.0, 2.0 * np.pi))))
    envelope = 1.0 - trem_depth * (0.5 - 0.5 * np.cos(2.0 * np.pi * trem_rate * t))
    envelope *= np.clip(t / attack_s, 0.0, 1.0) * np.clip((duration - t) / release_s, 0.0, 1.0)
    params: Params = {
        "f_hz": f_hz,
        "vibrato_hz": vib_rate,
        "vibrato_depth": vib_depth,
        "tremolo_hz": trem_rate,
        "tremolo_depth": trem_depth,
        "attack_s": attack_s,
        "release_s": release_s,
    }
    return tone * envelope, params


def _rain(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """Band-passed noise plus Poisson-timed droplet clicks (damped rings). Returns (n,) float64."""
    duration = n / SAMPLE_RATE
    order = int(rng.integers(2, 5))
    low_hz = _uniform(rng, (300.0, 1500.0))
    octaves = _uniform(rng, (1.5, 4.0))
    high_hz = min(low_hz * 2.0**octaves, 7200.0)
    sos = signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    bed = signal.sosfilt(sos, rng.standard_normal(n))
    bed /= np.sqrt(np.mean(bed**2)) + 1e-12
    click_rate = _uniform(rng, RAIN_CLICK_RATE_RANGE_HZ)
    click_to_bed = _uniform(rng, (4.0, 9.0))  # click peak over bed RMS
    n_clicks = max(1, int(rng.poisson(click_rate * duration)))
    out = bed.copy()
    for _ in range(n_clicks):
        start = int(rng.integers(0, max(n - 16, 1)))
        ring_hz = _uniform(rng, (1000.0, 6000.0))
        ring_s = _uniform(rng, (0.0008, 0.004))
        length = min(n - start, int(round(6.0 * ring_s * SAMPLE_RATE)) + 1)
        local = _time_axis(length)
        amp = click_to_bed * float(rng.lognormal(0.0, 0.4))
        out[start : start + length] += amp * np.sin(2.0 * np.pi * ring_hz * local) * np.exp(-local / ring_s)
    params: Params = {
        "band_low_hz": low_hz,
        "band_high_hz": high_hz,
        "filter_order": float(order),
        "click_rate_hz": click_rate,
        "clicks": float(n_clicks),
        "click_to_bed": click_to_bed,
    }
    return out, params


def _chirp(n: int, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """1-4 bursts of 2-6 fast upward sweeps from 2-3 kHz to 4.5-6 kHz. Returns (n,) float64."""
    duration = n / SAMPLE_RATE
    sweeps_per_burst = int(rng.integers(2, 7))
    sweep_s = _uniform(rng, (0.008, 0.035))
    gap_s = _uniform(rng, (0.005, 0.03))
    low_hz = _uniform(rng, CHIRP_LOW_RANGE_HZ)
    high_hz = _uniform(rng, CHIRP_HIGH_RANGE_HZ)
    method = str(rng.choice(("linear", "exponential")))
    burst_s = sweeps_per_burst * (sweep_s + gap_s)
    # 1-4 bursts, but never more than fit one after another with 50 ms of silence between them
    n_bursts = max(1, min(int(rng.integers(1, 5)), int(duration // (burst_s + 0.05))))
    slot_s = duration / n_bursts
    sweep_len = int(round(sweep_s * SAMPLE_RATE))
    local = _time_axis(sweep_len)
    if method == "linear":
        freq = low_hz + (high_hz - low_hz) * local / sweep_s
    else:
        freq = low_hz * (high_hz / low_hz) ** (local / sweep_s)
    window = signal.windows.tukey(sweep_len, alpha=0.5)
    out = np.zeros(n)
    for b in range(n_bursts):
        # each burst sits at a random place inside its own share of the clip
        burst_start_s = b * slot_s + float(rng.uniform(0.0, max(slot_s - burst_s, 0.0)))
        burst_gain = _uniform(rng, (0.6, 1.0))
        for s in range(sweeps_per_burst):
            start = int(round((burst_start_s + s * (sweep_s + gap_s)) * SAMPLE_RATE))
            if start + sweep_len > n:
                break
            sweep = np.sin(_phase_from_frequency(freq, float(rng.uniform(0.0, 2.0 * np.pi))))
            out[start : start + sweep_len] += burst_gain * window * sweep
    params: Params = {
        "bursts": float(n_bursts),
        "sweeps_per_burst": float(sweeps_per_burst),
        "sweep_s": sweep_s,
        "gap_s": gap_s,
        "low_hz": low_hz,
        "high_hz": high_hz,
        "method": method,
    }
    return out, params


_MAKERS: dict[str, Callable[[int, np.random.Generator], tuple[np.ndarray, Params]]] = {
    "bell": _bell,
    "siren": _siren,
    "drum": _drum,
    "whistle": _whistle,
    "rain": _rain,
    "chirp": _chirp,
}


def background_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) float64 background noise with unit mean power: "white" (flat) or "pink" (power ~ 1/f)."""
    white = rng.standard_normal(n)
    if kind == "white":
        noise = white
    elif kind == "pink":
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n, d=1.0 / SAMPLE_RATE)
        shaping = np.zeros_like(freqs)
        shaping[1:] = 1.0 / np.sqrt(np.maximum(freqs[1:], 20.0))  # flat below 20 Hz, no DC
        noise = np.fft.irfft(spectrum * shaping, n=n)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {NOISE_KINDS}")
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def synthesize_parts(label: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Params]:
    """Draw one clip of ``label`` and return its (clean, noise, params) split.

    ``clean`` and ``noise`` are (T,) float64 arrays already scaled by the final gain, so
    ``clean + noise`` is the clip (peak at ``params["peak"]``) and their power ratio is
    ``params["snr_db"]``. T = round(``params["duration_s"]`` * SAMPLE_RATE).
    """
    maker = _MAKERS.get(label)
    if maker is None:
        raise ValueError(f"unknown sound label {label!r}; expected one of {LABELS}")
    duration_s = _uniform(rng, DURATION_RANGE_S)
    n = int(round(duration_s * SAMPLE_RATE))
    clean, class_params = maker(n, rng)
    clean = _edge_fade(clean)
    clean /= np.max(np.abs(clean)) + 1e-12
    noise_kind = str(rng.choice(NOISE_KINDS))
    snr_db = _uniform(rng, SNR_RANGE_DB)
    peak = _uniform(rng, PEAK_RANGE)
    clean_power = float(np.mean(clean**2))
    noise = background_noise(noise_kind, n, rng) * np.sqrt(clean_power / 10.0 ** (snr_db / 10.0))
    gain = peak / float(np.max(np.abs(clean + noise)))
    params: Params = {
        "label": label,
        "duration_s": n / SAMPLE_RATE,
        "noise": noise_kind,
        "snr_db": snr_db,
        "peak": peak,
    }
    params.update(class_params)
    return clean * gain, noise * gain, params


def synthesize(label: str, rng: np.random.Generator) -> tuple[np.ndarray, Params]:
    """Draw one clip of ``label``: a (T,) float32 waveform at SAMPLE_RATE, 1-4 s long, and its parameters.

    The waveform holds the class's sound plus white or pink noise at 10-30 dB SNR, scaled so its
    peak absolute value is the drawn ``params["peak"]`` in [0.5, 0.9]. Raises ValueError for an
    unknown label.
    """
    clean, noise, params = synthesize_parts(label, rng)
    return (clean + noise).astype(np.float32), params


def clip_rng(label: str, index: int, seed: int = 0) -> np.random.Generator:
    """The generator that clip ``index`` of ``label`` is drawn from, so any one clip can be remade alone."""
    if label not in LABELS:
        raise ValueError(f"unknown sound label {label!r}; expected one of {LABELS}")
    return np.random.default_rng([seed, LABELS.index(label), index])


def heldout_clips(per_class: int, seed: int = 0) -> list[HeldOutClip]:
    """``per_class`` clips of every label in LABELS order; clip i of label L uses default_rng([seed, L's index, i])."""
    clips: list[HeldOutClip] = []
    for label in LABELS:
        for i in range(per_class):
            waveform, params = synthesize(label, clip_rng(label, i, seed))
            clips.append(HeldOutClip(label=label, index=i, waveform=waveform, params=params))
    return clips
