"""`soundsight train adapter`: teach the audio adapter to turn a sound into the text-encoder states of the
scene it is bound to ("a bell" -> the states of "a yellow circle"), with MSE plus cosine loss, and a scene
loss: cross-entropy over the scenes, each scored by its mean per-token cosine to the output (what the Spoken
Shapes world snaps a sound to, `adapter.nearest_scenes`).

Whisper's encoder and the image model stay frozen; only the adapter trains. Every step draws its batch
from (seed, step), so a resumed run continues the same loss curve; accelerate runs it on any number of
processes.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from safetensors.torch import save_file
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from soundsight.adapter import (
    adapter_config_for,
    clip_states,
    cosine_to_targets,
    embed_states,
    model_name,
    nearest_scenes,
    resolve_model,
    scene_states,
)
from soundsight.backends.whisper import WhisperAsr
from soundsight.defaults import SHAPES_PAINT, bundled_asr_dir, bundled_image_model_dir
from soundsight.errors import ConfigError
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.files import save_text
from soundsight.loading import load_adapter, load_asr, load_painter, load_sound_gate
from soundsight.models.audio_adapter import WEIGHTS_NAME, AudioAdapter
from soundsight.models.sound_gate import GATE_WEIGHTS_NAME, NONE_LABEL, SoundGate, SoundGateConfig, gate_features
from soundsight.shapes.sounds import read_sounds
from soundsight.shapes.spec import SAMPLE_RATE, sound_scene_caption
from soundsight.train.batches import append_log
from soundsight.train.checkpoints import resume
from soundsight.train.sound_variety import varied_sounds
from soundsight.train.sound_widening import OTHER_KINDS, other_sound, widen_sound
from soundsight.train.steps import end_step, update

logger = logging.getLogger(__name__)

# The bundled scenes' states are 0.69-0.85 apart in mean per-token cosine: at 0.05 a right snap by that gap
# is a logit margin of 3-6.
SCENE_TEMPERATURE = 0.05
VARIED_VAL_SEED_OFFSET = 1_000  # the varied validation clips' seed: config.seed + this, never a training seed


@dataclass(frozen=True)
class AdapterTrainConfig:
    data: Path  # a `shapes build` folder with sounds/{train,val}
    out: Path = Path("runs/adapter")  # checkpoints, log.jsonl, validation grids, the adapter in out/model
    asr_model: str | None = None  # the Whisper whose encoder hears; None: the bundled one
    image_model: str | None = None  # the Stable Diffusion to paint with; None: the bundled one
    width: int = 192
    layers: int = 2
    heads: int = 4
    steps: int = 2000
    batch_size: int = 32
    learning_rate: float = 3e-4
    warmup_steps: int = 100
    cosine_weight: float = 1.0  # loss = MSE + cosine_weight * (1 - cosine similarity)
    scene_weight: float = 0.0  # + scene_weight * cross-entropy over the scenes (cosines / SCENE_TEMPERATURE)
    max_shift_s: float = 0.5  # augmentation: up to this much silence before the sound
    widened_copies: int = 1  # more copies of each clip as other synthesisers and rooms make it (sound_widening)
    varied_sounds: int = 0  # clips of the classes as other readings of the spec's table make them (sound_variety)
    varied_widened: float = 0.5  # share of the varied clips heard widened (sound_widening) rather than as made
    varied_val_sounds: int = 600  # more such clips, from another seed, to validate the scene snap on (0: none)
    other_sounds: int = 4000  # sounds that are none of the classes, for the sound gate (0: no gate)
    gate_steps: int = 1500
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    validate_every: int = 250
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every", "gate_steps"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        for name in ("widened_copies", "varied_sounds", "other_sounds", "varied_val_sounds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must not be negative")
        if not 0 <= self.varied_widened <= 1:
            raise ConfigError(f"varied_widened {self.varied_widened}: must be between 0 and 1")
        if self.scene_weight < 0:
            raise ConfigError(f"scene_weight {self.scene_weight}: must not be negative")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate {self.learning_rate}: must be positive")


def adapter_loss(predicted: torch.Tensor, target: torch.Tensor, cosine_weight: float) -> torch.Tensor:
    """MSE plus cosine_weight x (1 - cosine similarity per token), both (B, S, D)."""
    cosine = F.cosine_similarity(predicted, target, dim=-1).mean()
    return F.mse_loss(predicted, target) + cosine_weight * (1 - cosine)


def scene_loss(predicted: torch.Tensor, scenes: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of (B, S, D) outputs over (K, S, D) scene states, the logits each scene's mean per-token
    cosine / SCENE_TEMPERATURE; `target` (B,) the right scene's index."""
    cosines = F.cosine_similarity(predicted[:, None], scenes[None], dim=-1).mean(dim=-1)  # (B, K)
    return F.cross_entropy(cosines / SCENE_TEMPERATURE, target)


