"""Score the audio adapter on held-out Spoken Shapes sounds: does a bell paint a yellow circle?

Two routes on the same clips, painted from the same seeds:
- adapter: sound -> adapter embeddings -> image (no words), as `hear` paints it: in the Spoken Shapes world
  the embeddings are snapped to the nearest scene's caption first (sound_to_image.world_scenes);
- two-stage: sound -> class (nearest class centroid of the frozen Whisper encoder's time-averaged
  states, fitted on train clips) -> the bound scene's caption -> image.
The verifier reads each picture's colour and shape against the bound scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from soundsight.adapter import clip_states, cosine_to_targets, embed_states, scene_states
from soundsight.backends.shapes_world import ShapesWorldPainter
from soundsight.backends.whisper import WhisperAsr
from soundsight.defaults import SHAPES_PAINT
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.evaluate.shapes import ShapesScores
from soundsight.generate import GenerateConfig, Painter
from soundsight.models.audio_adapter import AudioAdapter
from soundsight.shapes.sounds import SoundClip, read_sounds
from soundsight.shapes.spec import SOUND_LABELS, sound_scene_caption
from soundsight.sound_to_image import world_scenes


@dataclass(frozen=True)
class AdapterScores:
    num_sounds: int
    painted: float  # adapter route: share of pictures whose colour and shape are the bound scene's
    snapped: float | None  # in the Spoken Shapes world, share of clips snapped to their own scene (else None)
    painted_per_label: dict[str, float]
    cosine: float  # mean per-token cosine similarity of the adapter's embeddings to the scene's
    cosine_per_label: dict[str, float]
    mse: float
    two_stage_painted: float  # classify, caption, paint
    two_stage_classified: float  # the classifier's accuracy
    two_stage_per_label: dict[str, float]
    caption_painted: float  # two-stage pictures of the clips it classified right: the caption's own ceiling


@dataclass(frozen=True)
class AdapterEvaluation:
    scores: AdapterScores
    clips: list[SoundClip]
    adapter_images: np.ndarray  # (N, H, W, 3) uint8
    adapter_verdicts: ShapesScores
    two_stage_images: np.ndarray
    two_stage_verdicts: ShapesScores
    predicted_labels: list[str]
    cosines: list[float]  # per clip


def _per_label(clips: list[SoundClip], values: list[float]) -> dict[str, float]:
    return {label: float(np.mean([v for c, v in zip(clips, values, strict=True) if c.label == label]))
            for label in SOUND_LABELS if any(c.label == label for c in clips)}  # fmt: skip


def fit_centroids(clips: list[SoundClip], asr: WhisperAsr, time_pool: int) -> tuple[list[str], torch.Tensor]:
    """Labels and (labels, d_model) unit-length mean encoder states of each label's clips."""
    pooled = clip_states([c.waveform for c in clips], asr, time_pool).float().mean(dim=1)  # (N, d_model)
    labels = sorted({c.label for c in clips})
    centroids = torch.stack([pooled[[i for i, c in enumerate(clips) if c.label == lab]].mean(0) for lab in labels])
    return labels, F.normalize(centroids, dim=-1)


def classify(clips: list[SoundClip], asr: WhisperAsr, time_pool: int, labels: list[str], centroids: torch.Tensor
             ) -> list[str]:  # fmt: skip
    pooled = F.normalize(clip_states([c.waveform for c in clips], asr, time_pool).float().mean(dim=1), dim=-1)
    return [labels[int(i)] for i in (pooled @ centroids.T).argmax(dim=1)]


def evaluate_adapter(
    asr: WhisperAsr,
    adapter: AudioAdapter,
    painter: Painter,
    data: Path,
    *,
    split: str = "test",
    config: GenerateConfig = SHAPES_PAINT,
    limit: int | None = None,
    classifier_clips: int = 600,
    progress: bool = True,
) -> AdapterEvaluation:
    """Paint every clip of DIR/sounds/{split} both ways and read the pictures back."""
    clips = read_sounds(data, split, limit)
    pool = adapter.config.time_pool
    states = clip_states([c.waveform for c in clips], asr, pool, progress=progress, desc="hear")
    embeds = embed_states(states, adapter)
    scenes = [c.scene for c in clips]
    unique = sorted(set(scenes))
    targets = scene_states(painter, unique).cpu()[[unique.index(s) for s in scenes]]
    cosines = cosine_to_targets(embeds, targets)
    names = [c.path.name for c in clips]
    snapped = world_scenes(embeds, painter) if isinstance(painter, ShapesWorldPainter) else None
    adapter_images = paint_prompts(painter, embeds if snapped is None else snapped, config, progress=progress)
    adapter_verdicts = score_painted(adapter_images, scenes, names)

    labels, centroids = fit_centroids(read_sounds(data, "train", classifier_clips), asr, pool)
    predicted = classify(clips, asr, pool, labels, centroids)
    captions = [sound_scene_caption(label) for label in predicted]
    two_stage_images = paint_prompts(painter, captions, config, progress=progress)
    two_stage_verdicts = score_painted(two_stage_images, scenes, names)  # read against the true scene

    def right(verdicts: ShapesScores) -> list[float]:
        by_name = {v.name: v.correct for v in verdicts.verdicts}
        return [float(by_name[n]) for n in names]

    adapter_right, two_stage_right = right(adapter_verdicts), right(two_stage_verdicts)
    classified_right = [p == c.label for p, c in zip(predicted, clips, strict=True)]
    scores = AdapterScores(
        num_sounds=len(clips),
        painted=float(np.mean(adapter_right)),
        snapped=None if snapped is None else float(np.mean([a == b for a, b in zip(snapped, scenes, strict=True)])),
        painted_per_label=_per_label(clips, adapter_right),
        cosine=float(cosines.mean()),
        cosine_per_label=_per_label(clips, cosines.tolist()),
        mse=float(F.mse_loss(embeds, targets)),
        two_stage_painted=float(np.mean(two_stage_right)),
        two_stage_classified=float(np.mean(classified_right)),
        two_stage_per_label=_per_label(clips, two_stage_right),
        caption_painted=float(np.mean([r for r, ok in zip(two_stage_right, classified_right, strict=True) if ok]))
        if any(classified_right)
        else 0.0,
    )
    return AdapterEvaluation(scores, clips, adapter_images, adapter_verdicts, two_stage_images, two_stage_verdicts,
                             predicted, cosines.tolist())  # fmt: skip
