"""Words -> Spoken Shapes speech: espeak-ng voices, 16 kHz mono, noise, reverberation and gain."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import fftconvolve

from soundsight.errors import SpeechSynthesisError
from soundsight.shapes.spec import SAMPLE_RATE, TEST_VOICES

ESPEAK = "espeak-ng"
# English voices and voice variants for train and val; every "language+variant" pair except the
# spec's test voices. Checked against what the installed espeak-ng really has before a build.
TRAIN_LANGUAGES: tuple[str, ...] = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
TRAIN_VARIANTS: tuple[str, ...] = (
    *(f"m{i}" for i in range(1, 9)),
    *(f"f{i}" for i in range(1, 6)),
    "klatt",
    *(f"klatt{i}" for i in range(2, 7)),
    "croak",
    "adam",
    "Andy",
    "Annie",
    "aunty",
    "belinda",
    "benjamin",
    "david",
    "ed",
    "edward",
    "grandma",
    "grandpa",
    "john",
    "linda",
    "max",
    "paul",
    "quincy",
    "rob",
    "robert",
    "steph",
    "travis",
    "victor",
    "zac",
)
TRAIN_VOICES: tuple[str, ...] = tuple(
    f"{lang}+{variant}"
    for lang in TRAIN_LANGUAGES
    for variant in TRAIN_VARIANTS
    if f"{lang}+{variant}" not in TEST_VOICES
)
AMPLITUDE = (70, 150)  # espeak-ng -a, 100 is its default
REVERB_RT60_S = (0.15, 0.6)
REVERB_WET = (0.1, 0.4)
PEAK_LEVEL = (0.2, 0.95)  # gain: the clip's peak after augmentation
ACTIVE_FRAME_DB = -30.0  # frames within this of the loudest frame count as speech for the SNR


@dataclass(frozen=True)
class SpeechSettings:
    """How one clip is spoken and degraded; a clip is made again exactly from these values."""

    text: str
    voice: str  # espeak-ng "language+variant", e.g. "en-us+f5"
    speed_wpm: int
    pitch: int  # espeak-ng 0-99
    amplitude: int  # espeak-ng 0-200
    snr_db: float | None  # None: clean
    noise: str  # "white" or "pink"
    reverb_rt60_s: float | None  # None: dry
    reverb_wet: float
    peak: float
    seed: int  # noise and reverberation samples


def espeak_path() -> str:
    """Return the espeak-ng executable, or raise SpeechSynthesisError if it is not installed."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise SpeechSynthesisError(
            f"{ESPEAK} not found on PATH: install it (apt-get install espeak-ng, or run install.sh)"
        )
    return path


