from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundsight.audio import SAMPLE_RATE, check_speech, load_audio, speech_chunks, to_mono_16k
from soundsight.errors import AudioError

from .conftest import SHARED_DATA

FORMATS = SHARED_DATA / "speech" / "formats"


@pytest.mark.parametrize(
    ("name", "seconds"),
    [
        ("en_alsa_front_center_48k.wav", None),
        ("en_asterisk_hello-world_8k.wav", None),
        ("en_freedesktop_front_left.oga", None),
        ("en_jfk_44k1_stereo.aiff", 11.0),
        ("en_jfk_lossless.flac", 11.0),
        ("en_jfk_orig.mp3", 11.0),
    ],
)
def test_every_format_rate_and_layout_becomes_16k_mono(name: str, seconds: float | None) -> None:
    path = FORMATS / name
    info = sf.info(str(path))
    waveform = load_audio(path)
    assert waveform.dtype == np.float32 and waveform.ndim == 1
    assert len(waveform) / SAMPLE_RATE == pytest.approx(info.frames / info.samplerate, abs=0.06)
    if seconds:
        assert len(waveform) / SAMPLE_RATE == pytest.approx(seconds, abs=0.1)
    assert 0.05 < np.abs(waveform).max() <= 1.0


def test_stereo_is_averaged_and_resampled() -> None:
    t = np.arange(44100) / 44100
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1)
    mono = to_mono_16k(stereo, 44100)
    assert len(mono) == 16000 and np.abs(mono).max() == pytest.approx(0.5, abs=0.02)


def test_real_speech_is_speech_and_real_sounds_and_silence_are_not() -> None:
    for clip in ("en_jfk.wav", "en_goforward.wav", "fr_asterisk_tt-weasels.wav", "es_asterisk_ss-noservice.wav"):
        check_speech(load_audio(SHARED_DATA / "speech" / clip), clip)
    for sound in ("thunder.wav", "cow.wav", "phone_ringing.wav", "violin.wav"):
        with pytest.raises(AudioError, match="no speech found"):
            check_speech(load_audio(SHARED_DATA / "sounds" / sound), sound)
    with pytest.raises(AudioError, match=r"silence.wav: no speech found in 2.0 s"):
        check_speech(np.zeros(32000, np.float32), "silence.wav")
    jfk = load_audio(SHARED_DATA / "speech" / "en_jfk.wav")
    speech, total = speech_chunks(jfk)
    assert speech > total / 2
    speech, heard = speech_chunks(jfk, enough=12)  # a yes/no answer stops listening early
    assert speech == 12 and heard < total / 2


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "missing.wav", "no such file"),
        (b"this is text, not sound", "notes.m4a", r"unsupported format \(expected wav, flac, ogg, aiff or mp3\)"),
        (b"RIFF\x00\x00", "broken.wav", "unsupported format"),
    ],
)
def test_unreadable_audio_is_one_clear_error(tmp_path: Path, content: bytes | None, name: str, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert f"cannot read audio '{path}'" in str(info.value)
