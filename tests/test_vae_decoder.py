"""`soundsight train vae-decoder`: patterned training objects, and a refit that leaves the encoder alone."""

from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from typer.testing import CliRunner

from soundsight.cli import app
from soundsight.models.image_model import ImageModelConfig, build_vae
from soundsight.shapes.spec import PALETTE
from soundsight.shapes.verify import read_subject
from soundsight.train.vae_decoder import checkered_object, subject_like


def test_checkered_objects_show_both_colours_on_a_third_background() -> None:
    rng = np.random.default_rng(0)
    picture = checkered_object(rng, "square", ("red", "blue"), 4, "yellow")
    colours = {tuple(p) for p in picture.reshape(-1, 3)}
    assert {PALETTE["red"], PALETTE["blue"], PALETTE["yellow"]} <= colours
    assert tuple(picture[0, 0]) == PALETTE["yellow"]
    for _ in range(20):
        assert checkered_object(rng).shape == (64, 64, 3)


def test_subject_like_hearts_read_as_the_subject() -> None:
    rng = np.random.default_rng(1)
    readings = [read_subject(subject_like(rng).astype(np.float32)) for _ in range(20)]
    assert np.mean([r.is_subject for r in readings]) >= 0.9  # the verifier's own reading of the pattern
    assert all(r.background not in ("black", "white") for r in readings)


def test_the_refit_trains_the_decoder_and_leaves_the_encoder(tmp_path: Path) -> None:
    torch.manual_seed(0)
    build_vae(ImageModelConfig(vae_channels=(8, 8, 8))).save_pretrained(tmp_path / "vae")
    args = ["train", "vae-decoder", "--vae", str(tmp_path / "vae"), "--out", str(tmp_path / "run"), "--steps", "3",
            "--batch-size", "4", "--checkpoint-every", "2", "--validate-every", "0", "--log-every", "1",
            "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    before = AutoencoderKL.from_pretrained(tmp_path / "vae").state_dict()
    after = AutoencoderKL.from_pretrained(tmp_path / "run" / "model").state_dict()
    frozen = [k for k in before if k.startswith(("encoder.", "quant_conv."))]
    trained = [k for k in before if k.startswith("decoder.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # the latents a UNet knows stay
    assert any(not torch.equal(before[k], after[k]) for k in trained)
    assert (tmp_path / "run" / "checkpoint-3" / "step.json").is_file()
