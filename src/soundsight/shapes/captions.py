"""The Spoken Shapes caption grammar: scene -> caption words, and caption text -> what it asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from soundsight.errors import PromptError
from soundsight.shapes.render import Scene
from soundsight.shapes.spec import (
    BIG_POSITIONS,
    COLORS,
    LEAD_INS,
    POSITION_PHRASES,
    POSITIONS,
    SHAPES,
    SIZE_WORDS,
    SUBJECT_SHAPE,
    SUBJECT_TOKEN,
)

# How often a generated caption leaves an attribute out, or uses the background-first order.
P_BACKGROUND_FIRST = 0.3
P_OMIT_SIZE = 0.25
P_OMIT_POSITION = 0.25
P_OMIT_BACKGROUND = 0.25
P_BIG_POSITION_PHRASE = 0.5  # big objects: "in the center"/"in the middle" or nothing


@dataclass(frozen=True)
class CaptionSpec:
    """What a caption asks for; None where it leaves the attribute free."""

    shape: str
    color: str  # a palette name, or "sks" for the DreamBooth subject
    size: str | None = None
    position: str | None = None
    background: str | None = None

    @property
    def is_subject(self) -> bool:
        return self.color == SUBJECT_TOKEN


def draw_free_attributes(spec: CaptionSpec, rng: np.random.Generator) -> CaptionSpec:
    """`spec` with what it leaves free drawn as the spec draws scenes: small or big at even odds, a small object
    anywhere, a big one at the center, a background of another colour than the object's."""
    size = spec.size
    if size is None:
        size = "small" if spec.position not in (None, *BIG_POSITIONS) or rng.random() < 0.5 else "big"
    position = spec.position or (str(rng.choice(POSITIONS)) if size == "small" else BIG_POSITIONS[0])
    background = spec.background or str(rng.choice([c for c in COLORS if c != spec.color]))
    return replace(spec, size=size, position=position, background=background)


def fill_caption(text: str, rng: np.random.Generator) -> str:
    """The caption `text` with what it leaves free drawn (draw_free_attributes) and written in, synonyms from `rng`.

    Raises PromptError naming the caption when it is outside the grammar.
    """
    return write_caption(draw_free_attributes(parse_caption(text), rng), rng)


def normalize_text(text: str) -> str:
    """Return `text` normalised as the spec scores it: lower case, letters only, "an" -> "a"."""
    words = re.sub(r"[^a-z]", " ", text.lower()).split()
    return " ".join("a" if w == "an" else w for w in words)


def split_lead_in(text: str) -> tuple[str | None, str]:
    """Return (lead-in or None, the rest) of normalised `text`, removing the longest spoken lead-in."""
    for lead_in in sorted(LEAD_INS, key=len, reverse=True):
        if text.startswith(lead_in + " ") and text[len(lead_in) + 1 :].startswith("a "):
            return lead_in, text[len(lead_in) + 1 :]
    return None, text