def batch_indices(count: int, share: int, seed: int, step: int, process: int) -> torch.Tensor:
    """The clips one process trains on at `step`: drawn from all `count` heard clips (own, widened and varied
    alike), the same for (seed, step, process) so a resumed run continues the same loss curve."""
    rng = np.random.default_rng([seed, step, process])
    return torch.from_numpy(rng.integers(0, count, share))


def shifted(waveform: np.ndarray, rng: np.random.Generator, max_shift_s: float) -> np.ndarray:
    """The clip after a random lead of silence and at a random gain: where and how loud a sound is
    must not change what it paints."""
    lead = np.zeros(int(rng.uniform(0, max_shift_s) * SAMPLE_RATE), np.float32)
    return np.concatenate([lead, waveform * np.float32(rng.uniform(0.3, 1.0))])


def other_states(count: int, seed: int, asr: WhisperAsr, pool: int, show: bool, desc: str) -> torch.Tensor:
    """Encoder states of `count` sounds that are none of the classes, every kind in turn."""
    rng = np.random.default_rng([seed, 2])
    sounds = [other_sound(OTHER_KINDS[i % len(OTHER_KINDS)], rng) for i in range(count)]
    return clip_states(sounds, asr, pool, progress=show, desc=desc)


def train_gate(
    config: AdapterTrainConfig, asr: WhisperAsr, pool: int, train_states: torch.Tensor, train_labels: list[str],
    val_states: torch.Tensor, val_labels: list[str], show: bool,
) -> tuple[SoundGate, dict[str, float]]:  # fmt: skip
    """The sound gate on the adapter's own training states plus other sounds; its val accuracy logged."""
    labels = (*sorted(set(train_labels)), NONE_LABEL)
    others = other_states(config.other_sounds, config.seed, asr, pool, show, "hear other sounds")
    val_others = other_states(max(len(val_labels), 60), config.seed + 1, asr, pool, False, "")
    x = gate_features(torch.cat([train_states, others]))
    y = torch.tensor([labels.index(label) for label in train_labels] + [len(labels) - 1] * len(others))
    torch.manual_seed(config.seed)
    gate = SoundGate(SoundGateConfig(labels, audio_width=train_states.shape[-1]))
    optimizer = torch.optim.AdamW(gate.parameters(), lr=2e-3, weight_decay=0.01)
    # classes weighted by their share, so 4,000 others weigh as much as one class's clips
    weights = 1.0 / torch.bincount(y, minlength=len(labels)).float().clamp(min=1)
    rng = np.random.default_rng([config.seed, 3])
    gate.train()
    for _ in tqdm(range(config.gate_steps), unit="step", desc="sound gate", disable=not show):
        picked = torch.from_numpy(rng.integers(0, len(y), 512))
        loss = F.cross_entropy(gate.net(x[picked]), y[picked], weight=weights / weights.mean())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    gate.eval()
    kept = [label for label, _ in gate.classify(val_states)]
    refused = [label for label, _ in gate.classify(val_others)]
    right = float(np.mean([k == v for k, v in zip(kept, val_labels, strict=True)])) if val_labels else 0.0
    scores = {"val_named_right": right, "other_refused": float(np.mean([r == NONE_LABEL for r in refused]))}
    logger.info("sound gate: %.1f%% of val sounds named right, %.1f%% of other sounds refused", 100 * right,
                100 * scores["other_refused"])  # fmt: skip
    return gate, scores


