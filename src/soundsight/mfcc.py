"""MFCC features of a one-word window, as the keyword networks read them (librosa).

A clip is cut (or zero-padded) to the spec's word window of 16,128 samples around its loudest stretch, then
turned into MFCCs (with their first and second deltas if asked): (n_mfcc or 3 x n_mfcc, frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from soundsight.spectrogram import SPEC

WORD_WINDOW = SPEC.window_samples  # 16,128 samples at 16 kHz


@dataclass(frozen=True)
class MfccSettings:
    n_mfcc: int = 5  # "Voice to Image Generation": five MFCCs, librosa's other defaults
    n_fft: int = 2048
    hop: int = 512
    n_mels: int = 128
    deltas: bool = False  # append the first and second deltas (librosa.feature.delta)
    sample_rate: int = 16_000

    @property
    def channels(self) -> int:
        return self.n_mfcc * (3 if self.deltas else 1)

    @property
    def frames(self) -> int:
        return 1 + WORD_WINDOW // self.hop  # centred frames

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MfccSettings:
        return cls(int(data["n_mfcc"]), int(data["n_fft"]), int(data["hop"]), int(data["n_mels"]),
                   bool(data["deltas"]), int(data["sample_rate"]))  # fmt: skip


PAPER_MFCC = MfccSettings()
FIELD_MFCC = MfccSettings(n_mfcc=40, n_fft=512, hop=160, n_mels=40, deltas=True)  # 32 ms windows, 10 ms hop


def word_window(waveform: np.ndarray) -> np.ndarray:
    """(WORD_WINDOW,) float32: the stretch of `waveform` with the most energy, or the clip centred in zeros."""
    waveform = np.asarray(waveform, dtype=np.float32)
    if len(waveform) <= WORD_WINDOW:
        out = np.zeros(WORD_WINDOW, dtype=np.float32)
        start = (WORD_WINDOW - len(waveform)) // 2
        out[start : start + len(waveform)] = waveform
        return out
    energy = np.concatenate([[0.0], np.cumsum(waveform.astype(np.float64) ** 2)])
    start = int(np.argmax(energy[WORD_WINDOW:] - energy[:-WORD_WINDOW]))
    return waveform[start : start + WORD_WINDOW]


def mfcc_features(waveform: np.ndarray, settings: MfccSettings) -> np.ndarray:
    """(channels, frames) float32 MFCCs of the word window of a 16 kHz clip."""
    import librosa

    window = word_window(waveform)
    mfcc = librosa.feature.mfcc(y=window, sr=settings.sample_rate, n_mfcc=settings.n_mfcc, n_fft=settings.n_fft,
                                hop_length=settings.hop, n_mels=settings.n_mels)  # fmt: skip
    if settings.deltas:
        mfcc = np.concatenate([mfcc, librosa.feature.delta(mfcc), librosa.feature.delta(mfcc, order=2)])
    return mfcc.astype(np.float32)
