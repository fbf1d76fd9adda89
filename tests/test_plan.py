from collections import Counter

import numpy as np

from soundsight.shapes.captions import parse_caption
from soundsight.shapes.plan import plan_item, plan_subject
from soundsight.shapes.render import render_scene
from soundsight.shapes.spec import HELD_OUT, PALETTE, SUBJECT_INSTANCE_COUNT, TEST_VOICES


def test_plans_are_deterministic_per_item() -> None:
    assert plan_item(7, "train", 5) == plan_item(7, "train", 5)
    assert plan_item(7, "train", 5) != plan_item(8, "train", 5)
    assert plan_item(7, "train", 5) != plan_item(7, "val", 5)


def test_held_out_pairs_only_in_the_novel_split() -> None:
    for split in ("train", "val", "test"):
        pairs = {(p.scene.color, p.scene.shape) for p in (plan_item(0, split, i) for i in range(600))}
        assert not pairs & HELD_OUT
        assert len(pairs) == 42 if split == "train" else len(pairs) > 30
    novel = {(p.scene.color, p.scene.shape) for p in (plan_item(0, "novel", i) for i in range(120))}
    assert novel == HELD_OUT


def test_captions_describe_their_scene_and_never_repeat_the_object_colour() -> None:
    for i in range(300):
        plan = plan_item(1, "train", i)
        spec = parse_caption(plan.caption)
        assert (spec.shape, spec.color) == (plan.scene.shape, plan.scene.color)
        assert spec.background in (None, plan.scene.background)
        assert plan.scene.background != plan.scene.color
        assert plan.speech.text.endswith(plan.caption)


def test_test_voices_only_in_test_and_novel_with_clean_and_noisy_halves() -> None:
    train_voices = {plan_item(0, s, i).speech.voice for s in ("train", "val") for i in range(1500)}
    assert not train_voices & set(TEST_VOICES)
    assert len(train_voices) > 200
    test = [plan_item(0, "test", i).speech for i in range(60)]
    assert Counter(s.voice for s in test) == {v: 20 for v in TEST_VOICES}
    noisy = [s.snr_db for s in test if s.snr_db is not None]
    assert len(noisy) == 30 and all(5 <= snr <= 10 for snr in noisy)
    assert all(s.reverb_rt60_s is None for s in test)


def test_train_speech_varies_every_setting() -> None:
    plans = [plan_item(0, "train", i) for i in range(300)]
    speech = [p.speech for p in plans]
    assert min(s.speed_wpm for s in speech) >= 120 and max(s.speed_wpm for s in speech) <= 200
    assert min(s.pitch for s in speech) >= 20 and max(s.pitch for s in speech) <= 80
    snrs = [s.snr_db for s in speech if s.snr_db is not None]
    assert 0 < len(snrs) < 300 and min(snrs) >= 5 and max(snrs) <= 30
    assert any(s.reverb_rt60_s for s in speech)
    assert len({s.amplitude for s in speech}) > 20 and len({s.peak for s in speech}) > 100
    assert 30 < sum(p.speech.text != p.caption for p in plans) < 150  # spoken lead-ins


def test_subject_instance_set() -> None:
    plans = plan_subject(0)
    assert len(plans) == SUBJECT_INSTANCE_COUNT
    backgrounds = [p.scene.background for p in plans]
    assert len(set(backgrounds)) == SUBJECT_INSTANCE_COUNT and not {"black", "white"} & set(backgrounds)
    assert {p.scene.size for p in plans} == {"big", "small"}
    assert all(parse_caption(p.caption).is_subject for p in plans)
    for p in plans:  # every description names only what the render shows
        assert len(p.captions) == 8 and p.captions[0] == p.caption and len(set(p.captions)) > 2
        for caption in p.captions:
            spec = parse_caption(caption)
            assert spec.is_subject and spec.size in (None, p.scene.size)
            assert spec.position in (None, p.scene.position) and spec.background in (None, p.scene.background)


def test_small_subject_renders_come_with_a_close_up() -> None:
    """The close-up box holds the whole heart, which fills it as a big heart fills the canvas; its captions name
    the heart big (or no size) on the render's own background."""
    for seed in range(6):
        for p in plan_subject(seed):
            if p.scene.size == "big":
                assert p.crops == () and p.record()["crops"] == []
                continue
            (crop,) = p.crops
            left, top, right, bottom = crop.box
            assert right - left == bottom - top and 0 <= left and 0 <= top and right <= 64 and bottom <= 64
            pixels = np.asarray(render_scene(p.scene)).astype(int)
            ys, xs = np.nonzero(np.abs(pixels - PALETTE[p.scene.background]).sum(-1) > 30)  # the heart, edges too
            assert left <= xs.min() and xs.max() < right and top <= ys.min() and ys.max() < bottom
            assert 0.6 <= p.scene.side_px / (right - left) <= 0.7
            assert p.record()["crops"] == [{"box": list(crop.box), "captions": list(crop.captions)}]
            assert len(crop.captions) == 8
            for caption in crop.captions:
                spec = parse_caption(caption)
                assert spec.is_subject and spec.size in (None, "big") and spec.background in (None, p.scene.background)
