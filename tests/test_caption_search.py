import jiwer
import pytest

from soundsight.shapes.caption_search import SpokenCaption, caption_begun, is_caption, likeliest_caption, spoken_caption
from soundsight.shapes.captions import parse_caption


def test_spoken_caption_reads_each_slot():
    said = "Can you draw a tiny blue triangle at the bottom on a white background."
    caption = spoken_caption(said)
    assert caption == SpokenCaption("can you draw", False, "tiny", "blue", "triangle", "at the bottom", "white")
    assert caption.text == "can you draw a tiny blue triangle at the bottom on a white background"
    first = spoken_caption("a red background with a big black cross")
    assert first == SpokenCaption(None, True, "big", "black", "cross", None, "red")
    assert first.text == "a red background with a big black cross"


NOT_CAPTIONS = ["go forward ten meters", "a big red circle on the left", "a red circle on a red background"]


@pytest.mark.parametrize("text", NOT_CAPTIONS)
def test_spoken_caption_refuses_what_the_grammar_does_not_hold(text):
    assert spoken_caption(text) is None


def test_background_first_needs_a_background():
    assert not is_caption(SpokenCaption(None, True, None, "red", "circle", None, None))


@pytest.mark.parametrize(
    "said",
    [
        "please draw a little purple star at the top on a green background",
        "a orange background with a big white heart in the middle",
        "show me a sks heart on a yellow background",
        "a black cross",
    ],
)
def test_search_reaches_the_caption_the_scorer_likes_from_a_distant_seed(said):
    def score(captions):  # a scorer that likes the words said: fewer word errors, higher score
        return [-jiwer.wer(said, c.text) for c in captions]

    seed = SpokenCaption("make", False, "small", "red", "circle", "on the left", "blue")
    found, value = likeliest_caption(score, [seed])
    assert found.text == said
    assert value == 0.0
    parse_caption(found.text)


def test_search_keeps_the_best_of_several_seeds_and_scores_each_text_once():
    said = "draw a big green square"
    seen: list[str] = []

    def score(captions):
        seen.extend(captions)
        return [-jiwer.wer(said, c.text) for c in captions]

    seeds = [spoken_caption("a red circle"), spoken_caption("draw a big green square"), spoken_caption("a red circle")]
    found, _ = likeliest_caption(score, seeds)
    assert found.text == said
    assert len(seen) == len(set(seen))


def test_written_is_english_as_written():
    caption = spoken_caption("draw a orange star on a white background")
    assert caption is not None and caption.written == "Draw an orange star on a white background."


def test_a_search_begins_from_the_caption_a_transcript_holds_or_begins_with():
    assert caption_begun("You And you draw a small blue triangle on the white background?") == spoken_caption(
        "a small blue triangle on a white background"
    )
    assert caption_begun("A black circle and a white background.") == spoken_caption("a black circle")
    assert caption_begun("Go forward ten meters.") is None