def _alternatives(words: list[str]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_SIZE_OF_WORD = {w: size for size, words in SIZE_WORDS.items() for w in words}
_POSITION_OF_PHRASE = {p: pos for pos, phrases in POSITION_PHRASES.items() for p in phrases}
_SIZE = f"(?P<size>{_alternatives(list(_SIZE_OF_WORD))})"
_COLOR = f"(?P<color>{_alternatives([*COLORS, SUBJECT_TOKEN])})"
_SHAPE = f"(?P<shape>{_alternatives(list(SHAPES))})"
_POSITION = f"(?P<position>{_alternatives(list(_POSITION_OF_PHRASE))})"
_BACKGROUND = f"(?P<background>{_alternatives(list(COLORS))})"
_OBJECT = f"a(?: {_SIZE})? {_COLOR} {_SHAPE}(?: {_POSITION})?"
CANONICAL_RE = re.compile(f"^{_OBJECT}(?: on a {_BACKGROUND} background)?$")
BACKGROUND_FIRST_RE = re.compile(f"^a {_BACKGROUND} background with {_OBJECT}$")

_GRAMMAR_WORDS = set(" ".join([*_SIZE_OF_WORD, *_POSITION_OF_PHRASE, *COLORS, *SHAPES, *LEAD_INS]).split()) | {
    "a",
    "on",
    "background",
    "with",
    SUBJECT_TOKEN,
}


_CAPTION_WORDS = _GRAMMAR_WORDS - set(" ".join(LEAD_INS).split()) | {"a", "the"}


def _explain_mismatch(words: list[str]) -> str:
    """Name the first word that the grammar does not know, guessing what it stands for."""
    for i, word in enumerate(words):
        if word in _GRAMMAR_WORDS:
            continue
        following = words[i + 1] if i + 1 < len(words) else ""
        preceding = words[i - 1] if i > 0 else ""
        if following in SHAPES or following == "background":
            return f"unknown colour {word!r} (expected one of {', '.join(COLORS)})"
        if preceding in COLORS or preceding == SUBJECT_TOKEN:
            return f"unknown shape {word!r} (expected one of {', '.join(SHAPES)})"
        return f"unknown word {word!r}"
    return "outside the Spoken Shapes grammar ('a {size} {color} {shape} {position} on a {background} background')"


def parse_caption(text: str) -> CaptionSpec:
    """Return the CaptionSpec a caption asks for; spoken lead-ins, case and punctuation are tolerated.

    Raises PromptError naming the caption when it is outside the grammar.
    """
    _, body = split_lead_in(normalize_text(text))
    match = CANONICAL_RE.match(body) or BACKGROUND_FIRST_RE.match(body)
    if match is None:
        raise PromptError(f"caption {text!r}: {_explain_mismatch(body.split())}")
    groups = match.groupdict()
    spec = CaptionSpec(
        shape=groups["shape"],
        color=groups["color"],
        size=_SIZE_OF_WORD[groups["size"]] if groups["size"] else None,
        position=_POSITION_OF_PHRASE[groups["position"]] if groups["position"] else None,
        background=groups["background"],
    )
    if spec.background == spec.color:
        raise PromptError(f"caption {text!r}: object and background are both {spec.color!r}")
    if spec.size == "big" and spec.position not in (None, *BIG_POSITIONS):
        raise PromptError(f"caption {text!r}: a big object is always at the center")
    if spec.is_subject and spec.shape != SUBJECT_SHAPE:
        raise PromptError(f"caption {text!r}: the sks subject is a heart, not a {spec.shape}")
    return spec


def write_caption(spec: CaptionSpec, rng: np.random.Generator, *, background_first: bool = False) -> str:
    """Return the words for `spec`, synonyms drawn from `rng`; background-first needs a background."""
    size = f" {rng.choice(SIZE_WORDS[spec.size])}" if spec.size else ""
    position = f" {rng.choice(POSITION_PHRASES[spec.position])}" if spec.position else ""
    obj = f"a{size} {spec.color} {spec.shape}{position}"
    if background_first:
        if spec.background is None:
            raise PromptError("the background-first word order always names the background")
        return f"a {spec.background} background with {obj}"
    return obj + (f" on a {spec.background} background" if spec.background else "")


def caption_scene(scene: Scene, rng: np.random.Generator) -> str:
    """Return a caption of `scene` in either word order, leaving attributes out at random."""
    background_first = bool(rng.random() < P_BACKGROUND_FIRST)
    size = scene.size if rng.random() >= P_OMIT_SIZE else None
    if scene.size == "big":
        position = scene.position if rng.random() < P_BIG_POSITION_PHRASE else None
    else:
        position = scene.position if rng.random() >= P_OMIT_POSITION else None
    background = scene.background if background_first or rng.random() >= P_OMIT_BACKGROUND else None
    spec = CaptionSpec(scene.shape, scene.color, size, position, background)
    return write_caption(spec, rng, background_first=background_first)


def snap_caption(text: str) -> str | None:
    """The Spoken Shapes caption `text` holds, as the grammar writes it; None if it holds none.

    Mends what a general ASR or a person adds around a caption: lead-ins and words outside the
    grammar ("you and you draw ...", "... please"), "the" for "a" ("on the white background"),
    "back ground", a missing first article ("red star", two spoken words joined). Only a run of grammar words
    that parses whole is taken.
    """
    words = normalize_text(text).replace("back ground", "background").split()
    mended = [
        "a" if w == "the" and i + 1 < len(words) and words[i + 1] in (*_SIZE_OF_WORD, *COLORS, SUBJECT_TOKEN) else w
        for i, w in enumerate(words)
    ]
    kept = [w for w in mended if w in _CAPTION_WORDS]
    starts = [" ".join(kept[i:]) for i, w in enumerate(kept) if w == "a"]
    if kept and kept[0] != "a":
        starts.append(" ".join(["a", *kept]))  # the article left out, as in "red star"
    for body in starts:
        try:
            parse_caption(body)
        except PromptError:
            continue
        return body
    return None
