from pathlib import Path

import numpy as np
import pytest
import torch

from soundsight.asr import AsrCapabilities, Segment, TranscribeOptions, Transcript, transcribe
from soundsight.audio import SAMPLE_RATE, load_audio
from soundsight.backends.whisper import WhisperAsr, shared_prefixes
from soundsight.errors import AudioError, ConfigError, ModelNotFoundError
from soundsight.loading import load_asr

from .conftest import SHARED_DATA

JFK = SHARED_DATA / "speech" / "en_jfk.wav"  # 11 s, longer than the tiny model's 5 s window


def test_the_context_comes_from_the_model_config(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper)
    assert asr.context_s == 5.0 and asr.multilingual
    assert len(asr.processor.tokenizer) == 51_865


def test_transcribe_reports_language_task_and_model_and_is_deterministic(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper)
    waveform = load_audio(SHARED_DATA / "speech" / "en_goforward.wav")
    first = transcribe(waveform, asr, language="fr", task="translate", max_new_tokens=8)
    assert (first.language, first.task, first.model) == ("fr", "translate", str(tiny_whisper))
    assert first.text == transcribe(waveform, asr, language="fr", task="translate", max_new_tokens=8).text
    assert first.no_speech_prob is not None and 0 <= first.no_speech_prob < 0.01


def test_the_language_is_detected_when_not_given(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper)
    heard = transcribe(load_audio(SHARED_DATA / "speech" / "en_goforward.wav"), asr, max_new_tokens=4)
    languages = {token[2:-2] for token in asr.model.generation_config.lang_to_id}
    assert heard.language in languages


def test_audio_longer_than_the_context_is_transcribed_whole_with_timestamps(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper)
    heard = transcribe(load_audio(JFK), asr, language="en", return_timestamps=True, max_new_tokens=6)
    assert heard.segments, "long-form decoding returns timed segments"
    assert all(s.start_s <= s.end_s for s in heard.segments)
    assert max(s.end_s for s in heard.segments) > asr.context_s  # it went past the first window


def test_no_speech_probability_above_the_threshold_is_an_error(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper)
    with pytest.raises(AudioError, match=r"Whisper hears no speech \(no-speech probability"):
        transcribe(np.zeros(16000, np.float32), asr, language="en", no_speech_threshold=0.0)


def test_bad_task_and_missing_models_are_clear_errors(tiny_whisper: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task 'summarise'"):
        transcribe(np.zeros(16000, np.float32), load_asr(tiny_whisper), task="summarise")
    with pytest.raises(ModelNotFoundError, match="ASR model '/nonexistent/whisper': no such folder"):
        load_asr("/nonexistent/whisper")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a model folder"):
        load_asr(tmp_path / "empty")


def test_an_unreachable_hub_model_says_how_to_pass_a_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("soundsight.loading.hub_reachable", lambda timeout_s=3.0: False)
    with pytest.raises(ModelNotFoundError) as info:
        load_asr("openai/whisper-nonexistent-size")
    assert str(info.value) == (
        "ASR model 'openai/whisper-nonexistent-size' is not on this machine and the Hugging Face Hub cannot be "
        "reached: download it where there is a network, then pass its folder (--asr-model PATH)"
    )


class LoudRuns:
    """A stand-in ASR model: one segment per loud stretch of what it is given, at the times it hears them."""

    name = "loud-runs"
    capabilities = AsrCapabilities(timestamps=True)

    def __init__(self) -> None:
        self.heard_s: list[float] = []

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        self.heard_s.append(len(waveform) / SAMPLE_RATE)
        frames = waveform[: len(waveform) // 160 * 160].reshape(-1, 160)  # 10 ms
        loud = np.concatenate([[0], (np.sqrt((frames**2).mean(axis=1)) > 0.1).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(loud)) / 100
        segments = tuple(Segment(float(a), float(b), "tone") for a, b in zip(edges[::2], edges[1::2], strict=True))
        return Transcript("tone " * len(segments), "en", options.task, self.name, segments=segments)


def test_long_silences_are_cut_short_before_recognition_and_times_are_the_originals() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone, silence = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32), np.zeros(6 * SAMPLE_RATE, np.float32)
    waveform = np.concatenate([tone, silence, tone, silence[: SAMPLE_RATE // 2], tone])  # a 0.5 s pause stays
    asr = LoudRuns()
    heard = transcribe(waveform, asr, return_timestamps=True)
    assert asr.heard_s == [pytest.approx(3.5 + 0.3, abs=0.02)]  # 6 s of silence became a 0.3 s pause
    assert [(round(s.start_s, 2), round(s.end_s, 2)) for s in heard.segments] == [(0.0, 1.0), (7.0, 8.0), (8.5, 9.5)]
    noisy = waveform + 0.01 * np.random.default_rng(0).standard_normal(len(waveform)).astype(np.float32)
    transcribe(noisy, asr)  # steady noise has no silence to cut
    assert asr.heard_s[-1] == pytest.approx(len(waveform) / SAMPLE_RATE)


def test_shared_prefixes_index_each_distinct_beginning_once() -> None:
    where, places = shared_prefixes([[1, 2, 3], [1, 2, 4, 5], [1, 7], [8, 7]])
    assert places == [(0, 0), (0, 1), (1, 2), (3, 0)]  # after [1], [1 2], [1 2 4] and [8]
    assert where == [[0, 1], [0, 1, 2], [0], [3]]


def test_text_scores_are_a_plain_forward_pass_with_each_prefix_projected_once(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper)
    assert isinstance(asr, WhisperAsr)
    texts = ["a red star", "a red star on a blue background", "a blue heart", "draw a red star"]
    waveform = np.random.default_rng(0).uniform(-0.3, 0.3, SAMPLE_RATE).astype(np.float32)
    scorer = asr.text_scorer(waveform)
    assert scorer is not None
    scores = scorer(texts)
    tokenizer = asr.processor.tokenizer  # the scorer has set its English prefix
    features, _ = asr._features(waveform)
    for text, score in zip(texts, scores, strict=True):  # one text at a time: no padding, no sharing
        ids = torch.tensor([tokenizer(" " + text).input_ids])
        with torch.no_grad():
            logits = asr.model(input_features=features, decoder_input_ids=ids[:, :-1]).logits
        plain = logits.log_softmax(-1).gather(-1, ids[:, 1:, None]).sum().item()
        assert score == pytest.approx(plain, abs=1e-4)
    assert len(set(scores)) == len(texts)