@lru_cache(maxsize=1)
def installed_voices() -> tuple[frozenset[str], frozenset[str]]:
    """Return (languages, variants) the installed espeak-ng can really speak with.

    `--voices` also lists mbrola voices whose data is not installed, and `-v lang+variant` takes an
    unknown variant silently, so both lists are read from espeak-ng itself, mbrola left out.
    """
    exe = espeak_path()
    languages: set[str] = set()
    for line in subprocess.run([exe, "--voices"], capture_output=True, text=True, check=True).stdout.splitlines()[1:]:
        parts = line.split(maxsplit=5)
        if len(parts) < 5 or parts[4].startswith("mb/"):
            continue
        languages.add(parts[1])
        languages.update(re.findall(r"\(([\w-]+) \d+\)", parts[5] if len(parts) > 5 else ""))
    variants: set[str] = set()
    for line in subprocess.run(
        [exe, "--voices=variant"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[1:]:
        match = re.search(r"!v/(\S+)", line)
        if match:
            variants.add(match.group(1))
    return frozenset(languages), frozenset(variants)


def check_voices(voices: tuple[str, ...] | list[str]) -> None:
    """Raise SpeechSynthesisError naming the first voice espeak-ng does not have."""
    languages, variants = installed_voices()
    for voice in voices:
        language, _, variant = voice.partition("+")
        if language not in languages:
            raise SpeechSynthesisError(f"voice {voice!r}: espeak-ng has no language {language!r}")
        if variant and variant not in variants:
            raise SpeechSynthesisError(f"voice {voice!r}: espeak-ng has no variant {variant!r}")


def synthesize(
    text: str, voice: str, *, speed_wpm: int = 160, pitch: int = 50, amplitude: int = 100, word_gap: int = 0
) -> np.ndarray:
    """Return espeak-ng speaking `text`: (T,) float32 in [-1, 1] at 16 kHz."""
    exe = espeak_path()
    with tempfile.TemporaryDirectory(prefix="soundsight-espeak-") as tmp:
        out = Path(tmp) / "speech.wav"
        cmd = [
            exe,
            "-v",
            voice,
            "-s",
            str(speed_wpm),
            "-p",
            str(pitch),
            "-a",
            str(amplitude),
            *(["-g", str(word_gap)] if word_gap else []),
            "-w",
            str(out),
            "--",
            text,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not out.is_file():
            raise SpeechSynthesisError(f"espeak-ng could not speak {text!r} as {voice!r}: {result.stderr.strip()}")
        waveform, rate = sf.read(out, dtype="float32", always_2d=True)
    mono = waveform.mean(axis=1)
    return np.asarray(soxr.resample(mono, rate, SAMPLE_RATE), dtype=np.float32)


def active_power(waveform: np.ndarray, frame: int = 320) -> float:
    """Mean power of the frames within ACTIVE_FRAME_DB of the loudest (speech, not its silences)."""
    n = max(1, len(waveform) // frame)
    powers = (
        (waveform[: n * frame].reshape(n, -1) ** 2).mean(axis=1)
        if len(waveform) >= frame
        else np.array([np.mean(waveform**2)])
    )
    active = powers[powers >= powers.max() * 10 ** (ACTIVE_FRAME_DB / 10)]
    return float(active.mean()) if active.size else 0.0


def make_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n,) float32 white or pink (1/f power) noise with unit power."""
    white = rng.standard_normal(n)
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        freqs = np.fft.rfftfreq(n)
        freqs[0] = freqs[1] if n > 1 else 1.0
        white = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return (white / np.sqrt(np.mean(white**2) + 1e-12)).astype(np.float32)


def add_reverb(waveform: np.ndarray, rt60_s: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Mix in a decaying-noise room response (60 dB down after `rt60_s`); the tail is kept."""
    length = int(rt60_s * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    response = rng.standard_normal(length) * np.exp(-6.91 * t / rt60_s)  # ln(1000) = 6.91: -60 dB at rt60
    response[0] = 0.0
    response /= np.sqrt(np.sum(response**2)) + 1e-12
    reverberant = fftconvolve(waveform, response)
    dry = np.pad(waveform, (0, len(reverberant) - len(waveform)))
    return ((1 - wet) * dry + wet * reverberant * np.sqrt(np.mean(dry**2) / (np.mean(reverberant**2) + 1e-12))).astype(
        np.float32
    )


def degrade(waveform: np.ndarray, settings: SpeechSettings) -> np.ndarray:
    """Apply the settings' reverberation, noise at its SNR, then gain to a clean (T,) waveform."""
    rng = np.random.default_rng(settings.seed)
    return room_noise_gain(waveform, settings.reverb_rt60_s, settings.reverb_wet, settings.snr_db, settings.noise,
                           settings.peak, rng)  # fmt: skip


def room_noise_gain(
    waveform: np.ndarray, rt60_s: float | None, wet: float, snr_db: float | None, noise: str, peak: float,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Reverberation (None: dry), `noise` at `snr_db` (None: clean), then gain to `peak`, clipped to [-1, 1]."""
    x: np.ndarray = waveform.astype(np.float32)
    if rt60_s is not None:
        x = add_reverb(x, rt60_s, wet, rng)
    if snr_db is not None:
        noise_power = active_power(x) / 10 ** (snr_db / 10)
        x = x + make_noise(noise, len(x), rng) * np.float32(np.sqrt(noise_power))
    loudest = float(np.abs(x).max())
    if loudest > 0:
        x = x * np.float32(peak / loudest)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def speak(settings: SpeechSettings) -> np.ndarray:
    """Return the clip `settings` describe: (T,) float32 in [-1, 1] at 16 kHz."""
    clean = synthesize(
        settings.text, settings.voice, speed_wpm=settings.speed_wpm, pitch=settings.pitch, amplitude=settings.amplitude
    )
    return degrade(clean, settings)
