import json
from pathlib import Path

from safetensors.torch import load_file

from soundsight.defaults import bundled_shape_classifier_dir
from soundsight.loading import load_shape_classifier
from soundsight.train.shape_classifier import ShapeClassifierTrainConfig, main


def test_a_short_run_learns_saves_and_reloads(tmp_path: Path) -> None:
    out = tmp_path / "classifier"
    card = main(
        ShapeClassifierTrainConfig(
            out=out, num_train=3000, num_eval=300, epochs=3, batch_size=128, workers=2, progress=False
        )
    )
    assert set(card["accuracy"]) == {"clean", "noisy", "blurred"}
    assert card["accuracy"]["clean"] > 0.9  # six classes: chance is 0.17
    assert set(load_file(out / "model.safetensors")) == set(load_shape_classifier(out).state_dict())
    assert json.loads((out / "training.json").read_text())["command"].startswith("soundsight train shape-classifier")


def test_the_bundled_classifier_is_small_and_says_how_it_was_trained() -> None:
    folder = bundled_shape_classifier_dir()
    assert (folder / "model.safetensors").stat().st_size < 2_000_000
    card = json.loads((folder / "training.json").read_text())
    assert card["accuracy"]["clean"] >= 0.99
    assert card["config"]["num_train"] == "40000"
