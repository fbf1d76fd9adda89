import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from soundsight.audio import SAMPLE_RATE, AudioWarning, check_speech, load_audio, speech_chunks, to_mono_16k
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
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        waveform = load_audio(path)
    expected = ["narrow-band audio (8000 Hz"] if name.endswith("_8k.wav") else []
    assert [str(w.message).split(": ")[1] for w in caught] == expected
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
    with pytest.raises(AudioError, match=r"nan.wav: holds non-finite samples \(NaN or infinity\)"):
        check_speech(np.full(32000, np.nan, np.float32), "nan.wav")
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


def test_what_is_no_regular_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.wav")
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    (tmp_path / "folder.wav").mkdir()
    for path, kind in ((tmp_path / "pipe.wav", "a pipe"), (tmp_path / "loop.wav", "a symlink loop"),
                       (tmp_path / "folder.wav", "a folder"), (Path("/dev/zero"), "a device or socket")):  # fmt: skip
        with pytest.raises(AudioError) as info:
            load_audio(path)
        assert str(info.value) == f"cannot read audio '{path}': not a regular file ({kind})"


def test_non_finite_samples_are_refused_and_random_bytes_named_mp3_never_reach_the_decoder(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    samples = np.zeros(16000, np.float32)
    samples[100] = np.nan
    sf.write(tmp_path / "nan.wav", samples, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError) as info:
        load_audio(tmp_path / "nan.wav")
    nan = tmp_path / "nan.wav"
    assert str(info.value) == f"cannot read audio '{nan}': it holds non-finite samples (NaN or infinity)"
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(20_000))
    with pytest.raises(AudioError, match="unsupported format"):
        load_audio(tmp_path / "noise.mp3")
    assert capfd.readouterr().err == ""  # libmpg123 printed nothing
    assert len(load_audio(FORMATS / "en_jfk_orig.mp3")) > 0  # a real MP3 still opens


def test_narrow_band_clipped_and_very_quiet_audio_is_read_with_one_warning_each(tmp_path: Path) -> None:
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 300 * t).astype(np.float32)
    cases = {"phone.wav": (0.5 * tone, 8000, "narrow-band audio (8000 Hz: nothing above 4000 Hz)"),
             "loud.wav": (np.clip(3 * tone, -1, 1), 16000, "clipped audio ("),
             "whisper.wav": (0.001 * tone, 16000, "very quiet audio (peak -60 dBFS)")}  # fmt: skip
    for name, (samples, rate, message) in cases.items():
        sf.write(tmp_path / name, samples, rate, subtype="FLOAT")
        with pytest.warns(AudioWarning) as caught:
            load_audio(tmp_path / name)
        [warning] = caught
        assert str(warning.message).startswith(f"'{tmp_path / name}': {message}")
    sf.write(tmp_path / "fine.wav", 0.5 * tone, 16000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_audio(tmp_path / "fine.wav")
