"""Scoring an image that speaks as Spoken Shapes v1.2 says: the picture's shape (Otsu mask, largest
4-connected component, the verifier's shape classifier), the word an ASR hears in its WAV (the vocabulary
word most like any word of the normalised transcript, if at least 0.6 alike), and the WAV's own spectrogram
against the picture (Pearson r)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from soundsight.asr import AsrBackend, TranscribeOptions
from soundsight.errors import AudioError
from soundsight.models.shape_classifier import ShapeClassifier
from soundsight.models.word_classifier import WordClassifier
from soundsight.shapes.verify import _largest_component, shape_probabilities
from soundsight.shapes.words import WORDS
from soundsight.spectrogram import fit_window, log_mel_image, pearson, settings_for, to_uint8

MIN_WORD_RATIO = 0.6


def otsu_threshold(grey: np.ndarray) -> float:
    """The threshold between two classes of 8-bit values that maximises the between-class variance."""
    counts = np.bincount(np.asarray(grey, dtype=np.uint8).ravel(), minlength=256).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    weight = np.cumsum(counts)
    total = weight[-1]
    below_sum = np.cumsum(counts * levels)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_below = below_sum / weight
        mean_above = (below_sum[-1] - below_sum) / (total - weight)
        between = weight * (total - weight) * (mean_below - mean_above) ** 2
    between = np.where(np.isfinite(between), between, -1.0)
    return float(between.argmax()) if between.max() > 0 else float(np.max(grey))  # one level: nothing above it


def object_mask(grey: np.ndarray) -> np.ndarray:
    """Pixels brighter than the picture's Otsu threshold, their largest 4-connected component."""
    return _largest_component(np.asarray(grey) > otsu_threshold(grey))


@dataclass(frozen=True)
class ShapeReading:
    shape: str | None  # None: no object
    probability: float  # the classifier's probability of the asked shape


def read_shapes(pictures: Sequence[np.ndarray], asked: str, classifier: ShapeClassifier) -> list[ShapeReading]:
    masks = [object_mask(p) for p in pictures]
    present = [i for i, m in enumerate(masks) if m.any()]
    probabilities = shape_probabilities([masks[i] for i in present], classifier)
    classes = list(classifier.config.classes)
    readings = [ShapeReading(None, 0.0)] * len(pictures)
    for row, i in zip(probabilities, present, strict=True):
        readings[i] = ShapeReading(classes[int(row.argmax())], float(row[classes.index(asked)]))
    return readings


def word_heard(transcript: str, vocabulary: Sequence[str] = WORDS) -> str | None:
    """The vocabulary word most like any word of the transcript (lower case, letters only), if at least 0.6
    alike by difflib's ratio; None when nothing is."""
    said = re.findall(r"[a-z]+", transcript.lower())
    best, best_ratio = None, 0.0
    for word in vocabulary:
        for token in said:
            ratio = difflib.SequenceMatcher(None, word, token).ratio()
            if ratio > best_ratio:
                best, best_ratio = word, ratio
    return best if best_ratio >= MIN_WORD_RATIO else None


@dataclass(frozen=True)
class WordHearing:
    word: str | None
    transcript: str
    probability: float  # how sure the listener is of `word` (1.0 where it gives no probabilities)


WordListener = Callable[[np.ndarray], WordHearing]


def transcribing_listener(asr: AsrBackend) -> WordListener:
    """Any ASR: its transcript, read for a vocabulary word."""

    def listen(waveform: np.ndarray) -> WordHearing:
        try:
            text = asr.transcribe(waveform, TranscribeOptions(language="en", no_speech_threshold=1.0)).text
        except AudioError:
            text = ""
        word = word_heard(text)
        return WordHearing(word, text, 1.0 if word else 0.0)

    return listen


def scoring_listener(scorer_of: Callable[[np.ndarray], Callable[[list[str]], list[float]] | None],
                     vocabulary: Sequence[str] = WORDS) -> WordListener:  # fmt: skip
    """A Whisper that scores each vocabulary word said in the clip and hears the likeliest: one word a clip,
    as the words split speaks them (our Whisper transcribes captions and forces anything into one)."""

    def listen(waveform: np.ndarray) -> WordHearing:
        scorer = scorer_of(waveform)
        if scorer is None:
            return WordHearing(None, "", 0.0)
        scores = np.asarray(scorer(list(vocabulary)), dtype=np.float64)
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        best = int(probabilities.argmax())
        return WordHearing(vocabulary[best], vocabulary[best], float(probabilities[best]))

    return listen


def classifier_listener(classifier: WordClassifier) -> WordListener:
    """Our word classifier on the clip's own spectrogram (as the spec computes it)."""

    @torch.no_grad()
    def listen(waveform: np.ndarray) -> WordHearing:
        picture = log_mel_image(fit_window(waveform))
        probabilities = classifier(torch.from_numpy(picture)[None, None]).softmax(-1)[0].numpy()
        best = int(probabilities.argmax())
        word = classifier.config.classes[best]
        return WordHearing(word, word, float(probabilities[best]))

    return listen


def consistency(picture: np.ndarray, waveform: np.ndarray) -> float:
    """Pearson r of the WAV's own spectrogram (as the spec computes it, as many bands and frames as the
    picture) against the picture."""
    settings = settings_for(picture)
    return pearson(to_uint8(log_mel_image(fit_window(waveform, settings), settings)), picture)
