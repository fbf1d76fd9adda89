"""The only module that reads model weights: a Hub id or a local folder, safetensors only."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

from safetensors.torch import load_file

from soundsight.errors import ModelNotFoundError
from soundsight.models.shape_classifier import ShapeClassifier, ShapeClassifierConfig

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"


def bundled_shape_classifier_dir() -> Path:
    """Return the folder of the shape classifier shipped inside the package."""
    return Path(str(resources.files("soundsight") / "assets" / "shape_classifier"))


def load_shape_classifier(folder: Path | str | None = None) -> ShapeClassifier:
    """Return the shape classifier saved in `folder` (default: the bundled one), in eval mode on CPU."""
    folder = Path(folder) if folder is not None else bundled_shape_classifier_dir()
    weights, config_file = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    if not weights.is_file() or not config_file.is_file():
        raise ModelNotFoundError(f"shape classifier '{folder}': no {WEIGHTS_NAME} and {CONFIG_NAME} there")
    config = ShapeClassifierConfig.from_dict(json.loads(config_file.read_text()))
    model = ShapeClassifier(config)
    model.load_state_dict(load_file(weights))
    return model.eval()


@lru_cache(maxsize=1)
def default_shape_classifier() -> ShapeClassifier:
    """The bundled shape classifier, loaded once per process."""
    return load_shape_classifier()
