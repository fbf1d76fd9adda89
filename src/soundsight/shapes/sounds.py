"""The six Spoken Shapes sound classes (bell, siren, drum, whistle, rain, chirp), synthesised with every
parameter drawn per clip, then background noise and gain as the spec says.

A clip is planned from (seed, split, index) alone, like the scenes, so builds resume and run in any order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from soundsight.errors import ConfigError
from soundsight.shapes.spec import (
    SAMPLE_RATE,
    SOUND_DURATION_S,
    SOUND_LABELS,
    SOUND_PEAK,
    SOUND_SNR_DB,
    SOUND_SPLITS,
    sound_scene_caption,
)
from soundsight.shapes.speech import active_power, make_noise

SOUND_STREAM = 98  # the sounds' generators: (seed, SOUND_STREAM, split, index)
BELL_PARTIALS = (1.0, 2.0, 3.0, 4.2)


@dataclass(frozen=True)
class SoundPlan:
    """One sound clip: its class, length, background noise and gain; `seed` draws everything else."""

    split: str
    index: int
    label: str
    duration_s: float
    noise: str  # "white" or "pink"
    snr_db: float
    peak: float
    seed: int

    @property
    def stem(self) -> str:
        return f"{self.index:06d}"

    def record(self) -> dict[str, Any]:
        scene = sound_scene_caption(self.label)
        return {"file_name": f"{self.stem}.wav", "label": self.label, "scene": scene, "duration_s": self.duration_s,
                "noise": self.noise, "snr_db": self.snr_db, "peak": self.peak}  # fmt: skip


def plan_sound(seed: int, split: str, index: int) -> SoundPlan:
    """Clip `index` of `split`: the classes take turns, so every split is balanced."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SOUND_STREAM, SOUND_SPLITS.index(split), index]))
    return SoundPlan(
        split, index, SOUND_LABELS[index % len(SOUND_LABELS)],
        duration_s=round(float(rng.uniform(*SOUND_DURATION_S)), 2),
        noise="pink" if rng.random() < 0.5 else "white",
        snr_db=round(float(rng.uniform(*SOUND_SNR_DB)), 1),
        peak=round(float(rng.uniform(*SOUND_PEAK)), 3),
        seed=int(rng.integers(2**31)),
    )  # fmt: skip


def _times(n: int) -> np.ndarray:
    return np.arange(n) / SAMPLE_RATE


def _sweep(freq_hz: np.ndarray) -> np.ndarray:
    """A sine whose frequency follows `freq_hz` sample by sample."""
    return np.sin(2 * np.pi * np.cumsum(freq_hz) / SAMPLE_RATE)


def _envelope(n: int, attack_s: float, release_s: float) -> np.ndarray:
    """Rise over attack_s, hold, fall over release_s: no clicks at the clip's ends."""
    t = _times(n)
    rise = np.clip(t / max(attack_s, 1e-4), 0, 1)
    fall = np.clip((t[-1] - t) / max(release_s, 1e-4), 0, 1)
    return rise * fall


def bell(n: int, rng: np.random.Generator) -> np.ndarray:
    """Decaying partials at 1, 2, 3 and 4.2 x f0 (f0 400-900 Hz), struck once or twice."""
    f0, t = rng.uniform(400, 900), _times(n)
    x = np.zeros(n)
    strikes = [0.0] if rng.random() < 0.6 else [0.0, rng.uniform(0.3, 0.6) * t[-1]]
    for strike in strikes:
        start = strike + rng.uniform(0, 0.05)
        local = np.clip(t - start, 0, None)
        on = t >= start
        for k, ratio in enumerate(BELL_PARTIALS):
            decay_s = rng.uniform(0.4, 1.6) / (1 + 0.6 * k)  # higher partials die first
            amp = rng.uniform(0.4, 1.0) / (1 + k)
            x += on * amp * np.exp(-local / decay_s) * np.sin(2 * np.pi * f0 * ratio * local)
    return x


def siren(n: int, rng: np.random.Generator) -> np.ndarray:
    """A sine sweeping between about 600 and 1200 Hz, 1-3 sweeps a second (smooth or sawtooth)."""
    low, high, rate = rng.uniform(550, 700), rng.uniform(1100, 1300), rng.uniform(1, 3)
    phase = 2 * np.pi * rate * _times(n) + rng.uniform(0, 6.3)
    shape = (1 - np.cos(phase)) / 2 if rng.random() < 0.5 else (phase / (2 * np.pi)) % 1.0
    x = _sweep(low + (high - low) * shape)
    return x * _envelope(n, 0.05, 0.05)


def drum(n: int, rng: np.random.Generator) -> np.ndarray:
    """2-4 low thumps (60-120 Hz, fast decay, pitch falling) each with a short noise burst."""
    t, x = _times(n), np.zeros(n)
    beats = int(rng.integers(2, 5))
    starts = np.sort(rng.uniform(0, max(t[-1] - 0.25, 0.01), beats))
    for start in starts:
        i = int(start * SAMPLE_RATE)
        local = t[: n - i]
        f = rng.uniform(60, 120) * (1 + rng.uniform(0.2, 0.8) * np.exp(-local / 0.03))
        thump = np.exp(-local / rng.uniform(0.06, 0.2)) * _sweep(f)
        burst = rng.standard_normal(len(local)) * np.exp(-local / rng.uniform(0.005, 0.02)) * rng.uniform(0.2, 0.6)
        x[i:] += rng.uniform(0.6, 1.0) * (thump + burst)
    return x


