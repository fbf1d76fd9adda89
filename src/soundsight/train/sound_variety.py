"""The spec's six sound classes as other synthesisers of its table might make them, for training only.

The spec's table says each class in a line ("a sine sweeping between about 600 and 1200 Hz"); our
own synthesiser (shapes/sounds.py) reads each line one way. Here every reading we could think of is
drawn instead: each recipe's parameters go past the table's "about" limits, its envelopes, partials,
filters, click kinds and sweep curves vary, and the clip-level noise, level and length go beyond the
spec's ranges. The adapter and its gate learn the classes from both, so that a third synthesiser's
sounds are no surprise. (Our held-out synthesiser, soundsight.heldout, is never drawn from here.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.signal import butter, iirpeak, lfilter, sosfilt

from soundsight.shapes.spec import SAMPLE_RATE, SOUND_LABELS
from soundsight.shapes.speech import active_power
from soundsight.train.sound_widening import colored_noise

NYQUIST_MARGIN_HZ = 7800.0


def _t(n: int) -> np.ndarray:
    return np.arange(n) / SAMPLE_RATE


def _sine(freq_hz: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A sine following `freq_hz` sample by sample, from a random phase."""
    return np.sin(2 * np.pi * np.cumsum(freq_hz) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi))


def _fades(n: int, rng: np.random.Generator, longest_s: float = 0.3) -> np.ndarray:
    """A rise and fall of random lengths (linear, raised-cosine or none)."""
    t = _t(n)
    attack, release = rng.uniform(0.0005, longest_s, 2)
    rise, fall = np.clip(t / attack, 0, 1), np.clip((t[-1] - t) / release, 0, 1)
    if rng.random() < 0.5:
        rise, fall = (1 - np.cos(np.pi * rise)) / 2, (1 - np.cos(np.pi * fall)) / 2
    return rise * fall


