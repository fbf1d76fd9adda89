import pytest

from soundsight.errors import ConfigError, PromptError
from soundsight.prompt import PromptConfig, build_prompt
from soundsight.shapes.spec import LEAD_INS

ME = PromptConfig(subject="sks person")
MY_DOG = PromptConfig(subject="sks dog", subject_words=("my dog",))

CASES = [
    # the spec's lead-ins
    ("draw a red star", None, "a red star"),
    ("paint a blue circle on a white background", None, "a blue circle on a white background"),
    ("show me a little green cross at the top", None, "a little green cross at the top"),
    ("make a big black square", None, "a big black square"),
    ("please draw a yellow heart on the left", None, "a yellow heart on the left"),
    ("can you draw a purple triangle", None, "a purple triangle"),
    ("i want a white star in the middle", None, "a white star in the middle"),
    ("a picture of a red cross", None, "a red cross"),
    ("i want a picture of a blue heart", None, "a blue heart"),
    # Whisper's casing and punctuation
    ("Can you draw a red star on a blue background?", None, "a red star on a blue background"),
    ("Draw a red star.", None, "a red star"),
    ("Paint an orange circle!", None, "an orange circle"),
    ("  A tiny green star at the bottom...  ", None, "A tiny green star at the bottom"),
    # other ways of asking
    ("Could you please draw a cat wearing a hat?", None, "a cat wearing a hat"),
    ("Can you please paint a lighthouse at night.", None, "a lighthouse at night"),
    ("I'd like to see a castle on a hill", None, "a castle on a hill"),
    ("I would like a bowl of ramen", None, "a bowl of ramen"),
    ("Please show me a forest in autumn", None, "a forest in autumn"),
    ("Generate an image of a robot reading a book", None, "a robot reading a book"),
    ("Okay so draw a dragon", None, "a dragon"),
    ("Hey, can you make a sunset over the sea?", None, "a sunset over the sea"),
    ("Draw me a cat.", None, "a cat"),
    ("Create a drawing of two dogs playing", None, "two dogs playing"),
    # fillers
    ("Um, draw a red star", None, "a red star"),
    ("Uh, can you, um, paint a boat", None, "a boat"),
    ("draw, like, a mountain", None, "a mountain"),
    ("like a small house by a river", None, "a small house by a river"),
    ("a house, you know, with a red door", None, "a house, with a red door"),
    ("a star like a flower", None, "a star like a flower"),
    ("Erm, a cup of coffee, I mean, a cup of tea", None, "a cup of coffee, a cup of tea"),
    # repeats
    ("draw a a red star", None, "a red star"),
    ("paint a red, red rose", None, "a red rose"),
    ("a big big dog", None, "a big dog"),
    ("draw a red star a red star", None, "a red star"),
    # content words and order kept
    ("a cat on a mat next to a dog", None, "a cat on a mat next to a dog"),
    ("show me the Eiffel Tower at dawn", None, "the Eiffel Tower at dawn"),
    ("Ask not what your country can do for you.", None, "Ask not what your country can do for you"),
    ("He was not an ill disposed young man", None, "He was not an ill disposed young man"),
    # the personalised subject
    ("draw me on the beach", ME, "a photo of sks person on the beach"),
    ("Paint me skydiving!", ME, "a photo of sks person skydiving"),
    ("a picture of me in the snow", ME, "a photo of sks person in the snow"),
    ("can you draw a portrait of me with a hat", ME, "a portrait of sks person with a hat"),
    ("show me my dog running in the park", MY_DOG, "a photo of sks dog running in the park"),
    ("draw me a cat", ME, "a cat"),
    ("draw me on the beach", None, "on the beach"),  # no subject configured: "me" paints nothing
]


@pytest.mark.parametrize(("transcript", "config", "expected"), CASES)
def test_build_prompt(transcript: str, config: PromptConfig | None, expected: str) -> None:
    prompt = build_prompt(transcript, config)
    assert prompt.text == expected
    assert prompt.source == transcript


def test_the_table_has_at_least_forty_cases_and_every_spec_lead_in() -> None:
    assert len(CASES) >= 40
    assert all(any(t.lower().startswith(lead) for t, _, _ in CASES) for lead in LEAD_INS)


def test_style_template_and_negative_prompt() -> None:
    prompt = build_prompt("draw a fox", PromptConfig(style="a watercolor painting of {}", negative_prompt="blurry"))
    assert (prompt.text, prompt.negative_prompt) == ("a watercolor painting of a fox", "blurry")


def test_nothing_left_to_paint_is_an_error() -> None:
    with pytest.raises(PromptError, match=r"transcript 'um, can you draw\?': nothing to paint"):
        build_prompt("um, can you draw?")


def test_a_template_without_a_slot_is_refused() -> None:
    with pytest.raises(ConfigError, match="style 'watercolor': must hold exactly one"):
        PromptConfig(style="watercolor")