def whistle(n: int, rng: np.random.Generator) -> np.ndarray:
    """A steady 1.5-3 kHz tone with slight vibrato (4-7 Hz, under 2%)."""
    f0, rate, depth = rng.uniform(1500, 3000), rng.uniform(4, 7), rng.uniform(0.003, 0.02)
    f = f0 * (1 + depth * np.sin(2 * np.pi * rate * _times(n) + rng.uniform(0, 6.3)))
    x = _sweep(f) + rng.uniform(0, 0.15) * _sweep(2 * f)
    return x * _envelope(n, rng.uniform(0.02, 0.15), rng.uniform(0.05, 0.3))


def rain(n: int, rng: np.random.Generator) -> np.ndarray:
    """Band-passed noise (a band somewhere in 300-6000 Hz) with random clicks (drops)."""
    centre, width = rng.uniform(800, 4000), rng.uniform(0.5, 1.5)  # width in octaves
    low, high = centre / 2 ** (width / 2), min(centre * 2 ** (width / 2), 7000)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    x = np.fft.irfft(spectrum * ((freqs >= low) & (freqs <= high)), n)
    x /= np.sqrt(np.mean(x**2)) + 1e-12
    clicks = np.zeros(n)
    count = rng.poisson(rng.uniform(15, 60) * n / SAMPLE_RATE)
    for i in rng.integers(0, n, count):
        length = min(int(rng.uniform(0.002, 0.008) * SAMPLE_RATE), n - i)
        clicks[i : i + length] += rng.uniform(1, 4) * rng.standard_normal(length) * np.exp(-np.arange(length) / 20)
    return (x + clicks) * _envelope(n, rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3))


def chirp(n: int, rng: np.random.Generator) -> np.ndarray:
    """Bursts of fast upward sweeps between 2 and 6 kHz (a bird's chirps)."""
    t, x = _times(n), np.zeros(n)
    bursts = int(rng.integers(2, 6))
    starts = np.sort(rng.uniform(0, max(t[-1] - 0.3, 0.01), bursts))
    for start in starts:
        i = int(start * SAMPLE_RATE)
        for _ in range(int(rng.integers(1, 5))):  # chirps in this burst
            length = int(rng.uniform(0.02, 0.08) * SAMPLE_RATE)
            if i + length > n:
                break
            low, high = rng.uniform(2000, 3500), rng.uniform(4500, 6000)
            f = low + (high - low) * (np.arange(length) / length) ** rng.uniform(0.5, 2)
            x[i : i + length] += np.sin(np.pi * np.arange(length) / length) * _sweep(f)
            i += length + int(rng.uniform(0.01, 0.05) * SAMPLE_RATE)
    return x


SYNTHS = {"bell": bell, "siren": siren, "drum": drum, "whistle": whistle, "rain": rain, "chirp": chirp}


def render_sound(plan: SoundPlan) -> np.ndarray:
    """(T,) float32 16 kHz clip: the class's sound, background noise at plan.snr_db, peak at plan.peak."""
    rng = np.random.default_rng(plan.seed)
    n = int(plan.duration_s * SAMPLE_RATE)
    clean = SYNTHS[plan.label](n, rng).astype(np.float32)
    noise_power = active_power(clean) / 10 ** (plan.snr_db / 10)
    noisy = clean + make_noise(plan.noise, n, rng) * np.float32(np.sqrt(noise_power))
    return np.clip(noisy * (plan.peak / (np.abs(noisy).max() + 1e-12)), -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class SoundClip:
    """One clip of a built data set, read back: DIR/sounds/{split}/{name}."""

    path: Path
    label: str
    scene: str  # the caption of the scene it is bound to, "a yellow circle"
    waveform: np.ndarray  # (T,) float32, 16 kHz


def read_sounds(data: Path, split: str, limit: int | None = None) -> list[SoundClip]:
    """The clips of a `shapes build` folder's sounds/{split}, in metadata order (the first `limit`)."""
    folder = data / "sounds" / split
    meta = folder / "metadata.jsonl"
    if not meta.is_file():
        raise ConfigError(f"data '{data}': no sounds/{split}/metadata.jsonl (build it with `soundsight shapes build`)")
    rows = [json.loads(line) for line in meta.read_text().splitlines() if line.strip()][:limit]
    clips = []
    for row in rows:
        waveform, rate = sf.read(folder / row["file_name"], dtype="float32")
        assert rate == SAMPLE_RATE and waveform.ndim == 1, f"{folder / row['file_name']}: not 16 kHz mono"
        clips.append(SoundClip(folder / row["file_name"], row["label"], row["scene"], waveform))
    return clips
