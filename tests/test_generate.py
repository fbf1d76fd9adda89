import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.generate import GenerateConfig, check_painter, generate
from soundsight.loading import load_painter, load_pipeline
from soundsight.output import save_generation
from soundsight.prompt import Prompt


def test_a_seed_gives_the_same_image_and_another_seed_another(tiny_sd: Path) -> None:
    pipe = load_painter(tiny_sd)
    config = GenerateConfig(steps=2, num_images=2, seed=7)
    first = generate(Prompt("a red star"), pipe, config, model="tiny", progress=False)
    again = generate(Prompt("a red star"), pipe, GenerateConfig(steps=2, seed=8), model="tiny", progress=False)
    assert first.seeds == (7, 8) and (first.width, first.height) == (32, 32)
    assert first.images[0].size == (32, 32)
    assert not np.array_equal(np.asarray(first.images[0]), np.asarray(first.images[1]))
    assert np.array_equal(np.asarray(first.images[1]), np.asarray(again.images[0]))  # seed 8 alone or in a batch


def test_plain_diffusers_loads_the_same_folder_and_paints_the_same(tiny_sd: Path) -> None:
    import torch

    ours = generate(Prompt("a blue circle"), load_painter(tiny_sd), GenerateConfig(steps=2, seed=3), progress=False)
    plain = StableDiffusionPipeline.from_pretrained(tiny_sd, use_safetensors=True)
    plain.set_progress_bar_config(disable=True)
    image = plain("a blue circle", num_inference_steps=2, generator=torch.Generator().manual_seed(3)).images[0]
    assert np.array_equal(np.asarray(ours.images[0]), np.asarray(image))


def test_scheduler_size_and_negative_prompt(tiny_sd: Path) -> None:
    pipe = load_painter(tiny_sd)
    config = GenerateConfig(steps=2, scheduler="euler_a", width=48, height=16)
    generation = generate(Prompt("a cat", negative_prompt="a dog"), pipe, config, progress=False)
    assert generation.sampler == "Euler a" and generation.images[0].size == (48, 16)
    assert generation.prompt.negative_prompt == "a dog"
    without = generate(Prompt("a cat"), pipe, config, progress=False)
    assert not np.array_equal(np.asarray(generation.images[0]), np.asarray(without.images[0]))  # it was used
    again = generate(Prompt("a cat", negative_prompt="a dog"), pipe, config, progress=False)
    assert np.array_equal(np.asarray(generation.images[0]), np.asarray(again.images[0]))


def test_a_scheduler_choice_is_for_one_call_only(tiny_sd: Path) -> None:
    painter = load_painter(tiny_sd)
    first = generate(Prompt("a cat"), painter, GenerateConfig(steps=2), progress=False)
    generate(Prompt("a cat"), painter, GenerateConfig(steps=2, scheduler="euler"), progress=False)
    after = generate(Prompt("a cat"), painter, GenerateConfig(steps=2), progress=False)
    assert first.sampler == after.sampler == "DDIM"  # the model's own scheduler is back
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(after.images[0]))


def test_any_painter_paints_behind_generate_and_is_refused_what_it_cannot_do() -> None:
    from .tiny_models import FlatPainter

    painter = FlatPainter()
    generation = generate(Prompt("a red star"), painter, GenerateConfig(num_images=2, seed=3), progress=False)
    assert painter.calls == [["a red star", "a red star"]] and generation.model == "flat"
    assert generation.seeds == (3, 4) and generation.sampler == "flat" and generation.images[0].size == (16, 16)
    assert np.asarray(generation.images[1])[0, 0, 0] == round(4 / 255 * 255)
    refusals = [
        ({"prompt": Prompt("a cat", negative_prompt="a dog")}, "--negative-prompt: image model 'flat' takes no"),
        ({"config": GenerateConfig(scheduler="ddim")}, "--scheduler ddim: image model 'flat' cannot paint with it"),
        ({"config": GenerateConfig(width=32)}, "--width/--height: image model 'flat' paints only 16 x 16"),
        ({"prompt_embeds": torch.zeros(1, 4, 8)}, "image model 'flat' takes no prompt embeddings"),
    ]
    for kwargs, message in refusals:
        call = {"prompt": Prompt("a cat"), "painter": painter, "config": GenerateConfig(), **kwargs}
        with pytest.raises(ConfigError, match=re.escape(message)):
            generate(**call, progress=False)
    assert len(painter.calls) == 1  # refused before painting
    with pytest.raises(ConfigError, match="--steps: image model 'flat' has no denoising steps"):
        check_painter(painter, GenerateConfig(), steps=True)


