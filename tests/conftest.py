"""Shared fixtures: one small Spoken Shapes build per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from soundsight.shapes.build import BuildConfig, BuildReport, build_dataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMALL_COUNTS = {"train": 24, "val": 6, "test": 12, "novel": 12}


@pytest.fixture(scope="session", autouse=True)
def converted_models_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models converted for OpenVINO go to the session's own folder, never the user's cache. And `auto` means
    torch here, save where a test asks for OpenVINO: converting each of the suite's many tiny models would
    cost about 12 s apiece (tests/test_cpu_backends.py and the bundled loop's tests run OpenVINO)."""
    folder = tmp_path_factory.mktemp("cache")
    os.environ["SOUNDSIGHT_CACHE"] = str(folder)
    os.environ["SOUNDSIGHT_BACKEND"] = "torch"
    return folder


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .tiny_models import save_tiny_whisper

    return save_tiny_whisper(tmp_path_factory.mktemp("models") / "whisper")


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .tiny_models import save_tiny_stable_diffusion

    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("models") / "sd")


@pytest.fixture(scope="session")
def tiny_lora(tiny_sd: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LoRA weights for tiny_sd, saved the way diffusers saves them, strong enough to change its pictures."""
    import torch
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    pipe.unet.add_adapter(LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    with torch.no_grad():
        for name, param in pipe.unet.named_parameters():
            if "lora_B" in name:
                param.fill_(0.5)
    out = tmp_path_factory.mktemp("models") / "lora"
    StableDiffusionPipeline.save_lora_weights(out, unet_lora_layers=get_peft_model_state_dict(pipe.unet))
    return out


@pytest.fixture(scope="session")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> BuildReport:
    out = tmp_path_factory.mktemp("shapes") / "set"
    return build_dataset(BuildConfig(out=out, seed=3, workers=2, progress=False, **SMALL_COUNTS))