def save_gate(gate: SoundGate, folder: Path) -> None:
    save_file({k: v.contiguous().cpu() for k, v in gate.state_dict().items()}, str(folder / GATE_WEIGHTS_NAME))
    gate.config.save(folder)


def main(config: AdapterTrainConfig) -> Path:
    """Train the adapter (or resume); save it in config.out/model and return that folder."""
    accelerator = Accelerator()
    if config.batch_size % accelerator.num_processes:
        processes = accelerator.num_processes
        raise ConfigError(f"batch_size {config.batch_size}: must split evenly over {processes} processes")
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    train = read_sounds(config.data, "train")
    val = read_sounds(config.data, "val")
    if not train:
        raise ConfigError(f"data '{config.data}': sounds/train is empty")
    audio_name = model_name(config.asr_model, bundled_asr_dir())
    image_name = model_name(config.image_model, bundled_image_model_dir())
    asr = load_asr(
        resolve_model(audio_name, bundled_asr_dir()), device=str(accelerator.device), dtype="float32", backend="torch"
    )
    if not isinstance(asr, WhisperAsr):
        raise ConfigError(f"ASR model '{config.asr_model}': the adapter needs a Whisper encoder")
    painter = load_painter(
        resolve_model(image_name, bundled_image_model_dir()),
        device=str(accelerator.device),
        backend="torch",
        dtype="float32",
    )  # trained through torch; float32 as before
    if painter.text_encoder is None or not painter.capabilities.prompt_embeds:
        raise ConfigError(f"image model '{painter.name}' takes no prompt embeddings: nothing for an adapter to learn")
    asr.model.requires_grad_(False)
    painter.text_encoder.requires_grad_(False)
    sizes = {"width": config.width, "layers": config.layers, "heads": config.heads}
    adapter_config = adapter_config_for(asr, painter.text_encoder, audio_name=audio_name, image_name=image_name,
                                        **sizes)  # fmt: skip
    torch.manual_seed(config.seed)
    adapter = AudioAdapter(adapter_config).to(accelerator.device)
    pool = adapter_config.time_pool
    augment = np.random.default_rng([config.seed, 1])  # shifted, scaled and widened copies, fixed by the seed
    copies = [shifted(c.waveform, augment, config.max_shift_s) for c in train]
    for _ in range(config.widened_copies):
        copies += [shifted(widen_sound(c.waveform, augment), augment, config.max_shift_s) for c in train]
    train_labels = [c.label for c in train] * (1 + config.widened_copies)
    varied, varied_labels = varied_sounds(config.varied_sounds, config.seed)
    copies += [shifted(widen_sound(x, augment) if augment.random() < config.varied_widened else x, augment,
                       config.max_shift_s) for x in varied]  # fmt: skip
    train_labels += varied_labels
    scenes = sorted({sound_scene_caption(label) for label in train_labels})
    targets = scene_states(painter, scenes)  # (scenes, S, D)
    target_of = {scene: i for i, scene in enumerate(scenes)}
    train_states = clip_states(copies, asr, pool, progress=show, desc="hear train")
    val_states = clip_states([c.waveform for c in val], asr, pool, progress=show, desc="hear val")
    varied_val, varied_val_labels = varied_sounds(config.varied_val_sounds, config.seed + VARIED_VAL_SEED_OFFSET)
    varied_val_states = (clip_states(varied_val, asr, pool, progress=show, desc="hear varied val")
                         if varied_val else None)  # fmt: skip
    varied_val_targets = torch.tensor([target_of[sound_scene_caption(label)] for label in varied_val_labels])
    train_targets = torch.tensor([target_of[sound_scene_caption(label)] for label in train_labels])
    val_targets = torch.tensor([target_of[c.scene] for c in val])
    size = sum(p.numel() for p in adapter.parameters())
    logger.info("audio adapter: %d train (%d varied) and %d val sounds, %d scenes, %d parameters, %s -> %s",
                len(train), len(varied), len(val), len(scenes), size, audio_name, image_name)  # fmt: skip

    optimizer = torch.optim.AdamW(adapter.parameters(), lr=config.learning_rate, weight_decay=0.01)
    scheduler = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.steps)
    adapter, optimizer, scheduler = accelerator.prepare(adapter, optimizer, scheduler)
    step = resume(accelerator, out, asdict(config))
    if accelerator.is_main_process:
        save_text(json.dumps(asdict(config), indent=2, default=str) + "\n", out / "config.json", overwrite=True)
    bare = accelerator.unwrap_model(adapter)

    def validate(step: int) -> dict[str, float]:
        bare.eval()
        embeds = embed_states(val_states, bare)
        expected = targets.cpu()[val_targets]
        shown = val[: 4 * len(scenes)]  # a few clips of every class, painted and read back
        images = paint_prompts(painter, embeds[: len(shown)], SHAPES_PAINT, progress=False)
        painted = score_painted(images, [c.scene for c in shown], [c.path.name for c in shown],
                                grid=out / f"val-{step:06d}.png")  # fmt: skip
        snapped = {"snapped": float((nearest_scenes(embeds, targets.cpu()) == val_targets).float().mean())}
        if varied_val_states is not None:
            varied_embeds = embed_states(varied_val_states, bare)
            right = nearest_scenes(varied_embeds, targets.cpu()) == varied_val_targets
            snapped["varied_snapped"] = float(right.float().mean())
        bare.train()
        return {"cosine": float(cosine_to_targets(embeds, expected).mean()),
                "mse": float(F.mse_loss(embeds, expected)), "painted": painted.all_attributes or 0.0,
                **snapped}  # fmt: skip

    log_file = out / "log.jsonl"
    bar = tqdm(total=config.steps, initial=step, unit="step", desc="adapter", disable=not show)
    start = time.perf_counter()
    adapter.train()
    share = config.batch_size // accelerator.num_processes
    while step < config.steps:
        picked = batch_indices(len(train_states), share, config.seed, step, accelerator.process_index)
        states = train_states[picked].to(accelerator.device).float()
        predicted, wanted = adapter(states), train_targets[picked].to(accelerator.device)
        loss = adapter_loss(predicted, targets[wanted], config.cosine_weight)
        if config.scene_weight:
            loss = loss + config.scene_weight * scene_loss(predicted, targets, wanted)
        update(accelerator, loss, adapter.parameters(), optimizer, scheduler)
        step += 1
        end_step(accelerator, config, out, step, loss, bar, start, lr=scheduler.get_last_lr()[0])
        done = step == config.steps or (config.validate_every and step % config.validate_every == 0)
        if accelerator.is_main_process and val and done:
            scores = validate(step)
            logger.info("step %d: val cosine %.3f, mse %.4f, painted right %.1f%%, snapped right %.1f%% (varied "
                        "%.1f%%)", step, scores["cosine"], scores["mse"], 100 * scores["painted"],
                        100 * scores["snapped"], 100 * scores.get("varied_snapped", float("nan")))  # fmt: skip
            append_log(log_file, {"step": step, "val": {k: round(v, 4) for k, v in scores.items()}})
    bar.close()

    final = out / "model"
    if accelerator.is_main_process:
        final.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous().cpu() for k, v in bare.state_dict().items()}, str(final / WEIGHTS_NAME))
        adapter_config.save(final)
        load_adapter(final, device="cpu")  # proves it loads
        if config.other_sounds:
            gate, scores = train_gate(config, asr, pool, train_states, train_labels, val_states,
                                      [c.label for c in val], show)  # fmt: skip
            append_log(log_file, {"sound_gate": {k: round(v, 4) for k, v in scores.items()}})
            save_gate(gate, final)
            load_sound_gate(final)
        logger.info("saved '%s'", final)
    accelerator.wait_for_everyone()
    return final
