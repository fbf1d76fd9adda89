"""Transcript text -> Prompt: drop spoken lead-ins, fillers and repeats; keep the content words in order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from soundsight.errors import ConfigError, PromptError
from soundsight.shapes.captions import snap_caption

# Spoken openings that ask for a picture rather than describe it (the spec's, then common ones).
LEAD_INS: tuple[str, ...] = (
    "draw", "paint", "show me", "make", "please draw", "can you draw", "i want", "a picture of",
    "please", "please paint", "please make", "please show me", "can you", "could you", "would you",
    "can you please", "could you please", "can you paint", "can you make", "can you show me",
    "could you draw", "could you paint", "could you make", "could you show me", "would you draw",
    "i want to see", "i'd like", "i would like", "i'd like to see", "i would like to see", "let me see",
    "give me", "create", "generate", "render", "sketch", "imagine", "picture", "okay", "ok", "so",
    "hey", "alright", "now", "and", "then", "an image of", "a drawing of",
    "an illustration of", "a picture with", "an image with", "draw me", "paint me", "make me",
)  # fmt: skip
FILLERS: frozenset[str] = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "hmm", "mm", "mmm"})
FILLER_PHRASES: tuple[str, ...] = ("you know", "i mean", "kind of like", "sort of like")
ARTICLES = frozenset({"a", "an", "the", "some", "two", "three", "one"})
SUBJECT_PLACEHOLDER = "{}"


@dataclass(frozen=True)
class PromptConfig:
    """How a transcript becomes a prompt. Defaults keep the words as spoken, cleaned."""

    style: str | None = None  # a template with "{}", e.g. "a watercolor painting of {}"
    negative_prompt: str | None = None
    subject: str | None = None  # the personalised subject's phrase, e.g. "sks person"
    subject_words: tuple[str, ...] = ("me", "myself")  # what the speaker calls it, e.g. ("my dog",)
    subject_template: str = "a photo of {}"  # how a prompt that opens with the subject reads
    shapes_only: bool = False  # the painter knows only Spoken Shapes: snap to the caption said, refuse the rest

    def __post_init__(self) -> None:
        for name in ("style", "subject_template"):
            value = getattr(self, name)
            if value is not None and value.count(SUBJECT_PLACEHOLDER) != 1:
                raise ConfigError(f"{name} {value!r}: must hold exactly one '{{}}'")


@dataclass(frozen=True)
class Prompt:
    """The text the image model paints, with the transcript it came from."""

    text: str
    negative_prompt: str | None = None
    source: str = ""  # the transcript as heard


def _words(text: str) -> list[str]:
    """Split into words, keeping apostrophes and inner hyphens; commas become their own token."""
    return re.findall(r"[\w'’-]+|,", text)


def _drop_phrase(words: list[str], phrase: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        if tuple(w.lower() for w in words[i : i + len(phrase)]) == phrase:
            i += len(phrase)
        else:
            out.append(words[i])
            i += 1
    return out


def _strip_lead_ins(words: list[str], keep: frozenset[str]) -> list[str]:
    """Remove lead-ins from the front, longest first, again and again ("um can you please draw ...")."""
    lead_ins = sorted((tuple(p.split()) for p in LEAD_INS), key=len, reverse=True)
    changed = True
    while changed and words:
        changed = False
        if words[0] == ",":
            words, changed = words[1:], True
            continue
        lower = [w.lower() for w in words]
        for lead in lead_ins:
            n = len(lead)
            if tuple(lower[:n]) != lead:
                continue
            # "draw me on the beach": with a subject configured, "me" is the content, not the lead-in
            if lead[-1] in keep and n < len(lower) and lower[n] not in ARTICLES:
                lead = lead[:-1]
                n -= 1
                if n == 0:
                    continue
            words, changed = words[n:], True
            break
    return words


def _drop_fillers(words: list[str]) -> list[str]:
    words = [w for w in words if w.lower() not in FILLERS]
    for phrase in FILLER_PHRASES:
        words = _drop_phrase(words, tuple(phrase.split()))
    # "like" is a filler when it opens the prompt or stands before a comma ("like, a red star")
    out: list[str] = []
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word.lower() == "like" and (not out or nxt == "," or out[-1] == ","):
            continue
        out.append(word)
    return out


def _drop_repeats(words: list[str], longest: int = 4) -> list[str]:
    """Drop words or phrases said twice in a row ("a a red star", "red, red star", "a red star a red star")."""
    out = [
        w
        for i, w in enumerate(words)
        if not (w == "," and 0 < i < len(words) - 1 and words[i - 1].lower() == words[i + 1].lower())
    ]
    i = 0
    while i < len(out):
        for n in range(longest, 0, -1):
            first, second = out[i : i + n], out[i + n : i + 2 * n]
            if len(second) == n and "," not in first and [w.lower() for w in first] == [w.lower() for w in second]:
                del out[i + n : i + 2 * n]
                break
        else:
            i += 1
    return out


def _join(words: list[str]) -> str:
    text = re.sub(r"(\s*,)+", ",", " ".join(words))  # "a house , , with" -> "a house, with"
    return text.strip(" ,")


def _apply_subject(words: list[str], config: PromptConfig) -> str:
    text = _join(words)
    if config.subject is None:
        return text
    for mention in sorted(config.subject_words, key=len, reverse=True):
        pattern = re.compile(rf"\b{re.escape(mention)}\b", re.IGNORECASE)
        match = pattern.search(text)
        if match is None:
            continue
        if match.start() == 0:
            return config.subject_template.format(config.subject) + text[match.end() :]
        return text[: match.start()] + config.subject + text[match.end() :]
    return text


def shapes_caption(body: str, said: str) -> str:
    """The Spoken Shapes caption in `body`; PromptError saying what to do when it holds none."""
    caption = snap_caption(body)
    if caption is None:
        raise PromptError(
            f"{said!r} is not a Spoken Shapes caption, and the bundled image model paints only those: "
            "name a real model with --image-model, or pass --any-prompt to paint it anyway"
        )
    return caption


def build_prompt(text: str, config: PromptConfig | None = None) -> Prompt:
    """Return the prompt for a transcript's text: lead-ins, fillers, repeats and end punctuation gone.

    Raises PromptError when nothing to paint is left.
    """
    config = config or PromptConfig()
    keep = frozenset(w.lower() for w in config.subject_words) if config.subject else frozenset()
    words = _drop_fillers(_words(text))
    words = _drop_repeats(_strip_lead_ins(words, keep))
    body = _apply_subject(words, config)
    if not body:
        raise PromptError(f"transcript {text!r}: nothing to paint once lead-ins and fillers are removed")
    if config.shapes_only:
        body = shapes_caption(body, text)
    if config.style is not None:
        body = config.style.format(body)
    return Prompt(body, config.negative_prompt, text)


def typed_prompt(text: str, config: PromptConfig | None = None) -> Prompt:
    """Return the prompt for text typed to be painted as it is (nothing dropped), in `config`'s style.

    Raises PromptError when the text is empty.
    """
    config = config or PromptConfig()
    body = text.strip()
    if not body:
        raise PromptError("the prompt is empty")
    if config.shapes_only:
        body = shapes_caption(body, text)
    if config.style is not None:
        body = config.style.format(body)
    return Prompt(body, config.negative_prompt, text)
