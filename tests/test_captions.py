import numpy as np
import pytest

from soundsight.errors import PromptError
from soundsight.shapes.captions import CaptionSpec, caption_scene, normalize_text, parse_caption, split_lead_in
from soundsight.shapes.render import make_scene
from soundsight.shapes.spec import LEAD_INS


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("a small red star on the left on a blue background", CaptionSpec("star", "red", "small", "left", "blue")),
        ("a blue background with a small red star on the left", CaptionSpec("star", "red", "small", "left", "blue")),
        ("a tiny green cross at the top", CaptionSpec("cross", "green", "small", "top", None)),
        ("a little white heart at the bottom", CaptionSpec("heart", "white", "small", "bottom", None)),
        ("a large black circle in the middle", CaptionSpec("circle", "black", "big", "center", None)),
        (
            "a big yellow square in the center on a red background",
            CaptionSpec("square", "yellow", "big", "center", "red"),
        ),
        ("a purple triangle", CaptionSpec("triangle", "purple")),
        ("a orange star on the right", CaptionSpec("star", "orange", None, "right", None)),
        ("An orange star on the right.", CaptionSpec("star", "orange", None, "right", None)),
        ("Draw a red circle, on a white background!", CaptionSpec("circle", "red", None, None, "white")),
        ("can you draw a green background with a big blue heart", CaptionSpec("heart", "blue", "big", None, "green")),
        ("a picture of a red star", CaptionSpec("star", "red")),
        ("I want a tiny black cross", CaptionSpec("cross", "black", "small")),
        ("show me a sks heart on a blue background", CaptionSpec("heart", "sks", None, None, "blue")),
    ],
)
def test_parse_reads_both_orders_synonyms_and_lead_ins(text: str, spec: CaptionSpec) -> None:
    assert parse_caption(text) == spec


def test_normalize_text_follows_the_spec() -> None:
    assert normalize_text("  Draw AN orange-star, please!! ") == "draw a orange star please"


@pytest.mark.parametrize("lead_in", LEAD_INS)
def test_every_spoken_lead_in_is_removed(lead_in: str) -> None:
    assert split_lead_in(f"{lead_in} a red star") == (lead_in, "a red star")
    assert parse_caption(f"{lead_in} a red star at the top") == CaptionSpec("star", "red", None, "top")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a pink star", "unknown colour 'pink'"),
        ("a red hexagon on a blue background", "unknown shape 'hexagon'"),
        ("a red star on a pink background", "unknown colour 'pink'"),
        ("a red star near the left", "unknown word 'near'"),
        ("red star", "outside the Spoken Shapes grammar"),
        ("a red star on a red background", "both 'red'"),
        ("a big red star on the left", "always at the center"),
        ("a sks star", "the sks subject is a heart"),
    ],
)
def test_captions_outside_the_grammar_are_named(text: str, message: str) -> None:
    with pytest.raises(PromptError, match=message) as info:
        parse_caption(text)
    assert repr(text) in str(info.value)
    assert "\n" not in str(info.value)


def test_generated_captions_parse_back_to_the_scene() -> None:
    rng = np.random.default_rng(0)
    orders, omitted = set(), {"size": 0, "position": 0, "background": 0}
    for i in range(400):
        size = "big" if i % 2 else "small"
        scene = make_scene("star", "red", size, "center" if size == "big" else "left", "blue", rng)
        caption = caption_scene(scene, rng)
        spec = parse_caption(caption)
        orders.add(caption.endswith("background") or "background" not in caption)
        assert (spec.shape, spec.color) == ("star", "red")
        for attribute in omitted:
            value = getattr(spec, attribute)
            assert value in (None, getattr(scene, attribute))
            omitted[attribute] += value is None
        assert caption == caption.lower() and caption.startswith("a ")
    assert orders == {True, False}
    assert all(count > 20 for count in omitted.values())
