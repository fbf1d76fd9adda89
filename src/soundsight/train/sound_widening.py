"""What the audio adapter and its sound gate train on beyond the spec's own synthesiser.

`widen_sound` puts a Spoken Shapes sound through what another synthesiser or a room would do to it
(pitch and speed moved together, EQ, band limits, noise of any colour, reverberation, saturation,
level), so the adapter learns the class, not our synthesiser. `other_sound` makes sounds that are
none of the six (steady and beeping tones, speech, music-like notes, hums, clicks, sweeps, plucks):
what the gate learns to refuse. Both are drawn from a generator, so a run makes the same set again.
"""

from __future__ import annotations

import numpy as np
import soxr
from scipy.signal import butter, sosfilt

from soundsight.shapes.spec import SAMPLE_RATE
from soundsight.shapes.speech import add_reverb, synthesize
from soundsight.train.voices import peaking_eq

# No plain noise: the spec's rain is band-passed noise, so noise is the rain class, not outside it.
OTHER_KINDS = ("tone", "beeps", "speech", "melody", "chord", "hum", "clicks", "sweep", "pluck")
WORDS = (
    "the weather is nice today and we walk to the station before the train leaves "
    "please call me back when you get this message about the meeting on monday "
    "open the door quickly there is somebody waiting outside in the cold rain "
    "seven eight nine ten numbers letters and names are what people say most often"
).split()


