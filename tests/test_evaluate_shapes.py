import json
from pathlib import Path

import numpy as np
import pytest

from soundsight.errors import ImageError
from soundsight.evaluate.shapes import CaptionedImage, score_folder, score_images
from soundsight.shapes.build import BuildReport
from soundsight.shapes.render import make_scene, render_scene


def _item(name: str, caption: str, *scene: str) -> CaptionedImage:
    return CaptionedImage(name, np.asarray(render_scene(make_scene(*scene)), dtype=np.float32), caption)


@pytest.mark.parametrize("split", ["train", "test", "novel"])
def test_a_built_split_scores_perfectly(small_build: BuildReport, split: str) -> None:
    scores = score_folder(small_build.out / "scenes" / split)
    assert scores.failures == [] and scores.all_attributes == 1.0
    assert scores.per_attribute["color"] == scores.per_attribute["shape"] == 1.0
    assert scores.attribute_counts["color"] == scores.num_images


def test_the_subject_folder_scores_as_the_subject(small_build: BuildReport) -> None:
    scores = score_folder(small_build.out / "subject")
    assert scores.subject_fidelity == 1.0 and scores.prompt_fidelity in (1.0, None)
    assert scores.all_attributes is None


def test_wrong_attributes_are_counted_per_attribute() -> None:
    images = [
        _item("a", "a big red star on a blue background", "star", "red", "big", "center", "blue"),
        _item("b", "a small red star on the left", "star", "red", "small", "right", "blue"),  # position wrong
        _item("c", "a green circle on a white background", "circle", "green", "big", "center", "black"),  # bg wrong
        _item("d", "a yellow heart", "square", "yellow", "big", "center", "black"),  # shape wrong
    ]
    scores = score_images(images)
    assert scores.all_attributes == 0.25
    assert scores.per_attribute == {"background": 0.5, "color": 1.0, "size": 1.0, "position": 0.0, "shape": 0.75}
    assert scores.attribute_counts == {"background": 2, "color": 4, "size": 2, "position": 1, "shape": 4}
    assert [v.correct for v in scores.verdicts] == [True, False, False, False]
    assert scores.verdicts[1].read["position"] == "right" and scores.verdicts[1].expected["position"] == "left"


def test_subject_prompt_and_prior_scores() -> None:
    images = [
        _item("s1", "a sks heart on a green background", "heart", "sks", "big", "center", "green"),
        _item("s2", "a sks heart on a blue background", "heart", "sks", "small", "top", "red"),  # wrong background
        _item("s3", "a sks heart", "heart", "red", "big", "center", "blue"),  # no checker
        _item("p1", "a red heart", "heart", "red", "big", "center", "blue"),
        _item("p2", "a yellow heart at the top", "heart", "sks", "small", "top", "green"),  # checker leaked in
        _item("p3", "a purple heart", "heart", "purple", "big", "center", "blue"),  # held out: no prior score
    ]
    scores = score_images(images)
    assert scores.subject_fidelity == pytest.approx(2 / 3)
    assert scores.prompt_fidelity == 0.5
    assert scores.prior_preservation == 0.5


def test_bad_items_are_reported_and_the_rest_scored(tmp_path: Path) -> None:
    render_scene(make_scene("star", "red", "big", "center", "blue")).save(tmp_path / "good.png")
    render_scene(make_scene("star", "red", "big", "center", "blue")).save(tmp_path / "pink.png")
    render_scene(make_scene("circle", "red", "big", "center", "blue")).save(tmp_path / "alone.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    rows = [{"file_name": "good.png", "caption": "a red star"}, {"file_name": "pink.png", "caption": "a pink star"},
            {"file_name": "broken.png", "caption": "a red star"}]  # fmt: skip
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = score_folder(tmp_path)
    assert scores.num_images == 4 and scores.all_attributes == 1.0
    assert sorted(f.split(":")[0] for f in scores.failures) == ["alone.png", "broken.png", "pink.png"]
    assert any("unknown colour 'pink'" in f for f in scores.failures)


def test_sidecars_carry_the_pipeline_prompt(tmp_path: Path) -> None:
    image = render_scene(make_scene("cross", "white", "small", "bottom", "black")).resize((512, 512))
    image.save(tmp_path / "talk-0.png")
    (tmp_path / "talk-0.json").write_text(json.dumps({"transcript": "Draw a white cross at the bottom.",
                                                      "prompt": "a white cross at the bottom"}))  # fmt: skip
    with pytest.warns(UserWarning, match="resized"):
        scores = score_folder(tmp_path)
    assert scores.all_attributes == 1.0 and scores.failures == []


def test_a_folder_without_images_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="holds no PNG images"):
        score_folder(tmp_path)
    with pytest.raises(ImageError, match="not a folder"):
        score_folder(tmp_path / "missing")
