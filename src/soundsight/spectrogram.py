"""Audio <-> the log-mel spectrogram picture of Spoken Shapes v1.2 ("Spectrograms"), and Griffin-Lim back.

Hann window, n_fft 1024, hop 256, centred frames with reflect padding, power spectrum, 64 Slaney mel bands
(area-normalised) from 0 to 8 kHz, in dB relative to the clip's maximum, clipped to [-80, 0] and mapped to
[0, 1]; 64 frames (16,128 samples); low frequencies at the bottom row; stored as an 8-bit greyscale PNG.
Other settings (a real spectrogram model's) are a SpectrogramSettings of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class SpectrogramSettings:
    sample_rate: int = 16_000
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float = 8000.0
    top_db: float = 80.0
    frames: int = 64

    @property
    def window_samples(self) -> int:
        """The samples whose centred frames are exactly `frames`: 16,128 for the spec's."""
        return (self.frames - 1) * self.hop


SPEC = SpectrogramSettings()


def settings_for(picture: np.ndarray, settings: SpectrogramSettings = SPEC) -> SpectrogramSettings:
    """`settings` with as many mel bands and frames as `picture` has rows and columns."""
    rows, columns = np.asarray(picture).shape[:2]
    return replace(settings, n_mels=int(rows), frames=int(columns))


@lru_cache(maxsize=4)
def mel_basis(settings: SpectrogramSettings) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) Slaney-scale, area-normalised mel filters."""
    import librosa

    return librosa.filters.mel(sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=settings.n_mels,
                               fmin=settings.fmin, fmax=settings.fmax, htk=False, norm="slaney")  # fmt: skip


def fit_window(waveform: np.ndarray, settings: SpectrogramSettings = SPEC) -> np.ndarray:
    """The first window_samples of `waveform`, zero-padded at the end where it is shorter."""
    n = settings.window_samples
    out = np.zeros(n, dtype=np.float32)
    out[: min(n, len(waveform))] = waveform[:n]
    return out


def mel_power(waveform: np.ndarray, settings: SpectrogramSettings = SPEC) -> np.ndarray:
    """(n_mels, frames) mel power of a waveform, rows from low to high frequency."""
    import librosa

    stft = librosa.stft(np.asarray(waveform, dtype=np.float32), n_fft=settings.n_fft, hop_length=settings.hop,
                        window="hann", center=True, pad_mode="reflect")  # fmt: skip
    return mel_basis(settings) @ (np.abs(stft) ** 2)


def log_mel_image(waveform: np.ndarray, settings: SpectrogramSettings = SPEC) -> np.ndarray:
    """The spectrogram picture of a waveform as (n_mels, frames) float32 in [0, 1], low frequencies at the
    bottom row; a silent clip is all zeros."""
    power = mel_power(waveform, settings)
    peak = float(power.max())
    if peak <= 0:
        return np.zeros_like(power, dtype=np.float32)[::-1].copy()
    db = 10 * np.log10(np.maximum(power, peak * 1e-30) / peak)
    image = (np.clip(db, -settings.top_db, 0.0) + settings.top_db) / settings.top_db
    return np.ascontiguousarray(image[::-1], dtype=np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> the 8-bit greyscale the PNG stores."""
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def image_to_mel_power(image: np.ndarray, settings: SpectrogramSettings = SPEC) -> np.ndarray:
    """A spectrogram picture (8-bit or [0, 1], low frequencies at the bottom) -> (n_mels, frames) mel power
    relative to its loudest cell."""
    raw = np.asarray(image)
    values = raw.astype(np.float32) / 255.0 if raw.dtype == np.uint8 else raw.astype(np.float32)
    db = values[::-1] * settings.top_db - settings.top_db
    return np.asarray(10 ** (db / 10), dtype=np.float32)


def griffin_lim(image: np.ndarray, settings: SpectrogramSettings = SPEC, *, iterations: int = 64,
                peak: float = 0.9) -> np.ndarray:  # fmt: skip
    """A spectrogram picture played by Griffin-Lim (librosa): (window_samples,) float32 at `peak` level (the
    picture's rows and columns are its mel bands and frames)."""
    import librosa

    settings = settings_for(image, settings)
    power = image_to_mel_power(image, settings)
    audio = librosa.feature.inverse.mel_to_audio(power, sr=settings.sample_rate, n_fft=settings.n_fft,
                                                 hop_length=settings.hop, window="hann", center=True,
                                                 pad_mode="reflect", power=2.0, n_iter=iterations,
                                                 fmin=settings.fmin, fmax=settings.fmax, htk=False,
                                                 norm="slaney")  # fmt: skip
    return normalise_peak(fit_window(audio, settings), peak)


def normalise_peak(waveform: np.ndarray, peak: float = 0.9) -> np.ndarray:
    loudest = float(np.abs(waveform).max())
    return (waveform * (peak / loudest) if loudest > 0 else waveform).astype(np.float32)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over the pixels of two pictures (0 where either is flat)."""
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    x, y = x - x.mean(), y - y.mean()
    scale = float(np.sqrt((x**2).sum() * (y**2).sum()))
    return float((x * y).sum() / scale) if scale > 0 else 0.0
