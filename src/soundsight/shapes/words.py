"""Spoken words of Spoken Shapes v1.2: one of the 14 words (8 colours, 6 shapes) spoken once inside the
16,128-sample window of a 64-frame spectrogram, with the speech voices and augmentations (test voices only
in test), and that spectrogram as an 8-bit greyscale PNG."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from soundsight.audio import trim_silence
from soundsight.shapes.plan import SPLIT_IDS, _draw_speech
from soundsight.shapes.spec import COLORS, SHAPES
from soundsight.shapes.speech import SpeechSettings, room_noise_gain, synthesize
from soundsight.spectrogram import SPEC

WORDS: tuple[str, ...] = (*COLORS, *SHAPES)
WORD_SPLITS: tuple[str, ...] = ("train", "val", "test")
WORDS_STREAM = 77  # the words' generators: (seed, WORDS_STREAM, split, index), apart from the scenes'


@dataclass(frozen=True)
class WordPlan:
    """One spoken word: what is said, how, and where in the window it starts."""

    split: str
    index: int
    word: str
    speech: SpeechSettings
    start: float  # where the word starts, as a fraction of the room the window leaves around it

    @property
    def stem(self) -> str:
        return f"{self.index:06d}"

    def record(self) -> dict[str, Any]:
        sp = self.speech
        return {"file_name": f"{self.stem}.wav", "spectrogram": f"{self.stem}.png", "word": self.word,
                "voice": sp.voice, "snr_db": sp.snr_db, "speed_wpm": sp.speed_wpm, "pitch": sp.pitch,
                "amplitude": sp.amplitude, "noise": sp.noise if sp.snr_db is not None else None,
                "reverb_rt60_s": sp.reverb_rt60_s}  # fmt: skip


def plan_word(seed: int, split: str, index: int) -> WordPlan:
    """Word `index` of `split`: the 14 words in turn, each clip's voice and degradations drawn as a caption's
    are (in test: the test voices in turn, three clean clips then three noisy; 14 and 3 share no factor, so
    every 42 clips each word is said by each test voice)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, WORDS_STREAM, SPLIT_IDS[split], index]))
    word = WORDS[index % len(WORDS)]
    settings = replace(_draw_speech(rng, split, index, word), text=word)
    return WordPlan(split, index, word, settings, float(rng.random()))


def render_word(plan: WordPlan) -> np.ndarray:
    """The clip `plan` describes: (16128,) float32 in [-1, 1] at 16 kHz."""
    sp = plan.speech
    spoken = trim_silence(synthesize(sp.text, sp.voice, speed_wpm=sp.speed_wpm, pitch=sp.pitch,
                                     amplitude=sp.amplitude), keep_start_s=0.0, keep_end_s=0.05)  # fmt: skip
    n = SPEC.window_samples
    spoken = spoken[:n]
    start = int(plan.start * (n - len(spoken)))
    window = np.zeros(n, dtype=np.float32)
    window[start : start + len(spoken)] = spoken
    rng = np.random.default_rng(sp.seed)
    degraded = room_noise_gain(window, sp.reverb_rt60_s, sp.reverb_wet, sp.snr_db, sp.noise, sp.peak, rng)
    return degraded[:n]
