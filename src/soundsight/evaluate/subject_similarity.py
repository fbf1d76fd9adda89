"""DreamBooth's subject-fidelity metrics for real models: CLIP-I, DINO and CLIP-T (Ruiz et al., CVPR 2023).

As the paper defines them (Sec. 4.1, arXiv:2208.12242):
- CLIP-I: the average pairwise cosine similarity between CLIP embeddings of generated and real images;
- DINO: the same with ViT-S/16 DINO embeddings; the paper prefers it, since DINO's self-supervised
  training does not teach it to ignore the differences between two subjects of the same class;
- CLIP-T: the average cosine similarity between prompt and image CLIP embeddings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from soundsight.errors import ConfigError, ImageError, PromptError
from soundsight.loading import Encoder, load_clip, load_dino

logger = logging.getLogger(__name__)

# The paper names ViT-S/16 DINO; it does not name its CLIP, so we take the common ViT-B/32.
DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
DEFAULT_DINO_MODEL = "facebook/dino-vits16"
BATCH_SIZE = 16


@dataclass(frozen=True)
class SubjectSimilarity:
    """The three scores, each a mean cosine similarity in [-1, 1] (higher is closer), and what they came from."""

    clip_i: float  # generated vs reference images, every pair
    dino: float  # generated vs reference images, every pair
    clip_t: float  # each generated image vs its own prompt
    num_generated: int
    num_references: int
    clip_model: str
    dino_model: str
    identifier: str | None  # the word dropped from the prompts before CLIP-T, if any


def subject_similarity(
    generated: Sequence[Image.Image],
    references: Sequence[Image.Image],
    prompts: Sequence[str],
    clip_model: str = DEFAULT_CLIP_MODEL,
    dino_model: str = DEFAULT_DINO_MODEL,
    device: str = "auto",
    *,
    identifier: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
) -> SubjectSimilarity:
    """Return CLIP-I, DINO and CLIP-T of `generated` against the subject's real `references`.

    Args:
        generated: the personalised model's pictures, any size or mode.
        references: real photos of the subject, any size or mode.
        prompts: the prompt each generated picture was painted from, one per picture.
        clip_model, dino_model: Hub ids or local folders, loaded through loading.py (safetensors only).
        device: "auto", "cpu", "cuda", ...
        identifier: see clip_t.
    """
    check_inputs(generated, references, prompts)
    _check_batch_size(batch_size)
    clip = load_clip(clip_model, device=device)
    dino = load_dino(dino_model, device=device)
    return score_subject_similarity(generated, references, prompts, clip, dino, identifier=identifier,
                                    batch_size=batch_size, progress=progress)  # fmt: skip


def score_subject_similarity(
    generated: Sequence[Image.Image],
    references: Sequence[Image.Image],
    prompts: Sequence[str],
    clip: Encoder,
    dino: Encoder,
    *,
    identifier: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: bool = True,
) -> SubjectSimilarity:
    """subject_similarity with the models already loaded (to score several subjects without reloading)."""
    check_inputs(generated, references, prompts)
    generated_clip = clip_image_embeddings(generated, clip, batch_size=batch_size, progress=progress)
    references_clip = clip_image_embeddings(references, clip, batch_size=batch_size, progress=progress)
    texts = clip_text_embeddings([drop_identifier(p, identifier) for p in prompts], clip, batch_size=batch_size)
    generated_dino = dino_embeddings(generated, dino, batch_size=batch_size, progress=progress)
    references_dino = dino_embeddings(references, dino, batch_size=batch_size, progress=progress)
    logger.info("scored %d generated images against %d references", len(generated), len(references))
    return SubjectSimilarity(
        clip_i=mean_pairwise_cosine(generated_clip, references_clip),
        dino=mean_pairwise_cosine(generated_dino, references_dino),
        clip_t=mean_matched_cosine(generated_clip, texts),
        num_generated=len(generated),
        num_references=len(references),
        clip_model=clip.name,
        dino_model=dino.name,
        identifier=identifier,
    )


def clip_i(
    generated: Sequence[Image.Image],
    references: Sequence[Image.Image],
    clip: Encoder,
    *,
    batch_size: int = BATCH_SIZE,
) -> float:
    """CLIP-I: the mean cosine similarity of every (generated, reference) pair of CLIP image embeddings."""
    _check_images(generated, "generated")
    _check_images(references, "reference")
    a = clip_image_embeddings(generated, clip, batch_size=batch_size, progress=False)
    b = clip_image_embeddings(references, clip, batch_size=batch_size, progress=False)
    return mean_pairwise_cosine(a, b)


def dino_similarity(
    generated: Sequence[Image.Image],
    references: Sequence[Image.Image],
    dino: Encoder,
    *,
    batch_size: int = BATCH_SIZE,
) -> float:
    """DINO: the mean cosine similarity of every (generated, reference) pair of DINO [CLS] embeddings."""
    _check_images(generated, "generated")
    _check_images(references, "reference")
    a = dino_embeddings(generated, dino, batch_size=batch_size, progress=False)
    b = dino_embeddings(references, dino, batch_size=batch_size, progress=False)
    return mean_pairwise_cosine(a, b)


def clip_t(
    generated: Sequence[Image.Image],
    prompts: Sequence[str],
    clip: Encoder,
    *,
    identifier: str | None = None,
    batch_size: int = BATCH_SIZE,
) -> float:
    """CLIP-T: the mean cosine similarity between each generated image's CLIP embedding and its prompt's.

    The paper says only "prompt", and its prompts read "a [V] dog in the jungle", the class noun already
    there. So by default the prompt is scored as given; with `identifier` (e.g. "sks") that word is
    dropped first ("a dog in the jungle"), since a rare token means nothing, or something unrelated,
    to CLIP's text encoder. Say which you used next to any figure.
    """
    _check_images(generated, "generated")
    _check_prompts(prompts, len(generated))
    images = clip_image_embeddings(generated, clip, batch_size=batch_size, progress=False)
    texts = clip_text_embeddings([drop_identifier(p, identifier) for p in prompts], clip, batch_size=batch_size)
    return mean_matched_cosine(images, texts)


def drop_identifier(prompt: str, identifier: str | None) -> str:
    """`prompt` without the whole word `identifier` (case-sensitive), spaces tidied: "a sks dog" -> "a dog"."""
    if not identifier:
        return prompt
    return " ".join(re.sub(rf"(?<!\S){re.escape(identifier)}(?!\S)", " ", prompt).split())


@torch.no_grad()
def clip_image_embeddings(
    images: Sequence[Image.Image], clip: Encoder, *, batch_size: int = BATCH_SIZE, progress: bool = False
) -> torch.Tensor:
    """(N, D) unit-length CLIP image embeddings (the projected pooled output), on the CPU."""
    model = clip.model.eval()

    def embed(batch: list[Image.Image]) -> torch.Tensor:
        pixels = clip.processor(images=batch, return_tensors="pt")["pixel_values"]
        return _pooled(model.get_image_features(pixel_values=pixels.to(model.device, model.dtype)))

    return _batched([to_rgb(image) for image in images], embed, batch_size, progress, "CLIP images")


@torch.no_grad()
def clip_text_embeddings(prompts: Sequence[str], clip: Encoder, *, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """(N, D) unit-length CLIP text embeddings; prompts past CLIP's 77 tokens are cut there, as CLIP was trained."""
    model = clip.model.eval()

    def embed(batch: list[str]) -> torch.Tensor:
        tokens = clip.processor(text=batch, padding=True, truncation=True, return_tensors="pt").to(model.device)
        return _pooled(model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]))

    return _batched(list(prompts), embed, batch_size, False, "CLIP prompts")


