"""The spoken caption an ASR model finds likeliest, searched slot by slot through the grammar.

A spoken caption is a lead-in and a caption: word order, size word, colour, shape, position phrase
and background are its slots. Starting from the captions two transcripts hold, each slot in turn
takes the choice the scorer likes best, until none changes: a few dozen scored texts a clip, where
the grammar holds hundreds of thousands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from soundsight.errors import PromptError
from soundsight.shapes.captions import (
    BACKGROUND_FIRST_RE,
    CANONICAL_RE,
    normalize_text,
    parse_caption,
    snap_caption,
    split_lead_in,
)
from soundsight.shapes.spec import COLORS, LEAD_INS, POSITION_PHRASES, SHAPES, SIZE_WORDS, SUBJECT_TOKEN

CaptionScorer = Callable[[list["SpokenCaption"]], list[float]]  # captions -> how likely each was said
MAX_PASSES = 3


@dataclass(frozen=True)
class SpokenCaption:
    """The words of one spoken caption; None where it says nothing for the slot."""

    lead_in: str | None
    background_first: bool
    size_word: str | None
    color: str
    shape: str
    position_phrase: str | None
    background: str | None

    @property
    def text(self) -> str:
        """As the spec writes speech: lower case, "a" before any word."""
        size = f" {self.size_word}" if self.size_word else ""
        position = f" {self.position_phrase}" if self.position_phrase else ""
        obj = f"a{size} {self.color} {self.shape}{position}"
        if self.background_first:
            body = f"a {self.background} background with {obj}"
        else:
            body = obj + (f" on a {self.background} background" if self.background else "")
        return f"{self.lead_in} {body}" if self.lead_in else body

    @property
    def written(self) -> str:
        """As English is written: a capital, "an" before a vowel, a full stop."""
        words = self.text.split()
        words = ["an" if w == "a" and words[i + 1][0] in "aeiou" else w for i, w in enumerate(words[:-1])] + words[-1:]
        sentence = " ".join(words)
        return sentence[0].upper() + sentence[1:] + "."


SLOT_CHOICES: dict[str, tuple[object, ...]] = {
    "lead_in": (None, *LEAD_INS),
    "background_first": (False, True),
    "size_word": (None, *(w for words in SIZE_WORDS.values() for w in words)),
    "color": (*COLORS, SUBJECT_TOKEN),
    "shape": SHAPES,
    "position_phrase": (None, *(p for phrases in POSITION_PHRASES.values() for p in phrases)),
    "background": (None, *COLORS),
}


def spoken_caption(text: str) -> SpokenCaption | None:
    """The slots of `text` if it is a spoken caption (a lead-in, then a caption of the grammar), else None."""
    lead_in, body = split_lead_in(normalize_text(text))
    match, background_first = CANONICAL_RE.match(body), False
    if match is None:
        match, background_first = BACKGROUND_FIRST_RE.match(body), True
    if match is None:
        return None
    slots = match.groupdict()
    caption = SpokenCaption(lead_in, background_first, slots["size"], slots["color"], slots["shape"],
                            slots["position"], slots["background"])  # fmt: skip
    return caption if is_caption(caption) else None


def caption_begun(text: str) -> SpokenCaption | None:
    """The caption `text` holds (captions.snap_caption), else the longest one its first words hold ("a black
    circle and a white background" -> "a black circle"), else None: where a search can start."""
    words = text.split()
    for end in range(len(words), 0, -1):
        found = spoken_caption(snap_caption(" ".join(words[:end])) or "")
        if found is not None:
            return found
    return None


def is_caption(caption: SpokenCaption) -> bool:
    if caption.background_first and caption.background is None:
        return False
    try:
        parse_caption(caption.text)
    except PromptError:
        return False
    return True


def neighbours(caption: SpokenCaption, slot: str) -> list[SpokenCaption]:
    """`caption` with each choice of `slot` the grammar allows there (itself among them)."""
    found = [replace(caption, **{slot: choice}) for choice in SLOT_CHOICES[slot]]  # type: ignore[arg-type]
    return [c for c in found if is_caption(c)]


def likeliest_caption(score: CaptionScorer, seeds: Iterable[SpokenCaption]) -> tuple[SpokenCaption, float] | None:
    """The caption `score` rates highest of those reached from `seeds` one slot at a time, and its score."""
    scores: dict[SpokenCaption, float] = {}

    def rated(captions: list[SpokenCaption]) -> list[float]:
        new = list(dict.fromkeys(c for c in captions if c not in scores))
        if new:
            scores.update(zip(new, score(new), strict=True))
        return [scores[c] for c in captions]

    best: tuple[SpokenCaption, float] | None = None
    for caption in dict.fromkeys(seeds):
        for _ in range(MAX_PASSES):
            start = caption
            for slot in SLOT_CHOICES:
                choices = neighbours(caption, slot)
                values = rated(choices)
                caption = choices[max(range(len(choices)), key=values.__getitem__)]
            if caption == start:
                break
        value = rated([caption])[0]
        if best is None or value > best[1]:
            best = (caption, value)
    return best
