"""`soundsight train dreambooth`: teach an image model one subject from a few pictures of it, the way
DreamBooth does (Ruiz et al. 2023), with prior preservation so it keeps painting its class.

The UNet (and optionally the text encoder) is fine-tuned whole, or through peft LoRA adapters on its
attention layers. With prior preservation every batch holds instance pictures with the instance
prompt and as many class pictures (painted by the base model) with the class prompt; the class half
of the loss is weighted by `prior_loss_weight`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import DDPMScheduler, DiffusionPipeline
from diffusers.optimization import get_scheduler
from PIL import Image
from tqdm.auto import tqdm

from soundsight.backends.diffusers import DiffusersPainter
from soundsight.defaults import PAINT_SETTINGS_FILE, SHAPES_WORLD, default_generate_config, paints_spoken_shapes
from soundsight.errors import ConfigError
from soundsight.evaluate.grid import verdict_grid
from soundsight.evaluate.image_model import paint_prompts
from soundsight.evaluate.shapes import CaptionedImage, score_images
from soundsight.files import save_png, save_text
from soundsight.generate import GenerateConfig
from soundsight.loading import load_pipeline
from soundsight.shapes.spec import CANVAS_PX
from soundsight.train.batches import append_log
from soundsight.train.checkpoints import checkpoints, resume, save_checkpoint
from soundsight.train.subject_images import Example, collate, ensure_class_images, load_class_examples, load_examples

logger = logging.getLogger(__name__)

LORA_UNET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")
LORA_TEXT_MODULES = ["q_proj", "k_proj", "v_proj", "out_proj"]
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"  # the name pipe.load_lora_weights(folder) looks for
SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial")


@dataclass(frozen=True)
class DreamBoothConfig:
    pretrained_model: str
    instance_dir: Path
    instance_prompt: str
    output_dir: Path
    class_dir: Path | None = None  # default: output_dir/class_images
    class_prompts: tuple[str, ...] = ()  # picture j of the class painted from prompt j % len
    with_prior_preservation: bool = False
    prior_loss_weight: float = 1.0
    num_class_images: int = 100
    lora: bool = False
    rank: int = 4
    lora_alpha: int | None = None  # None: the rank (a scale of 1)
    train_text_encoder: bool = False
    resolution: int | None = None  # None: what the model paints
    fit: str = "crop"  # crop or pad the pictures to a square
    use_captions: bool = False  # each instance picture with its caption(s) in instance_dir/metadata.jsonl
    use_crops: bool = False  # and the crops that metadata lists, as more instance pictures
    batch_size: int = 1  # instance pictures per step and process (as many class pictures join them)
    gradient_accumulation_steps: int = 1
    max_train_steps: int = 400
    learning_rate: float = 5e-6
    lr_scheduler: str = "constant"
    lr_warmup_steps: int = 0
    use_8bit_adam: bool = False
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    checkpointing_steps: int = 100
    keep_checkpoints: int = 2
    resume: bool = False
    validation_prompts: tuple[str, ...] = ()
    validation_steps: int = 100
    sample_steps: int | None = None  # None: what the model card says (our bundled model: 20)
    guidance: float | None = None
    seed: int = 0
    log_every: int = 10
    device: str = "auto"
    progress: bool = True
    lora_modules: tuple[str, ...] = LORA_UNET_MODULES  # UNet layer names

    def __post_init__(self) -> None:
        for name in ("rank", "batch_size", "gradient_accumulation_steps", "max_train_steps", "checkpointing_steps",
                     "keep_checkpoints", "log_every", "validation_steps"):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be positive")
        if self.learning_rate <= 0:
            raise ConfigError(f"--learning-rate {self.learning_rate}: must be positive")
        if self.with_prior_preservation and not self.class_prompts:
            raise ConfigError("--with-prior-preservation needs --class-prompt")
        if self.with_prior_preservation and self.num_class_images <= 0:
            raise ConfigError(f"--num-class-images {self.num_class_images}: must be positive")
        if self.prior_loss_weight < 0:
            raise ConfigError(f"--prior-loss-weight {self.prior_loss_weight}: must not be negative")
        if self.lr_scheduler not in SCHEDULES:
            raise ConfigError(f"--lr-scheduler {self.lr_scheduler!r}: expected one of {', '.join(SCHEDULES)}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError(f"--mixed-precision {self.mixed_precision!r}: expected no, bf16 or fp16")
        if not self.lora_modules or not all(self.lora_modules):
            raise ConfigError(f"--lora-modules {','.join(self.lora_modules)!r}: name at least one UNet layer")
        if self.resolution is not None and (self.resolution <= 0 or self.resolution % 8):
            raise ConfigError(f"--resolution {self.resolution}: must be a positive multiple of 8")

    @property
    def class_folder(self) -> Path:
        return self.class_dir or self.output_dir / "class_images"


def choose_mixed_precision(asked: str, cuda: bool) -> str:
    """fp16 needs a GPU: on a CPU, train in fp32 and say so (bf16 is the CPU's half precision)."""
    if asked == "fp16" and not cuda:
        logger.warning("--mixed-precision fp16 needs a GPU: training in fp32 on the CPU (bf16 works on CPUs)")
        return "no"
    return asked


class Trainable(torch.nn.Module):
    """The UNet, and the text encoder when it trains too, as one module: one forward, one DDP wrapper."""

    def __init__(self, unet: torch.nn.Module, text_encoder: torch.nn.Module, train_text_encoder: bool) -> None:
        super().__init__()
        self.unet = unet
        self.text_encoder = text_encoder if train_text_encoder else None
        self._frozen_text_encoder = None if train_text_encoder else [text_encoder]  # a list: not a submodule

    def forward(self, input_ids: torch.Tensor, noisy: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        if self.text_encoder is not None:
            states = self.text_encoder(input_ids)[0]
        else:
            assert self._frozen_text_encoder is not None
            with torch.no_grad():
                states = self._frozen_text_encoder[0](input_ids)[0]
        return self.unet(noisy, timesteps, encoder_hidden_states=states).sample


def add_lora(pipe: DiffusionPipeline, config: DreamBoothConfig) -> None:
    """Freeze the base weights and put trainable LoRA adapters on the UNet layers `config.lora_modules` names
    (by default the attention projections)."""
    from peft import LoraConfig, inject_adapter_in_model

    alpha = config.lora_alpha if config.lora_alpha is not None else config.rank
    pipe.unet.requires_grad_(False)
    names = [name for name, _ in pipe.unet.named_modules()]
    for wanted in config.lora_modules:  # peft only refuses a list none of whose names match
        if not any(name == wanted or name.endswith(f".{wanted}") for name in names):
            raise ConfigError(f"--lora-modules {','.join(config.lora_modules)!r}: no UNet layer is called {wanted!r}")
    try:
        pipe.unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                         target_modules=list(config.lora_modules)))  # fmt: skip
    except ValueError as e:  # peft: a layer of a kind it cannot adapt (a whole block, a norm)
        raise ConfigError(f"--lora-modules {','.join(config.lora_modules)!r}: {e}") from e
    if config.train_text_encoder:
        # peft's own call: transformers' add_adapter asks for a newer peft than PyPI has (0.21.2 here)
        pipe.text_encoder.requires_grad_(False)
        inject_adapter_in_model(LoraConfig(r=config.rank, lora_alpha=alpha, init_lora_weights="gaussian",
                                           target_modules=LORA_TEXT_MODULES), pipe.text_encoder)  # fmt: skip