@torch.no_grad()
def dino_embeddings(
    images: Sequence[Image.Image], dino: Encoder, *, batch_size: int = BATCH_SIZE, progress: bool = False
) -> torch.Tensor:
    """(N, D) unit-length [CLS] tokens of the last hidden state (after the final layer norm, as DINO's own
    ViT returns them), on the CPU."""
    model = dino.model.eval()

    def embed(batch: list[Image.Image]) -> torch.Tensor:
        pixels = dino.processor(images=batch, return_tensors="pt")["pixel_values"]
        hidden = model(pixel_values=pixels.to(model.device, model.dtype)).last_hidden_state  # (B, 1 + tokens, D)
        return hidden[:, 0]

    return _batched([to_rgb(image) for image in images], embed, batch_size, progress, "DINO images")


def mean_pairwise_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean of the (N, M) cosine similarities between unit rows a (N, D) and b (M, D)."""
    return float((a @ b.T).mean().clamp(-1.0, 1.0))


def mean_matched_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean cosine similarity of row i of a (N, D) with row i of b (N, D), both unit rows."""
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a * b).sum(dim=1).mean().clamp(-1.0, 1.0))


def to_rgb(image: Image.Image) -> Image.Image:
    """The picture upright (camera EXIF orientation applied) in RGB; transparency laid on white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return image.convert("RGB")


def check_inputs(generated: Sequence[Image.Image], references: Sequence[Image.Image], prompts: Sequence[str]) -> None:
    """Raise ImageError or PromptError naming the first input that cannot be scored."""
    _check_images(generated, "generated")
    _check_images(references, "reference")
    _check_prompts(prompts, len(generated))


def _check_images(images: Sequence[Image.Image], kind: str) -> None:
    if len(images) == 0:
        raise ImageError(f"no {kind} images: subject similarity needs at least one")
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise ImageError(f"{kind} image {i}: a {type(image).__name__}, not a PIL image")


def _check_prompts(prompts: Sequence[str], num_generated: int) -> None:
    if isinstance(prompts, str):
        raise PromptError(f"prompts {prompts!r}: a single string, expected one prompt per generated image")
    if len(prompts) != num_generated:
        raise PromptError(f"{len(prompts)} prompts for {num_generated} generated images: expected one per image")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise PromptError(f"prompt {i}: a {type(prompt).__name__}, not a string")


def _check_batch_size(batch_size: int) -> None:
    if batch_size < 1:
        raise ConfigError(f"batch_size {batch_size}: expected at least 1")


def _pooled(output: Any) -> torch.Tensor:
    # transformers 5 returns a model output whose pooler_output is the projected embedding; 4.x a tensor
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _batched(
    items: list[Any], embed: Callable[[list[Any]], torch.Tensor], batch_size: int, progress: bool, desc: str
) -> torch.Tensor:
    """(N, D) float32 unit rows on the CPU: `embed` run on `batch_size` items at a time."""
    _check_batch_size(batch_size)
    starts = tqdm(range(0, len(items), batch_size), unit="batch", desc=desc, disable=not progress)
    rows = [embed(items[start : start + batch_size]).float().cpu() for start in starts]
    return torch.nn.functional.normalize(torch.cat(rows), dim=-1)