def test_pngs_carry_their_parameters_and_a_sidecar_and_never_overwrite(tiny_sd: Path, tmp_path: Path) -> None:
    generation = generate(
        Prompt("a red star", negative_prompt="blurry"), load_painter(tiny_sd), GenerateConfig(steps=2, seed=5),
        model="tiny-sd", progress=False,
    )  # fmt: skip
    first = save_generation(generation, tmp_path, "talk")
    second = save_generation(generation, tmp_path, "talk")
    assert [p.name for p in first + second] == ["talk-5.png", "talk-5-2.png"]
    with Image.open(first[0]) as image:
        assert image.text["parameters"] == (
            "a red star\nNegative prompt: blurry\n"
            "Steps: 2, Sampler: DDIM, CFG scale: 7.5, Seed: 5, Size: 32x32, Model: tiny-sd, "
            "Runtime: torch float32 on cpu"
        )
    meta = json.loads(first[0].with_suffix(".json").read_text())
    keys = ("prompt", "negative_prompt", "seed", "steps", "guidance", "sampler", "image_model")
    assert {k: meta[k] for k in keys} == {
        "prompt": "a red star", "negative_prompt": "blurry", "seed": 5, "steps": 2, "guidance": 7.5,
        "sampler": "DDIM", "image_model": "tiny-sd",
    }  # fmt: skip
    assert (meta["transcript"], meta["language"], meta["asr_model"], meta["source"]) == (None, None, None, None)
    assert (meta["width"], meta["height"]) == (32, 32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps 0: must be at least 1"),
        ({"width": 30}, "width 30: must be a positive multiple of 8"),
        ({"scheduler": "magic"}, "scheduler 'magic': expected one of"),
        ({"num_images": 0}, "num_images 0"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GenerateConfig(**kwargs)


def test_missing_models_lora_and_cpu_fp16(tiny_sd: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="image model '/nonexistent/sd': no such folder"):
        load_pipeline("/nonexistent/sd")
    with pytest.raises(ModelNotFoundError, match="LoRA weights '.*missing.safetensors': no such file"):
        load_pipeline(tiny_sd, lora=tmp_path / "missing.safetensors")
    with pytest.warns(UserWarning, match="float16 asked for on a CPU: using float32"):
        pipe = load_pipeline(tiny_sd, device="cpu", dtype="fp16")
    assert pipe.unet.dtype.is_floating_point and str(pipe.unet.dtype) == "torch.float32"
    assert str(load_pipeline(tiny_sd, dtype="bf16").unet.dtype) == "torch.bfloat16"


def test_lora_weights_load_and_change_the_picture(tiny_sd: Path, tiny_lora: Path) -> None:
    plain = generate(Prompt("a star"), load_painter(tiny_sd), GenerateConfig(steps=2), progress=False)
    tuned = generate(Prompt("a star"), load_painter(tiny_sd, lora=tiny_lora), GenerateConfig(steps=2),
                     progress=False)  # fmt: skip
    assert not np.array_equal(np.asarray(plain.images[0]), np.asarray(tuned.images[0]))


def test_lora_weights_are_read_as_safetensors_only(tiny_sd: Path, tmp_path: Path) -> None:
    (tmp_path / "pickled").mkdir()
    torch.save({"unet.x": torch.zeros(1)}, tmp_path / "pickled" / "pytorch_lora_weights.bin")
    (tmp_path / "weights.bin").write_bytes((tmp_path / "pickled" / "pytorch_lora_weights.bin").read_bytes())
    for lora in (tmp_path / "pickled", tmp_path / "weights.bin"):
        with pytest.raises(ModelNotFoundError) as refused:
            load_pipeline(tiny_sd, lora=lora)  # refused before the model loads
        assert str(refused.value) == f"LoRA weights '{lora}': no .safetensors file (only safetensors are read)"
