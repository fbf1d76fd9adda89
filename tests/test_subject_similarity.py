"""CLIP-I, DINO and CLIP-T on tiny random CLIP, DINO (ViT) and DINOv2 models saved the way real ones are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    BitImageProcessor,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    Dinov2Config,
    Dinov2Model,
    ViTConfig,
    ViTImageProcessor,
    ViTModel,
)

from soundsight.errors import ConfigError, ImageError, ModelNotFoundError, PromptError
from soundsight.evaluate.subject_similarity import (
    clip_t,
    dino_embeddings,
    drop_identifier,
    score_subject_similarity,
    subject_similarity,
    to_rgb,
)
from soundsight.loading import load_clip, load_dino
from soundsight.vocab import clip_tokenizer_from_bpe

from .conftest import SHARED_DATA

SIDE = 32  # the tiny models see 32 x 32 pictures, 8 x 8 patches
TINY_VIT = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=SIDE,
                patch_size=8)  # fmt: skip
DOG = SHARED_DATA / "dreambooth_subjects" / "dog"


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CLIP of a few thousand weights (plus the real 49,408-token vocabulary) and its processor."""
    folder = tmp_path_factory.mktemp("models") / "clip"
    torch.manual_seed(0)
    text = dict(vocab_size=49_408, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=77)  # fmt: skip
    CLIPModel(CLIPConfig(text_config=text, vision_config=TINY_VIT, projection_dim=16)).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": SIDE}, crop_size={"height": SIDE, "width": SIDE})
    tokenizer = clip_tokenizer_from_bpe(SHARED_DATA / "tokenizers" / "bpe_simple_vocab_16e6.txt.gz")
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_dino(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ViTModel without a pooler, as facebook/dino-vits16 is saved."""
    folder = tmp_path_factory.mktemp("models") / "dino"
    torch.manual_seed(0)
    ViTModel(ViTConfig(**TINY_VIT), add_pooling_layer=False).save_pretrained(folder)
    ViTImageProcessor(size={"height": SIDE, "width": SIDE}).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_dinov2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models") / "dinov2"
    torch.manual_seed(0)
    Dinov2Model(Dinov2Config(**TINY_VIT)).save_pretrained(folder)
    BitImageProcessor(size={"shortest_edge": SIDE}, crop_size={"height": SIDE, "width": SIDE}).save_pretrained(folder)
    return folder


def _picture(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _dog(name: str = "00.jpg", side: int = 96) -> Image.Image:
    with Image.open(DOG / name) as photo:
        return photo.convert("RGB").resize((side, side))


def test_identical_images_score_one_and_different_ones_less(tiny_clip: Path, tiny_dino: Path) -> None:
    a, b = _picture(1), _picture(2)
    same = subject_similarity([a, a], [a], ["a sks dog", "a sks dog in the snow"], str(tiny_clip), str(tiny_dino),
                              device="cpu", progress=False)  # fmt: skip
    assert same.clip_i == pytest.approx(1.0, abs=1e-5)
    assert same.dino == pytest.approx(1.0, abs=1e-5)
    other = subject_similarity([b], [a], ["a sks dog"], str(tiny_clip), str(tiny_dino), device="cpu", progress=False)
    assert other.clip_i < 1.0 - 1e-4
    assert other.dino < 1.0 - 1e-4
    for scores in (same, other):
        for value in (scores.clip_i, scores.dino, scores.clip_t):
            assert -1.0 <= value <= 1.0


def test_counts_and_provenance(tiny_clip: Path, tiny_dino: Path) -> None:
    generated = [_picture(seed) for seed in range(3)]
    references = [_picture(seed) for seed in range(10, 15)]
    scores = subject_similarity(generated, references, ["a sks dog"] * 3, str(tiny_clip), str(tiny_dino),
                                device="cpu", identifier="sks", progress=False)  # fmt: skip
    assert (scores.num_generated, scores.num_references) == (3, 5)
    assert (scores.clip_model, scores.dino_model, scores.identifier) == (str(tiny_clip), str(tiny_dino), "sks")


def test_clip_t_is_the_cosine_of_image_and_prompt_embeddings(tiny_clip: Path) -> None:
    picture, prompt = _picture(3), "a dog in the jungle"
    clip = load_clip(tiny_clip, device="cpu")
    with torch.no_grad():
        image = clip.model.get_image_features(**clip.processor(images=[picture], return_tensors="pt")).pooler_output
        text = clip.model.get_text_features(**clip.processor(text=[prompt], return_tensors="pt")).pooler_output
    expected = torch.nn.functional.cosine_similarity(image, text).item()
    assert clip_t([picture], [prompt], clip) == pytest.approx(expected, abs=1e-5)


def test_the_identifier_is_dropped_from_prompts_only_when_asked(tiny_clip: Path) -> None:
    assert drop_identifier("a sks dog in the jungle", "sks") == "a dog in the jungle"
    assert drop_identifier("sks dog, sksx", "sks") == "dog, sksx"
    assert drop_identifier("a sks dog", None) == "a sks dog"
    clip = load_clip(tiny_clip, device="cpu")
    pictures = [_picture(4), _picture(5)]
    dropped = clip_t(pictures, ["a sks dog", "a sks dog on the beach"], clip, identifier="sks")
    plain = clip_t(pictures, ["a dog", "a dog on the beach"], clip)
    kept = clip_t(pictures, ["a sks dog", "a sks dog on the beach"], clip)
    assert dropped == pytest.approx(plain, abs=1e-6)
    assert abs(kept - plain) > 1e-4


def test_batch_size_does_not_change_the_scores(tiny_clip: Path, tiny_dino: Path) -> None:
    clip, dino = load_clip(tiny_clip, device="cpu"), load_dino(tiny_dino, device="cpu")
    generated = [_picture(seed) for seed in range(5)]
    references = [_picture(seed) for seed in range(20, 23)]
    prompts = [f"a dog number {i}" for i in range(5)]
    one = score_subject_similarity(generated, references, prompts, clip, dino, batch_size=1, progress=False)
    all_at_once = score_subject_similarity(generated, references, prompts, clip, dino, batch_size=8, progress=False)
    assert one.clip_i == pytest.approx(all_at_once.clip_i, abs=1e-5)
    assert one.dino == pytest.approx(all_at_once.dino, abs=1e-5)
    assert one.clip_t == pytest.approx(all_at_once.clip_t, abs=1e-5)


def test_dinov2_is_scored_on_its_cls_token(tiny_dinov2: Path) -> None:
    dino = load_dino(tiny_dinov2, device="cpu")
    assert type(dino.model).__name__ == "Dinov2Model"
    pictures = [_picture(6), _picture(7)]
    with torch.no_grad():
        hidden = dino.model(**dino.processor(images=pictures, return_tensors="pt")).last_hidden_state
    expected = torch.nn.functional.normalize(hidden[:, 0], dim=-1)
    torch.testing.assert_close(dino_embeddings(pictures, dino), expected, atol=1e-5, rtol=0)


def test_dino_vit_loads_without_a_pooler(tiny_dino: Path) -> None:
    dino = load_dino(tiny_dino, device="cpu")
    assert type(dino.model).__name__ == "ViTModel"
    assert dino.model.pooler is None
    assert not dino.model.training


def test_a_missing_model_folder_is_one_clear_line(tmp_path: Path, tiny_clip: Path, tiny_dino: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError) as clip_error:
        subject_similarity([_picture(1)], [_picture(2)], ["a dog"], str(missing), str(tiny_dino), device="cpu")
    assert str(clip_error.value) == f"CLIP model '{missing}': no such folder"
    with pytest.raises(ModelNotFoundError) as dino_error:
        load_dino(missing, device="cpu")
    assert str(dino_error.value) == f"DINO model '{missing}': no such folder"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match=rf"^CLIP model '{empty}': not a model folder \(") as not_model:
        load_clip(empty, device="cpu")
    assert "\n" not in str(not_model.value)


def test_a_hub_id_that_is_not_here_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as error:
        load_dino("soundsight-tests/no-such-dino", device="cpu")
    assert str(error.value) == (
        "DINO model 'soundsight-tests/no-such-dino' is not on this machine and the Hugging Face Hub cannot be "
        "reached: download it where there is a network, then pass its folder (--dino-model PATH)"
    )


def test_the_wrong_kind_of_model_is_refused(tiny_clip: Path, tiny_dino: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=rf"^CLIP model '{tiny_dino}': holds a vit model, not CLIP$"):
        load_clip(tiny_dino, device="cpu")
    with pytest.raises(ModelNotFoundError, match=rf"^DINO model '{tiny_clip}': holds a clip model, not an image"):
        load_dino(tiny_clip, device="cpu")


def test_inputs_are_checked_before_any_model_loads(tmp_path: Path) -> None:
    never = str(tmp_path / "never-loaded")
    picture = _picture(1)
    with pytest.raises(PromptError, match=r"^2 prompts for 1 generated images: expected one per image$"):
        subject_similarity([picture], [picture], ["a dog", "a cat"], never, never)
    with pytest.raises(PromptError, match="a single string"):
        subject_similarity([picture], [picture], "a dog", never, never)  # type: ignore[arg-type]
    with pytest.raises(ImageError, match=r"^no reference images: subject similarity needs at least one$"):
        subject_similarity([picture], [], ["a dog"], never, never)
    with pytest.raises(ImageError, match=r"^generated image 1: a ndarray, not a PIL image$"):
        subject_similarity([picture, np.zeros((8, 8, 3))], [picture], ["a", "b"], never, never)  # type: ignore[list-item]
    with pytest.raises(ConfigError, match=r"^batch_size 0: expected at least 1$"):
        subject_similarity([picture], [picture], ["a dog"], never, never, batch_size=0)


def test_real_photos_upright_in_any_size_and_mode(tmp_path: Path, tiny_clip: Path, tiny_dino: Path) -> None:
    photo = _dog()
    # the same photo stored on its side with an EXIF tag saying so, as phone cameras save them
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    photo.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.png", exif=exif)
    with Image.open(tmp_path / "sideways.png") as sideways:
        assert to_rgb(sideways).tobytes() == photo.tobytes()
        upright = subject_similarity([sideways], [photo], ["a dog"], str(tiny_clip), str(tiny_dino), device="cpu",
                                     progress=False)  # fmt: skip
    assert upright.dino == pytest.approx(1.0, abs=1e-5)
    assert upright.clip_i == pytest.approx(1.0, abs=1e-5)

    see_through = photo.convert("RGBA")
    see_through.putpixel((0, 0), (0, 0, 0, 0))
    assert to_rgb(see_through).getpixel((0, 0)) == (255, 255, 255)
    grey = to_rgb(photo.convert("L"))
    assert grey.mode == "RGB" and grey.getpixel((5, 5))[0] == grey.getpixel((5, 5))[2]

    with Image.open(DOG / "01.jpg") as full_size:  # 781 x 781, straight from the dataset
        generated = [see_through, photo.convert("L"), photo.convert("P"), _dog("02.jpg", side=17)]
        scores = subject_similarity(generated, [full_size, _dog("03.jpg", side=300)], ["a dog"] * 4, str(tiny_clip),
                                    str(tiny_dino), device="cpu", progress=False)  # fmt: skip
    assert (scores.num_generated, scores.num_references) == (4, 2)
    for value in (scores.clip_i, scores.dino, scores.clip_t):
        assert -1.0 <= value <= 1.0


def test_the_cli_scores_a_folder_of_painted_pictures(tiny_clip: Path, tiny_dino: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from soundsight.cli import app

    painted = tmp_path / "painted"
    painted.mkdir()
    photos = sorted((SHARED_DATA / "dreambooth_subjects" / "dog").glob("*.jpg"))[:2]
    for i, photo in enumerate(photos):
        Image.open(photo).resize((64, 64)).save(painted / f"me-{i}.png")
        (painted / f"me-{i}.json").write_text(json.dumps({"prompt": "a photo of sks dog on the beach"}))
    Image.new("RGB", (64, 64)).save(painted / "stray.png")  # no sidecar: left out, with a warning
    result = CliRunner().invoke(app, ["evaluate", "similarity", str(painted), str(photos[0].parent),
                                      "--clip-model", str(tiny_clip), "--dino-model", str(tiny_dino),
                                      "--identifier", "sks", "--json", "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["num_generated"] == 2 and scores["num_references"] == len(list(photos[0].parent.glob("*.jpg")))
    assert -1 <= scores["clip_t"] <= 1 and scores["identifier"] == "sks"
    assert "stray.png" in result.output