def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) unit-power noise with power falling as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0
    x = np.fft.irfft(spectrum / freqs ** (exponent / 2), n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def widen_sound(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`x` as another synthesiser, recorder or room might make it; the class it is stays."""
    y: np.ndarray = x.astype(np.float32)
    if rng.random() < 0.5:
        factor = float(rng.uniform(0.85, 1.18))
        y = np.asarray(soxr.resample(y, SAMPLE_RATE, SAMPLE_RATE / factor), dtype=np.float32)
    for _ in range(int(rng.integers(0, 4))):
        y = peaking_eq(y, float(np.exp(rng.uniform(np.log(100), np.log(7000)))), float(rng.uniform(-10, 10)),
                       float(rng.uniform(0.5, 3)))  # fmt: skip
    if rng.random() < 0.2:
        y = sosfilt(butter(4, float(rng.uniform(3000, 7500)), "lowpass", fs=SAMPLE_RATE, output="sos"), y)
    if rng.random() < 0.2:
        y = sosfilt(butter(2, float(rng.uniform(80, 400)), "highpass", fs=SAMPLE_RATE, output="sos"), y)
    if rng.random() < 0.15:
        drive = float(rng.uniform(1.5, 6))
        y = np.tanh(drive * y / (np.abs(y).max() + 1e-9)) / np.tanh(drive)
    if rng.random() < 0.3:
        y = add_reverb(np.asarray(y, np.float32), float(rng.uniform(0.1, 1.0)), float(rng.uniform(0.1, 0.5)), rng)
    if rng.random() < 0.5:
        power = float(np.mean(np.asarray(y) ** 2))
        snr_db = float(rng.uniform(5, 40))
        y = y + colored_noise(len(y), float(rng.uniform(0, 2)), rng) * np.float32(np.sqrt(power / 10 ** (snr_db / 10)))
    y = np.asarray(y, np.float32)
    return (y * np.float32(rng.uniform(0.05, 1.0) / (np.abs(y).max() + 1e-9))).astype(np.float32)


def _note(freq: float, n: int, rng: np.random.Generator, harmonics: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    amps = rng.uniform(0.1, 1.0, harmonics) / np.arange(1, harmonics + 1)
    wave = sum(a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(amps) if freq * (k + 1) < 7900)
    attack, release = int(rng.uniform(0.005, 0.08) * SAMPLE_RATE), int(rng.uniform(0.05, 0.4) * SAMPLE_RATE)
    env = np.ones(n)
    env[: min(attack, n)] = np.linspace(0, 1, min(attack, n))
    env[max(n - release, 0) :] *= np.linspace(1, 0, n - max(n - release, 0))
    return np.asarray(wave * env, np.float32)


def _notes(n: int, rng: np.random.Generator, chord: bool) -> np.ndarray:
    x = np.zeros(n, np.float32)
    base = float(rng.uniform(100, 500))
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    i = 0
    while i < n:
        length = min(int(rng.uniform(0.15, 0.6) * SAMPLE_RATE), n - i)
        steps = rng.choice(scale, 3 if chord else 1)
        for step in steps:
            x[i : i + length] += _note(base * 2 ** (step / 12), length, rng, int(rng.integers(1, 8)))
        i += length
    return x


def _speech(rng: np.random.Generator) -> np.ndarray:
    words = " ".join(rng.choice(WORDS, int(rng.integers(3, 10))))
    voice = str(rng.choice(["en", "en-us", "en-gb-x-rp", "en-029"])) + "+" + str(rng.choice(["m1", "f2", "m4", "f4"]))
    return synthesize(words, voice, speed_wpm=int(rng.integers(120, 220)), pitch=int(rng.integers(10, 90)))


def other_sound(kind: str, rng: np.random.Generator, duration_s: float | None = None) -> np.ndarray:
    """A (T,) float32 16 kHz sound of `kind` (one of OTHER_KINDS): none of the Spoken Shapes six."""
    n = int((duration_s or float(rng.uniform(0.8, 4.0))) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    if kind == "tone":  # steady, below or above a whistle's band, any waveform
        freq = float(rng.choice([rng.uniform(80, 1300), rng.uniform(3500, 7000)]))
        x = np.sign(np.sin(2 * np.pi * freq * t)) if rng.random() < 0.3 else np.sin(2 * np.pi * freq * t)
    elif kind == "beeps":
        freq, rate = float(rng.uniform(300, 1400)), float(rng.uniform(1.5, 8))
        x = np.sin(2 * np.pi * freq * t) * (np.sin(2 * np.pi * rate * t) > 0)
    elif kind == "speech":
        x = _speech(rng)
    elif kind in ("melody", "chord"):
        x = _notes(n, rng, chord=kind == "chord")
    elif kind == "hum":
        f0 = float(rng.uniform(40, 160))
        x = np.sum([rng.uniform(0.2, 1) / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 12)], axis=0)
        x = x * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 8) * t))
    elif kind == "clicks":
        x = np.zeros(n)
        period = int(rng.uniform(0.05, 0.5) * SAMPLE_RATE)
        x[::period] = 1.0
        x = np.convolve(x, rng.standard_normal(64) * np.exp(-np.arange(64) / 8), "same")
    elif kind == "sweep":
        low = float(np.exp(rng.uniform(np.log(100), np.log(1750))))  # two octaves or more: wider than a siren's glide
        high = float(np.exp(rng.uniform(np.log(4 * low), np.log(7000))))
        freq = low * (high / low) ** (t / t[-1])
        freq = freq[::-1] if rng.random() < 0.5 else freq
        x = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)
    elif kind == "pluck":  # Karplus-Strong strings, a few notes
        x = np.zeros(n)
        for start in np.sort(rng.integers(0, max(n - 2000, 1), int(rng.integers(1, 6)))):
            period = int(SAMPLE_RATE / rng.uniform(80, 700))
            buf, out = rng.uniform(-1, 1, period), []
            for _ in range(0, n - start, period):  # one period at a time: each a smoothed, fading copy
                out.append(buf)
                buf = 0.996 * 0.5 * (buf + np.roll(buf, -1))
            x[start:] += np.concatenate(out)[: n - start]
    else:
        raise ValueError(f"other sound {kind!r}: expected one of {', '.join(OTHER_KINDS)}")
    x = np.asarray(x, np.float32)
    return widen_sound(x / (np.abs(x).max() + 1e-9), rng)
