"""The bundled models and how they paint: the one home of SoundSight's defaults, read by every front end."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from soundsight.errors import ConfigError
from soundsight.generate import GenerateConfig

HUB_ASR_MODEL = "openai/whisper-small"
SPEECH_TRANSFORMER = "speech-transformer"  # the name of our shipped Speech-Transformer (--asr-model)
KEYWORDS = "keywords"  # the name of our shipped keyword recogniser (--asr-model)
STACKGAN, STACKGAN_STAGE1 = "stackgan", "stackgan-1"  # our shipped StackGAN (--image-model): Stage II, Stage I
STACKGANS = (STACKGAN, STACKGAN_STAGE1)
CGAN = "cgan"  # our shipped conditional GAN of the word-vector route (--image-model)
AUTO_ASR = "auto"  # the name of our Spoken Shapes Whisper and Moonshine behind one ASR (backends/routed.py)
HUB_IMAGE_MODEL = "stabilityai/stable-diffusion-2-1-base"
SHAPES_PAINT = GenerateConfig(steps=20, guidance=4.0)  # how the bundled model was scored (its model card)
PAINT_SETTINGS_FILE = "soundsight_paint.json"  # {"steps": N, "guidance": G, "world"?}: how a folder paints
SHAPES_WORLD = "spoken-shapes"  # PAINT_SETTINGS_FILE "world" of a model that paints only Spoken Shapes
ASR_SETTINGS_FILE = "soundsight_asr.json"  # {"languages": [...], "translate": ..., "timestamps": ...}


def _asset(name: str) -> Path:
    return Path(str(resources.files("soundsight") / "assets" / name))


def bundled_shape_classifier_dir() -> Path:
    """Return the folder of the shape classifier shipped inside the package."""
    return _asset("shape_classifier")


def bundled_asr_dir() -> Path:
    """Return the folder of our Spoken Shapes Whisper shipped inside the package."""
    return _asset("whisper_shapes")


def bundled_keywords_dir() -> Path:
    """Return the folder of our keyword recogniser shipped inside the package."""
    return _asset("keywords")


def bundled_speech_transformer_dir() -> Path:
    """Return the folder of our Spoken Shapes Speech-Transformer shipped inside the package."""
    return _asset("speech_transformer")


def bundled_cgan_dir() -> Path:
    """Return the folder of our Spoken Shapes conditional GAN (with its word vectors) shipped inside the package."""
    return _asset("cgan")


def bundled_stackgan_dir() -> Path:
    """Return the folder of our Spoken Shapes StackGAN (Stage I and II) shipped inside the package."""
    return _asset("stackgan")


def bundled_image_model_dir() -> Path:
    """Return the folder of our Spoken Shapes Stable Diffusion shipped inside the package."""
    return _asset("sd_shapes")


def bundled_adapter_dir() -> Path:
    """Return the folder of the audio adapter shipped inside the package (for the bundled models)."""
    return _asset("sound_adapter")


def default_asr_model() -> str:
    """ "auto" when our Spoken Shapes Whisper is shipped in the package (offline: it and Moonshine together,
    backends/routed.py: captions in any voice, people's words as said), else OpenAI's whisper-small."""
    return AUTO_ASR if (bundled_asr_dir() / "model.safetensors").is_file() else HUB_ASR_MODEL


def default_image_model() -> str:
    """Our Spoken Shapes Stable Diffusion shipped in the package (offline), else SD 2.1-base."""
    bundled = bundled_image_model_dir()
    return str(bundled) if (bundled / "model_index.json").is_file() else HUB_IMAGE_MODEL


def _paint_settings(image_model: str | Path) -> dict | None:
    """A model folder's PAINT_SETTINGS_FILE, or that of the model/ a training run's folder holds."""
    own = Path(image_model) / PAINT_SETTINGS_FILE
    if not own.is_file():
        own = Path(image_model) / "model" / PAINT_SETTINGS_FILE
    if not own.is_file():
        return None
    try:
        settings = json.loads(own.read_text())
        if not isinstance(settings, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise ConfigError(f"'{own}': expected steps and guidance as JSON ({e.__class__.__name__})") from None
    return settings


def paints_spoken_shapes(image_model: str | Path) -> bool:
    """Whether `image_model` knows only the Spoken Shapes world: the bundled model, or one personalised from it
    (its PAINT_SETTINGS_FILE says so), or our GANs (shipped, or a folder `soundsight train stackgan` or `train
    cgan` saved)."""
    if Path(image_model).resolve() == bundled_image_model_dir().resolve() or str(image_model) in (*STACKGANS, CGAN):
        return True
    settings = _paint_settings(image_model)
    return bool(settings and settings.get("world") == SHAPES_WORLD)


def default_generate_config(image_model: str | Path) -> GenerateConfig:
    """Stable Diffusion's usual 30 steps at guidance 7.5, what our bundled model was scored with, or what a
    model folder names in its PAINT_SETTINGS_FILE (DreamBooth writes its base model's there)."""
    if Path(image_model).resolve() == bundled_image_model_dir().resolve():
        return SHAPES_PAINT
    settings = _paint_settings(image_model)
    if settings is None:
        return GenerateConfig()
    try:
        return GenerateConfig(steps=int(settings["steps"]), guidance=float(settings["guidance"]))
    except (ValueError, KeyError, TypeError) as e:
        own = Path(image_model) / PAINT_SETTINGS_FILE
        raise ConfigError(f"'{own}': expected steps and guidance as JSON ({e.__class__.__name__})") from None