def _sweep_shape(phase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0-1 as `phase` (in cycles) goes: sine, triangle, rising or falling saw, or a rounded square."""
    kind = int(rng.integers(5))
    frac = phase % 1.0
    if kind == 0:
        return (1 - np.cos(2 * np.pi * phase)) / 2
    if kind == 1:
        return 1 - np.abs(2 * frac - 1)
    if kind == 2:
        return frac
    if kind == 3:
        return 1 - frac
    return 0.5 + 0.5 * np.tanh(4 * np.sin(2 * np.pi * phase))


def bell(n: int, rng: np.random.Generator) -> np.ndarray:
    f0, t, x = rng.uniform(300, 1100), _t(n), np.zeros(n)
    ratios = np.array([1.0, 2.0, 3.0, 4.2]) * (1 + rng.uniform(-0.02, 0.02, 4))
    if rng.random() < 0.4:  # a few weak inharmonic partials above
        ratios = np.concatenate([ratios, rng.uniform(4.5, 8.0, int(rng.integers(1, 4)))])
    base_decay = rng.uniform(0.15, 3.0)
    strikes = np.sort(rng.uniform(0, 0.7 * t[-1], int(rng.choice([1, 1, 2, 3]))))
    strikes[0] = rng.uniform(0, 0.1)
    for strike in strikes:
        local, on = np.clip(t - strike, 0, None), t >= strike
        hit = rng.uniform(0.5, 1.0)
        for k, ratio in enumerate(ratios):
            if f0 * ratio >= NYQUIST_MARGIN_HZ:
                continue
            decay = base_decay * rng.uniform(0.5, 1.5) / (1 + rng.uniform(0.2, 1.2) * k)
            amp = rng.uniform(0.2, 1.0) / (1 + rng.uniform(0.3, 1.5) * k)
            beats = rng.random() < 0.3
            beat = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * rng.uniform(0.5, 6) * local) if beats else 1
            attack = np.clip(local / rng.uniform(0.0003, 0.01), 0, 1)
            x += (
                on
                * hit
                * amp
                * attack
                * beat
                * np.exp(-local / decay)
                * np.sin(2 * np.pi * f0 * ratio * local + rng.uniform(0, 2 * np.pi))
            )
    return x


def siren(n: int, rng: np.random.Generator) -> np.ndarray:
    """A sweep between a low and a high pitch: cycling at 0.3-8 Hz (wails to yelps, or a two-tone hi-lo), or
    one slow glide across the clip, as a mechanical siren winds up or down; sine-like or rich in harmonics."""
    t = _t(n)
    low, high = rng.uniform(450, 800), rng.uniform(950, 1500)
    if rng.random() < 0.3:  # one glide: up, down, or up then down, over the whole clip
        start, end = (low, high) if rng.random() < 0.5 else (high, low)
        span = rng.uniform(0.5, 1.0)
        frac = (t / t[-1]) ** rng.uniform(0.5, 2.0)
        if rng.random() < 0.3:
            frac = 1 - np.abs(2 * frac - 1)
        freq = start + (end - start) * span * frac
    else:
        rate = float(np.exp(rng.uniform(np.log(0.3), np.log(8.0))))
        rate_drift = 1 + rng.uniform(-0.2, 0.2) * t / t[-1]
        shape = _sweep_shape(np.cumsum(rate * rate_drift) / SAMPLE_RATE + rng.uniform(0, 1), rng)
        freq = low + (high - low) * shape
    if rng.random() < 0.3:  # a slow Doppler-like drift of the whole sweep
        freq = freq * (1 + rng.uniform(-0.08, 0.08) * t / t[-1])
    x = _sine(freq, rng)
    odd_only = rng.random() < 0.3  # square-ish, as a horn or a rotor siren has
    for k in range(2, 2 + int(rng.integers(0, 6))):
        if high * k < NYQUIST_MARGIN_HZ and not (odd_only and k % 2 == 0):
            x = x + rng.uniform(0.02, 0.8) / k * _sine(freq * k, rng)
    return x * _fades(n, rng, 0.2)


def drum(n: int, rng: np.random.Generator) -> np.ndarray:
    t, x = _t(n), np.zeros(n)
    beats = int(rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 6]))
    starts = np.sort(rng.uniform(0, max(t[-1] - 0.2, 0.01), beats))
    for start in starts:
        i = int(start * SAMPLE_RATE)
        local = t[: n - i]
        glide, glide_s = rng.uniform(0.0, 1.2), rng.uniform(0.005, 0.08)
        f = rng.uniform(40, 160) * (1 + glide * np.exp(-local / glide_s))
        body = np.exp(-local / rng.uniform(0.03, 0.35)) * _sine(f, rng)
        if rng.random() < 0.3:  # a second, higher body mode
            level, decay = rng.uniform(0.1, 0.5), rng.uniform(0.02, 0.15)
            body = body + level * np.exp(-local / decay) * _sine(f * rng.uniform(1.5, 2.8), rng)
        noise = rng.standard_normal(len(local))
        band = int(rng.integers(3))
        if band == 1:
            noise = sosfilt(butter(2, rng.uniform(500, 4000), "highpass", fs=SAMPLE_RATE, output="sos"), noise)
        elif band == 2:
            centre = rng.uniform(300, 5000)
            edges = [centre / 1.6, min(centre * 1.6, NYQUIST_MARGIN_HZ)]
            noise = sosfilt(butter(2, edges, "bandpass", fs=SAMPLE_RATE, output="sos"), noise)
        noise = noise / (np.std(noise) + 1e-9)
        burst = noise * np.exp(-local / rng.uniform(0.002, 0.05)) * rng.uniform(0.05, 0.8)
        x[i:] += rng.uniform(0.5, 1.0) * (body + burst)
    if rng.random() < 0.4:  # played on a kit: snares, hi-hats, toms and cymbals between the thumps
        x = x + _kit_hits(n, rng) * rng.uniform(0.1, 0.4) * np.abs(x).max()
    return x


def _kit_hits(n: int, rng: np.random.Generator) -> np.ndarray:
    """A kit's other drums at a steady beat: snare hits (a 150-250 Hz body under mid noise), hi-hat ticks
    (high-passed noise), tom hits (a 80-250 Hz body) and cymbals (a few inharmonic metallic partials at
    2-8 kHz over noise, ringing 0.1-0.8 s)."""
    x, beat = np.zeros(n), int(rng.uniform(0.1, 0.4) * SAMPLE_RATE)
    hat = butter(2, rng.uniform(5000, 7000), "highpass", fs=SAMPLE_RATE, output="sos")
    partials = rng.uniform(2000, NYQUIST_MARGIN_HZ, int(rng.integers(1, 7)))
    ring_s = rng.uniform(0.1, 0.8)
    for k, i in enumerate(range(int(rng.integers(0, beat)), n, beat)):
        kind = rng.choice(["snare", "hat", "tom", "cymbal"], p=[0.35, 0.35, 0.15, 0.15]) if k % 2 else "hat"
        length = min(int({"snare": 0.15, "hat": 0.04, "tom": 0.4, "cymbal": 3 * ring_s}[kind] * SAMPLE_RATE), n - i)
        local = np.arange(length) / SAMPLE_RATE
        noise = rng.standard_normal(length)
        if kind == "snare":
            hit = np.exp(-local / 0.05) * (noise + 0.5 * np.sin(2 * np.pi * rng.uniform(150, 250) * local))
        elif kind == "tom":
            hit = np.exp(-local / rng.uniform(0.08, 0.3)) * np.sin(2 * np.pi * rng.uniform(80, 250) * local)
        elif kind == "cymbal":
            ring = sum(np.sin(2 * np.pi * f * local + rng.uniform(0, 6.3)) for f in partials) / len(partials)
            hit = np.exp(-local / ring_s) * (ring + rng.uniform(0.1, 1.0) * sosfilt(hat, noise))
        else:
            hit = 0.5 * np.exp(-local / 0.01) * sosfilt(hat, noise)
        x[i : i + length] += hit
    return x


def whistle(n: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(n)
    f0, rate, depth = rng.uniform(1200, 3500), rng.uniform(2.5, 9), rng.uniform(0.0, 0.035)
    freq = f0 * (1 + depth * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.3)))
    freq = freq * (1 + rng.uniform(-0.03, 0.03) * t / t[-1])  # a slight pitch drift over the clip
    x = _sine(freq, rng)
    for k in (2, 3):
        if rng.random() < 0.5 and f0 * k < NYQUIST_MARGIN_HZ:
            x = x + rng.uniform(0, 0.3) / k * _sine(freq * k, rng)
    if rng.random() < 0.5:  # breath: noise in a band around the tone
        edges = [f0 / 1.3, min(f0 * 1.3, NYQUIST_MARGIN_HZ)]
        breath = sosfilt(butter(2, edges, "bandpass", fs=SAMPLE_RATE, output="sos"), rng.standard_normal(n))
        x = x + rng.uniform(0, 0.25) * breath / (np.std(breath) + 1e-9) * np.sqrt(0.5)
    tremolo = 1 + rng.uniform(0, 0.25) * np.sin(2 * np.pi * rng.uniform(2, 10) * t) if rng.random() < 0.4 else 1
    return x * tremolo * _fades(n, rng, 0.3)


def _band(x: np.ndarray, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    """`x` band-passed to [low, high] Hz: an FFT mask (brick wall), a Butterworth of order 1-6, or a
    resonant two-pole peak at the band's centre (one biquad, as a quick synthesiser would write it)."""
    kind = int(rng.integers(3))
    if kind == 0:
        spectrum, freqs = np.fft.rfft(x), np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
        return np.fft.irfft(spectrum * ((freqs >= low) & (freqs <= high)), len(x))
    if kind == 1:
        return sosfilt(butter(int(rng.integers(1, 7)), [low, high], "bandpass", fs=SAMPLE_RATE, output="sos"), x)
    centre, bandwidth = np.sqrt(low * high), high - low
    b, a = iirpeak(centre, centre / bandwidth, fs=SAMPLE_RATE)
    return lfilter(b, a, x)


def rain(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise in a band anywhere from 150 Hz to the top (a quarter octave to five octaves wide), with drops:
    noise bursts, single-sample clicks or ringing pops, heard through the band or over it."""
    t = _t(n)
    low = float(np.exp(rng.uniform(np.log(150), np.log(5500))))
    high = min(low * 2 ** rng.uniform(0.25, 5.0), NYQUIST_MARGIN_HZ)
    high = max(high, low * 1.19)
    bed = colored_noise(n, float(rng.choice([0.0, 0.0, 1.0, rng.uniform(0, 2)])), rng)
    if rng.random() < 0.4:  # gusts: the rain's level wanders
        bed = bed * (1 + rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t + rng.uniform(0, 6.3)))
    drops = np.zeros(n)
    if rng.random() < 0.92:
        level = rng.uniform(0.5, 10)
        for i in rng.integers(0, n, rng.poisson(rng.uniform(2, 150) * n / SAMPLE_RATE)):
            length = min(int(rng.uniform(0.0001, 0.012) * SAMPLE_RATE), n - i)
            if length < 1:
                continue
            k = np.arange(length)
            decay = np.exp(-k / rng.uniform(1, 60))
            kind = rng.random()
            if kind < 0.15:
                drop = np.sign(rng.standard_normal(length)) * (k == 0)  # a single-sample click
            elif kind < 0.6:
                drop = rng.standard_normal(length) * decay
            else:
                drop = np.sin(2 * np.pi * rng.uniform(800, 7000) * k / SAMPLE_RATE) * decay
            drops[i : i + length] += level * rng.uniform(0.3, 1.0) * drop
    bed = bed / (np.sqrt(np.mean(bed**2)) + 1e-12)
    if rng.random() < 0.3:  # the drops go through the band too, as when a synthesiser filters the mix
        x = _band(bed + drops, low, high, rng)
    else:
        x = _band(bed, low, high, rng)
        x = x / (np.sqrt(np.mean(x**2)) + 1e-12) + drops
    return x * _fades(n, rng, 0.4)


def chirp(n: int, rng: np.random.Generator) -> np.ndarray:
    t, x = _t(n), np.zeros(n)
    bursts = int(rng.integers(1, 7))
    starts = np.sort(rng.uniform(0, max(t[-1] - 0.25, 0.01), bursts))
    curve = rng.uniform(0.3, 3.0)
    for start in starts:
        i = int(start * SAMPLE_RATE)
        for _ in range(int(rng.integers(1, 9))):
            length = int(rng.uniform(0.005, 0.1) * SAMPLE_RATE)
            if i + length > n:
                break
            low, high = rng.uniform(1500, 3500), rng.uniform(4000, 7000)
            frac = np.arange(length) / length
            f = low * (high / low) ** frac if rng.random() < 0.3 else low + (high - low) * frac**curve
            rounded = rng.random() < 0.6
            envelope = np.sin(np.pi * frac) if rounded else np.exp(-frac * rng.uniform(1, 5)) * np.clip(frac * 20, 0, 1)
            sweep = _sine(f, rng)
            if rng.random() < 0.2:
                sweep = sweep + rng.uniform(0, 0.2) * _sine(np.minimum(2 * f, NYQUIST_MARGIN_HZ), rng)
            x[i : i + length] += rng.uniform(0.5, 1.0) * envelope * sweep
            i += length + int(rng.uniform(0.003, 0.06) * SAMPLE_RATE)
    return x


RECIPES: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "bell": bell, "siren": siren, "drum": drum, "whistle": whistle, "rain": rain, "chirp": chirp,
}  # fmt: skip


def varied_sound(label: str, rng: np.random.Generator) -> np.ndarray:
    """A (T,) float32 16 kHz clip of class `label` from one of the many readings of the spec's table: 0.8-4.5 s,
    background noise from white to brown at 5-40 dB SNR (against active or mean power) or none, peak 0.3-0.95."""
    n = int(rng.uniform(0.8, 4.5) * SAMPLE_RATE)
    x = np.asarray(RECIPES[label](n, rng), np.float64)
    x = x / (np.abs(x).max() + 1e-12)
    if rng.random() < 0.9:
        power = active_power(x.astype(np.float32)) if rng.random() < 0.5 else float(np.mean(x**2))
        snr_db = rng.uniform(5, 40)
        x = x + colored_noise(n, float(rng.uniform(0, 2)), rng) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(x * (rng.uniform(0.3, 0.95) / (np.abs(x).max() + 1e-12)), -1, 1).astype(np.float32)


def varied_sounds(count: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """`count` clips, the classes in turn, the same for a seed."""
    rng = np.random.default_rng([seed, 4])
    labels = [SOUND_LABELS[i % len(SOUND_LABELS)] for i in range(count)]
    return [varied_sound(label, rng) for label in labels], labels
