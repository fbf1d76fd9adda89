"""Two ASRs behind one: a Spoken Shapes caption when one was said, in any voice; else a general model's words.

Moonshine hears people's own words; our Spoken Shapes Whisper hears captions in the voices it trained
on. Neither alone hears a caption in a voice it never met, but both together do: starting from the
captions their transcripts hold, the grammar is searched slot by slot (shapes/caption_search.py) for
the caption the two find likeliest, their log-likelihoods added. It is taken when Moonshine finds it
about as likely as its own words, a word for a word; in steady noise, where Moonshine hears nonsense,
its scores count half and the caption may be a little less likely to it; else Moonshine's transcript stands, so whatever
else people say comes out as said. (Our Whisper's own certainty is no guide: it is as sure of a
caption it forces onto "front left" as of one said.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from soundsight.asr import AsrBackend, AsrCapabilities, TextScorer, TranscribeOptions, Transcript
from soundsight.audio import estimated_snr_db, trim_silence
from soundsight.errors import AudioError
from soundsight.shapes.caption_search import SpokenCaption, caption_begun, likeliest_caption

# Set on captions in the spec's val voices and our wider training voices and on sentences that are no
# caption, all of our own making (benchmarks/calibrate_caption_listener.py); never on held-out voices or
# people's speech.
MAX_GAP_PER_WORD = 2.0  # nats a caption word: how much less likely Moonshine may find the caption than its words
# In steady noise Moonshine hears nonsense and our Whisper (trained on noise) does not: there Moonshine's
# log-likelihoods count half in the search, and the caption may be a little less likely to it
# (benchmarks/calibrate_noisy_listener.py, on our own data too).
NOISY_SNR_DB = 20.0  # audio.estimated_snr_db below this is noisy
MAX_GAP_PER_WORD_NOISY = 2.5
GENERAL_WEIGHT_NOISY = 0.5


class ScoringAsr(AsrBackend, Protocol):
    def text_scorer(self, waveform: np.ndarray) -> TextScorer | None: ...


@dataclass(frozen=True)
class Heard:
    """What the listener made of one clip: the caption found (or None), and how each model rated it."""

    caption: SpokenCaption | None
    noisy: bool = False  # heard in steady noise (audio.estimated_snr_db)
    general_gap: float = float("inf")  # Moonshine's log-likelihood of its own words less the caption's
    general_own: float = float("-inf")  # Moonshine's log-likelihood of its own words
    world_text: str = ""  # what our Whisper transcribed

    @property
    def gap_per_word(self) -> float:
        return self.general_gap / len(self.caption.text.split()) if self.caption else float("inf")


def shared_capabilities(a: AsrCapabilities, b: AsrCapabilities) -> AsrCapabilities:
    if a.languages is None or b.languages is None:
        languages = a.languages or b.languages
    else:
        languages = tuple(code for code in a.languages if code in b.languages)
    return AsrCapabilities(languages, a.translate and b.translate, a.timestamps and b.timestamps)


@dataclass(frozen=True)
class RoutedAsr:
    world: ScoringAsr  # hears Spoken Shapes captions, scores them spec-style
    general: ScoringAsr  # hears any speech in its languages, scores written English
    name: str
    max_gap_per_word: float = MAX_GAP_PER_WORD
    max_gap_per_word_noisy: float = MAX_GAP_PER_WORD_NOISY
    general_weight_noisy: float = GENERAL_WEIGHT_NOISY

    @property
    def capabilities(self) -> AsrCapabilities:
        return shared_capabilities(self.world.capabilities, self.general.capabilities)

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        """The caption said (as the spec writes it; `model` names our Whisper), else the general model's
        transcript."""
        waveform = trim_silence(waveform)
        heard = self.general.transcribe(waveform, options)
        found = self.listen(waveform, heard.text, options)
        if found.caption is None or not self.believed(found):
            return heard
        return Transcript(found.caption.text, heard.language, heard.task, self.world.name)

    def believed(self, found: Heard) -> bool:
        return found.gap_per_word <= (self.max_gap_per_word_noisy if found.noisy else self.max_gap_per_word)

    def listen(self, waveform: np.ndarray, general_text: str, options: TranscribeOptions) -> Heard:
        """The caption both models find likeliest in `waveform`, searched from those the two transcripts hold
        (`general_text` is the general model's); none for audio too long for one caption."""
        world_score, general_score = self.world.text_scorer(waveform), self.general.text_scorer(waveform)
        if world_score is None or general_score is None:  # too long for one caption
            return Heard(None)
        try:
            world_text = self.world.transcribe(waveform, options).text
        except AudioError:
            world_text = ""
        seeds = [seed for seed in (caption_begun(general_text), caption_begun(world_text)) if seed is not None]
        if not seeds:
            return Heard(None)

        noisy = estimated_snr_db(waveform) < NOISY_SNR_DB
        weight = self.general_weight_noisy if noisy else 1.0

        def score(captions: list[SpokenCaption]) -> list[float]:
            world = world_score([c.text for c in captions])
            general = general_score([c.written for c in captions])
            return [w + weight * g for w, g in zip(world, general, strict=True)]

        best = likeliest_caption(score, seeds)
        if best is None:
            return Heard(None)
        caption = best[0]
        own, of_caption = general_score([general_text, caption.written])  # "" too: it heard nothing
        return Heard(caption, noisy, own - of_caption, own, world_text)
