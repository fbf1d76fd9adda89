import numpy as np
import pytest

from soundsight.errors import SpeechSynthesisError
from soundsight.shapes import speech
from soundsight.shapes.spec import SAMPLE_RATE, TEST_VOICES
from soundsight.shapes.speech import SpeechSettings, check_voices, degrade, installed_voices, make_noise, synthesize


def test_test_and_train_voices_exist_in_espeak_ng() -> None:
    check_voices([*TEST_VOICES, *speech.TRAIN_VOICES])
    languages, variants = installed_voices()
    assert {"en", "en-us", "en-gb-scotland"} <= languages and {"f5", "m7", "klatt4"} <= variants


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        ("en-us+nosuchvariant", "no variant 'nosuchvariant'"),
        ("mb-us1", "no language 'mb-us1'"),
        ("xx-yy", "no language"),
    ],
)
def test_unknown_or_mbrola_voices_are_refused(voice: str, message: str) -> None:
    with pytest.raises(SpeechSynthesisError, match=message):
        check_voices([voice])


def test_missing_espeak_ng_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SpeechSynthesisError, match=r"espeak-ng not found on PATH: install it"):
        synthesize("a red star", "en-us")


def test_synthesis_is_16k_mono_speech_that_lasts_as_long_as_its_words() -> None:
    short = synthesize("a red star", "en-us+f5", speed_wpm=160)
    long = synthesize("a small red star on the left on a blue background", "en-us+f5", speed_wpm=160)
    assert short.dtype == np.float32 and short.ndim == 1
    assert 0.5 < len(short) / SAMPLE_RATE < len(long) / SAMPLE_RATE < 5.0
    assert np.array_equal(short, synthesize("a red star", "en-us+f5", speed_wpm=160))  # deterministic
    slow = synthesize("a red star", "en-us+f5", speed_wpm=120)
    assert len(slow) > len(short)


def _settings(**changes: object) -> SpeechSettings:
    base = dict(text="a red star", voice="en-us", speed_wpm=160, pitch=50, amplitude=100, snr_db=None, noise="white",
                reverb_rt60_s=None, reverb_wet=0.0, peak=0.5, seed=1)  # fmt: skip
    return SpeechSettings(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("snr_db", [5.0, 20.0])
def test_noise_is_added_at_the_asked_snr(snr_db: float) -> None:
    clean = synthesize("a red star", "en-us")
    noisy = degrade(clean, _settings(snr_db=snr_db, peak=0.9))
    scale = float(np.dot(noisy, clean) / np.dot(clean, clean))  # the gain applied to the speech
    residual = noisy - clean * scale
    measured = 10 * np.log10(speech.active_power(clean * scale) / np.mean(residual**2))
    assert measured == pytest.approx(snr_db, abs=1.0)


def test_gain_sets_the_peak_and_reverb_adds_a_tail() -> None:
    clean = synthesize("a red star", "en-us")
    assert np.abs(degrade(clean, _settings(peak=0.3))).max() == pytest.approx(0.3, abs=1e-4)
    wet = degrade(clean, _settings(reverb_rt60_s=0.4, reverb_wet=0.3))
    assert len(wet) > len(clean) + 0.3 * SAMPLE_RATE


def test_pink_noise_has_more_low_than_high_frequency_power() -> None:
    noise = make_noise("pink", 16000, np.random.default_rng(0))
    power = np.abs(np.fft.rfft(noise)) ** 2
    assert power[10:100].mean() > 10 * power[4000:8000].mean()
    assert np.mean(noise**2) == pytest.approx(1.0, rel=1e-3)