def save_lora(pipe: DiffusionPipeline, config: DreamBoothConfig, folder: Path) -> Path:
    """The adapters alone, in the file and key format plain `pipe.load_lora_weights(folder)` reads."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    text_layers = None
    if config.train_text_encoder:
        text_layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.text_encoder))
    type(pipe).save_lora_weights(
        folder,
        # peft's own keys: diffusers' conversion renames only the attention layers' (lora.down/up), and a file
        # mixing both names loads without the renamed ones
        unet_lora_layers=get_peft_model_state_dict(pipe.unet),
        text_encoder_lora_layers=text_layers,
        unet_lora_adapter_metadata=pipe.unet.peft_config["default"].to_dict(),
        text_encoder_lora_adapter_metadata=(
            pipe.text_encoder.peft_config["default"].to_dict() if config.train_text_encoder else None
        ),
        safe_serialization=True,
    )
    return folder / LORA_WEIGHTS


def _optimizer(parameters: list[torch.nn.Parameter], config: DreamBoothConfig) -> torch.optim.Optimizer:
    if config.use_8bit_adam:
        try:
            import bitsandbytes as bnb

            adam8: torch.optim.Optimizer = bnb.optim.AdamW8bit(parameters, lr=config.learning_rate, weight_decay=1e-2)
            return adam8
        except ImportError:
            logger.warning("--use-8bit-adam: bitsandbytes is not installed, using torch's AdamW")
    return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=1e-2)


VALIDATION_BATCH_SIZE = 8


def _paint_with(config: DreamBoothConfig) -> GenerateConfig:
    defaults = default_generate_config(config.pretrained_model)
    return GenerateConfig(steps=config.sample_steps or defaults.steps,
                         guidance=config.guidance if config.guidance is not None else defaults.guidance,
                         seed=config.seed)  # fmt: skip


def _validation_grid(painter: DiffusersPainter, config: DreamBoothConfig, step: int, settings: GenerateConfig
                     ) -> Path:  # fmt: skip
    """Paint the validation prompts with the weights of `step`; frame them by the verifier where it can judge."""
    prompts = list(config.validation_prompts)
    images = paint_prompts(painter, prompts, settings, batch_size=VALIDATION_BATCH_SIZE, progress=False)
    judged: dict[str, bool] = {}
    if images.shape[1:3] == (CANVAS_PX, CANVAS_PX):  # a Spoken Shapes model: the verifier can judge
        scores = score_images([CaptionedImage(f"{i}", im.astype(np.float32), p) for i, (im, p) in
                               enumerate(zip(images, prompts, strict=True))])  # fmt: skip
        judged = {v.name: v.correct for v in scores.verdicts}
    verdicts = [judged.get(f"{i}") for i in range(len(prompts))]
    path = config.output_dir / "validation" / f"step-{step:06d}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    grid = verdict_grid(list(images), verdicts, prompts, columns=min(8, len(prompts)),
                        scale=max(1, 192 // images.shape[1]))  # fmt: skip
    save_png(grid, path, overwrite=True)
    return path


def _check_output_dir(config: DreamBoothConfig) -> None:
    found = checkpoints(config.output_dir) if config.output_dir.is_dir() else []
    if config.resume and not found:
        raise ConfigError(f"--resume: '{config.output_dir}' holds no checkpoint to resume from")
    if not config.resume and found:
        raise ConfigError(f"--output-dir '{config.output_dir}' holds checkpoints of an earlier run: "
                          "pass --resume to continue it, or choose a new folder")  # fmt: skip
    if not config.resume and any((config.output_dir / name).exists() for name in (LORA_WEIGHTS, "model_index.json")):
        raise ConfigError(f"--output-dir '{config.output_dir}' holds a finished run: not overwriting it")


def main(config: DreamBoothConfig) -> Path:
    """Train; save LoRA weights or a whole pipeline into config.output_dir and return that path."""
    mixed_precision = choose_mixed_precision(config.mixed_precision, torch.cuda.is_available())
    accelerator = Accelerator(mixed_precision=mixed_precision, cpu=config.device == "cpu")
    _check_output_dir(config)
    config.output_dir.mkdir(parents=True, exist_ok=True)
    show = config.progress and accelerator.is_main_process
    pipe = load_pipeline(config.pretrained_model, device=str(accelerator.device), backend="torch", dtype="float32")
    pipe.set_progress_bar_config(disable=True)
    resolution = config.resolution or int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
    painter = DiffusersPainter(pipe, config.pretrained_model)
    settings = _paint_with(config)

    instances, failed = load_examples(config.instance_dir, config.instance_prompt, resolution,
                                      use_captions=config.use_captions, use_crops=config.use_crops,
                                      fit=config.fit)  # fmt: skip
    for problem in failed:
        logger.warning("skipped %s", problem)
    if not instances:
        raise ConfigError(f"--instance-dir '{config.instance_dir}': no readable JPEG or PNG pictures")
    classes: list[Example] = []
    if config.with_prior_preservation:
        with accelerator.main_process_first():
            if accelerator.is_main_process:

                def paint(prompts: list[str], first_seed: int) -> list[Image.Image]:
                    at = replace(settings, seed=config.seed * 100_003 + first_seed)
                    return [Image.fromarray(im) for im in paint_prompts(painter, prompts, at, progress=False)]

                ensure_class_images(config.class_folder, config.class_prompts, config.num_class_images, paint,
                                    progress=show)  # fmt: skip
        classes = load_class_examples(config.class_folder, config.class_prompts, resolution, config.num_class_images,
                                      config.fit)  # fmt: skip

    vae, text_encoder, tokenizer, unet = pipe.vae, pipe.text_encoder, pipe.tokenizer, pipe.unet
    vae.requires_grad_(False)
    text_encoder.requires_grad_(config.train_text_encoder and not config.lora)
    unet.requires_grad_(not config.lora)
    torch.manual_seed(config.seed)  # LoRA's initial weights
    if config.lora:
        add_lora(pipe, config)
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
        if config.train_text_encoder:
            text_encoder.gradient_checkpointing_enable()
    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    scale = float(vae.config.scaling_factor)

    trainable = Trainable(unet, text_encoder, config.train_text_encoder)
    parameters = [p for p in trainable.parameters() if p.requires_grad]
    optimizer = _optimizer(parameters, config)
    n = accelerator.num_processes  # a prepared scheduler steps once per process
    lr_scheduler = get_scheduler(config.lr_scheduler, optimizer, num_warmup_steps=config.lr_warmup_steps * n,
                                 num_training_steps=config.max_train_steps * n)  # fmt: skip
    model, optimizer, lr_scheduler = accelerator.prepare(trainable, optimizer, lr_scheduler)
    step = resume(accelerator, config.output_dir, asdict(config), "train_config.json") if config.resume else 0
    if accelerator.is_main_process:
        logger.info("DreamBooth on '%s': %d instance and %d class pictures at %d px, %s, %d trainable parameters, "
                    "steps %d -> %d", config.pretrained_model, len(instances), len(classes), resolution,
                    "LoRA" if config.lora else "full", sum(p.numel() for p in parameters), step,
                    config.max_train_steps)  # fmt: skip
        record = {**asdict(config), "mixed_precision_used": mixed_precision, "resolution_used": resolution}
        save_text(json.dumps(record, indent=2, default=str) + "\n", config.output_dir / "train_config.json",
                  overwrite=True)  # fmt: skip

    def loss_of(micro: int) -> torch.Tensor:
        # Everything random comes from (seed, step, micro-batch, process): a resumed run repeats it exactly.
        rng = np.random.default_rng([config.seed, step, micro, accelerator.process_index])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        chosen = [instances[i] for i in rng.integers(len(instances), size=config.batch_size)]
        prior = [classes[i] for i in rng.integers(len(classes), size=config.batch_size)] if classes else []
        batch = collate(chosen, prior, rng)
        with torch.no_grad():
            posterior = vae.encode(batch.pixels.to(accelerator.device, vae.dtype)).latent_dist
            latents = (posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=generator)) * scale
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (len(latents),), generator=generator)
        latents, noise, timesteps = latents.float(), noise.to(accelerator.device), timesteps.to(accelerator.device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        input_ids = tokenizer(batch.prompts, padding="max_length", max_length=tokenizer.model_max_length,
                              truncation=True, return_tensors="pt").input_ids.to(accelerator.device)  # fmt: skip
        with accelerator.autocast():
            prediction = model(input_ids, noisy, timesteps).float()
        k = batch.num_instances
        loss = F.mse_loss(prediction[:k], target[:k])
        if prior:
            loss = loss + config.prior_loss_weight * F.mse_loss(prediction[k:], target[k:])
        return loss

    log_file = config.output_dir / "log.jsonl"
    bar = tqdm(total=config.max_train_steps, initial=step, unit="step", desc="dreambooth", disable=not show)
    start = time.perf_counter()
    model.train()
    while step < config.max_train_steps:
        total = torch.zeros((), device=accelerator.device)
        for micro in range(config.gradient_accumulation_steps):
            last = micro == config.gradient_accumulation_steps - 1
            with contextlib.nullcontext() if last else accelerator.no_sync(model):
                loss = loss_of(micro) / config.gradient_accumulation_steps
                accelerator.backward(loss)
            total += loss.detach()
        accelerator.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        mean_loss = accelerator.reduce(total, reduction="mean").item()
        bar.update()
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        if accelerator.is_main_process and (step % config.log_every == 0 or step == config.max_train_steps):
            append_log(log_file, {"step": step, "loss": round(mean_loss, 6), "lr": lr_scheduler.get_last_lr()[0],
                                  "elapsed_s": round(time.perf_counter() - start, 2)})  # fmt: skip
        if step % config.checkpointing_steps == 0 or step == config.max_train_steps:
            save_checkpoint(accelerator, config.output_dir, step, config.keep_checkpoints)
        if accelerator.is_main_process and config.validation_prompts and step % config.validation_steps == 0:
            model.eval()
            logger.info("step %d: validation pictures in '%s'", step, _validation_grid(painter, config, step, settings))
            model.train()
    bar.close()

    out = config.output_dir
    if accelerator.is_main_process:
        if config.lora:
            saved = save_lora(pipe, config, out)
        else:
            pipe.save_pretrained(out, safe_serialization=True)
            paint_with: dict[str, object] = {"steps": settings.steps, "guidance": settings.guidance}  # the base's
            if paints_spoken_shapes(config.pretrained_model):
                paint_with["world"] = SHAPES_WORLD
            save_text(json.dumps(paint_with) + "\n", out / PAINT_SETTINGS_FILE, overwrite=True)
            saved = out
        logger.info("saved '%s'", saved)
    accelerator.wait_for_everyone()
    return out
