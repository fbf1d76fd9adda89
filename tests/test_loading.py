"""loading.py: the one place that reads weights. Names and folders map to backends, a folder declares what its
model can do, only safetensors are read, and every failure is one line naming the model."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from soundsight.asr import AsrCapabilities, check_asr_options
from soundsight.backends.diffusers import DiffusersPainter
from soundsight.backends.whisper import WhisperAsr
from soundsight.defaults import ASR_SETTINGS_FILE, bundled_asr_dir
from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.loading import (
    asr_backend,
    load_asr,
    load_denoiser,
    load_painter,
    load_vae,
    painter_backend,
    resolve_dtype,
)


class Tripwire:
    """Unpickling this creates a file: proof that nobody unpickled it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


def _pickled_copy(folder: Path, out: Path, weights: str, pickled: str, marker: Path) -> Path:
    """`folder` copied with its safetensors weights swapped for a pickle that trips `marker` when loaded."""
    shutil.copytree(folder, out)
    (out / weights).unlink()
    (out / pickled).write_bytes(pickle.dumps(Tripwire(marker)))
    return out


def test_names_and_folders_map_to_their_backends(tiny_whisper: Path, tiny_sd: Path, tmp_path: Path) -> None:
    assert asr_backend("moonshine") == "moonshine"
    assert asr_backend(tiny_whisper) == "whisper"  # its config.json says model_type whisper
    assert asr_backend("openai/whisper-small") == "whisper"
    assert painter_backend(tiny_sd) == "diffusers"
    other = tmp_path / "clip"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "clip"}))
    with pytest.raises(ModelNotFoundError, match="ASR model '.*clip': holds a clip model, which no ASR backend reads"):
        load_asr(other)
    # transformers' own Moonshine folders are not what the moonshine-voice wheel runs: refused, not swapped
    (other / "config.json").write_text(json.dumps({"model_type": "moonshine"}))
    with pytest.raises(ModelNotFoundError, match="holds a moonshine model, which no ASR backend reads"):
        load_asr(other)


def test_what_a_whisper_can_do_comes_from_its_folder(tiny_whisper: Path, tmp_path: Path) -> None:
    hub_like = load_asr(tiny_whisper, device="cpu")
    assert isinstance(hub_like, WhisperAsr)
    assert hub_like.capabilities == AsrCapabilities(languages=None, translate=True, timestamps=True)
    declared = tmp_path / "english-whisper"
    shutil.copytree(tiny_whisper, declared)
    (declared / ASR_SETTINGS_FILE).write_text(json.dumps({"languages": ["en"], "translate": False}))
    english = load_asr(declared, device="cpu")
    assert english.capabilities == AsrCapabilities(languages=("en",), translate=False, timestamps=True)
    (declared / ASR_SETTINGS_FILE).write_text(json.dumps({"sings": True}))
    with pytest.raises(ConfigError, match=r"soundsight_asr.json': expected languages, .*unknown keys \['sings'\]"):
        load_asr(declared, device="cpu")


def test_the_bundled_whisper_declares_english_only_without_timestamps() -> None:
    bundled = load_asr(bundled_asr_dir(), device="cpu")
    assert bundled.capabilities == AsrCapabilities(languages=("en",), translate=False, timestamps=False)
    for english in ("en", "EN", "english", "<|en|>"):  # the spellings Whisper itself takes
        check_asr_options(bundled, language=english)
    with pytest.raises(ConfigError, match="--language French: ASR model '.*whisper_shapes' hears English only"):
        check_asr_options(bundled, language="French")


def test_pickled_weights_are_never_read(tiny_whisper: Path, tiny_sd: Path, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    whisper = _pickled_copy(tiny_whisper, tmp_path / "whisper", "model.safetensors", "pytorch_model.bin", marker)
    with pytest.raises(ModelNotFoundError, match="ASR model '.*whisper': not a model folder"):
        load_asr(whisper, device="cpu")
    sd = _pickled_copy(tiny_sd, tmp_path / "sd", "unet/diffusion_pytorch_model.safetensors",
                       "unet/diffusion_pytorch_model.bin", marker)  # fmt: skip
    with pytest.raises(ModelNotFoundError, match="image model '.*sd': not a model folder"):
        load_painter(sd, device="cpu")
    with pytest.raises(ModelNotFoundError, match="image model '.*sd': not a model folder"):
        load_denoiser(sd)
    assert not marker.exists()


def test_a_painter_and_the_parts_training_reads(tiny_sd: Path, tmp_path: Path) -> None:
    painter = load_painter(tiny_sd, device="cpu", backend="torch")  # the parts training reads are torch's
    assert isinstance(painter, DiffusersPainter) and painter.name == str(tiny_sd) and painter.native_size == 32
    assert painter.capabilities.prompt_embeds and "euler_a" in painter.capabilities.schedulers
    assert painter.encode_prompts(["a red star"]).shape == (1, 77, 16)
    vae = load_vae(tiny_sd / "vae")
    key = "decoder.conv_out.weight"
    assert torch.equal(vae.state_dict()[key], painter.pipe.vae.state_dict()[key])
    text_encoder, unet = load_denoiser(tiny_sd)
    assert unet.config.sample_size == 8 and text_encoder.config.hidden_size == 16
    with pytest.raises(ModelNotFoundError, match="VAE '.*nowhere': not a model folder"):
        load_vae(tmp_path / "nowhere")


def test_dtypes_by_name_and_alias() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype("bf16", cpu) is torch.bfloat16 and resolve_dtype("float32", cpu) is torch.float32
    with pytest.raises(ConfigError, match="dtype 'int8': expected auto, float32, bfloat16 or float16"):
        resolve_dtype("int8", cpu)
