"""DreamBooth training on this CPU: steps per second and peak memory of `soundsight train dreambooth`
for full fine-tuning vs LoRA, fp32 vs bf16, with and without gradient checkpointing, on the bundled
Spoken Shapes model; against a bare diffusers + torch training step on the same model (the baseline);
and one training step of the full-size SD 2.1 UNet config (random weights) at 256 px with gradient
checkpointing, full and LoRA (an out-of-memory is recorded as a result).

Every case runs in its own process, so its peak memory is its own.
Run: python benchmarks/bench_dreambooth.py  ->  benchmarks/results/dreambooth_training.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import peak_rss_mb, write

ROOT = Path(__file__).resolve().parents[1]
SUBJECT_STEPS, WARMUP_STEPS = 30, 5
BATCH = 4  # instance pictures per step; as many class pictures join them


def _subject_folders(tmp: Path) -> tuple[Path, Path]:
    """The Spoken Shapes subject's instance set, and class pictures (plain hearts) so nothing is painted."""
    from PIL import Image

    from soundsight.shapes.render import make_scene, render_scene
    from soundsight.shapes.spec import SUBJECT_BACKGROUNDS

    instances, classes = tmp / "instances", tmp / "classes"
    instances.mkdir()
    classes.mkdir()
    for i, background in enumerate(SUBJECT_BACKGROUNDS[:5]):
        render_scene(make_scene("heart", "sks", "big", "center", background)).save(instances / f"{i}.png")
        color = "red" if background != "red" else "blue"
        render_scene(make_scene("heart", color, "big", "center", background)).save(classes / f"class-{i:05d}.png")
    Image.open(instances / "0.png").save(classes / "class-00005.png")
    return instances, classes


def run_trainer(
    model: str, lora: bool, precision: str, checkpointing: bool, steps: int, resolution: int | None
) -> dict:
    """Our trainer for `steps` steps; the rate from its own log, after the warm-up steps."""
    from soundsight.train.dreambooth import DreamBoothConfig, main

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        instances, classes = _subject_folders(tmp)
        config = DreamBoothConfig(
            pretrained_model=model, instance_dir=instances, instance_prompt="a sks heart", output_dir=tmp / "out",
            class_dir=classes, class_prompts=("a heart",), with_prior_preservation=True, num_class_images=6, lora=lora,
            rank=8, resolution=resolution, batch_size=BATCH if resolution is None else 1, max_train_steps=steps,
            learning_rate=1e-4, mixed_precision=precision, gradient_checkpointing=checkpointing,
            checkpointing_steps=10_000, log_every=1, device="cpu", progress=False,
        )  # fmt: skip
        start = time.perf_counter()
        main(config)
        total = time.perf_counter() - start
        log = [json.loads(line) for line in (config.output_dir / "log.jsonl").read_text().splitlines()]
    elapsed = {row["step"]: row["elapsed_s"] for row in log}
    warm = min(WARMUP_STEPS, steps - 1)
    timed = elapsed[steps] - (elapsed[warm] if warm else 0.0)
    return {"steps_per_s": round((steps - warm) / timed, 3), "s_per_step": round(timed / (steps - warm), 3),
            "timed_steps": steps - warm, "run_s": round(total, 1), "peak_rss_mb": round(peak_rss_mb())}  # fmt: skip


def run_bare(model: str, steps: int) -> dict:
    """The baseline: the plain diffusers + torch DreamBooth step (prior preservation, fp32, full UNet)."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(model)
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    optimizer = torch.optim.AdamW(pipe.unet.parameters(), lr=1e-4, weight_decay=1e-2)
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    side = pipe.unet.config.sample_size * pipe.vae_scale_factor
    pixels = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (2 * BATCH, 3, side, side)).astype(np.float32))
    ids = pipe.tokenizer(["a sks heart"] * BATCH + ["a heart"] * BATCH, padding="max_length",
                         max_length=pipe.tokenizer.model_max_length, return_tensors="pt").input_ids  # fmt: skip
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with torch.no_grad():
            latents = pipe.vae.encode(pixels).latent_dist.sample() * pipe.vae.config.scaling_factor
            states = pipe.text_encoder(ids)[0]
        noise = torch.randn_like(latents)
        t = torch.randint(0, 1000, (len(latents),))
        prediction = pipe.unet(scheduler.add_noise(latents, noise, t), t, encoder_hidden_states=states).sample
        loss = F.mse_loss(prediction[:BATCH], noise[:BATCH]) + F.mse_loss(prediction[BATCH:], noise[BATCH:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(pipe.unet.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    timed, counted = sum(times[WARMUP_STEPS:]), steps - WARMUP_STEPS
    return {"steps_per_s": round(counted / timed, 3), "s_per_step": round(timed / counted, 3),
            "timed_steps": steps - WARMUP_STEPS, "peak_rss_mb": round(peak_rss_mb())}  # fmt: skip


def save_full_size(folder: Path) -> Path:
    """SD 2.1-base's architecture with random weights, saved as a pipeline folder our trainer loads."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from full_size import sd21_pipeline

    sd21_pipeline().save_pretrained(folder, safe_serialization=True)
    return folder


def one_case(case: dict) -> dict:
    if case["kind"] == "bare":
        return run_bare(case["model"], SUBJECT_STEPS)
    return run_trainer(case["model"], case["lora"], case["precision"], case["checkpointing"], case["steps"],
                       case.get("resolution"))  # fmt: skip


def in_subprocess(case: dict) -> dict:
    result = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                            cwd=ROOT)  # fmt: skip
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["killed"])[-1]
        out_of_memory = result.returncode == -9 or "memory" in result.stderr.lower()
        return {"failed": "out of memory" if out_of_memory else f"exit {result.returncode}: {tail[-300:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    from soundsight.defaults import bundled_image_model_dir

    model = str(bundled_image_model_dir())
    results: dict[str, dict] = {"bare diffusers + torch, full, fp32": in_subprocess({"kind": "bare", "model": model})}
    for lora in (False, True):
        for precision in ("no", "bf16"):
            for checkpointing in (False, True):
                name = f"{'LoRA r8' if lora else 'full'}, {'fp32' if precision == 'no' else 'bf16'}" + (
                    ", gradient checkpointing" if checkpointing else ""
                )
                case = {"kind": "ours", "model": model, "lora": lora, "precision": precision,
                        "checkpointing": checkpointing, "steps": SUBJECT_STEPS}  # fmt: skip
                results[name] = in_subprocess(case)
                print(name, results[name], flush=True)
    baseline = results["bare diffusers + torch, full, fp32"].get("s_per_step")
    ours = results["full, fp32"].get("s_per_step")
    with tempfile.TemporaryDirectory(dir=ROOT / "runs" if (ROOT / "runs").is_dir() else None) as tmp:
        big = save_full_size(Path(tmp) / "sd21")
        full_size: dict[str, dict] = {}
        for lora in (False, True):
            case = {"kind": "ours", "model": str(big), "lora": lora, "precision": "no", "checkpointing": True,
                    "steps": 2, "resolution": 256}  # fmt: skip
            full_size["LoRA r8" if lora else "full"] = in_subprocess(case)
            print("SD 2.1 UNet at 256 px", full_size, flush=True)
    settings = {"model": "bundled Spoken Shapes SD (64 px)", "batch": f"{BATCH} instance + {BATCH} class pictures",
                "steps": SUBJECT_STEPS, "warm-up steps not timed": WARMUP_STEPS,
                "full_size": "SD 2.1-base config, random weights, 256 px, 1 instance + 1 class picture, "
                             "gradient checkpointing, fp32, 2 steps (1 timed)"}  # fmt: skip
    ratio = round(ours / baseline, 3) if ours and baseline else None
    print(write("dreambooth_training", {"settings": settings, "spoken_shapes": results,
                                        "ours_over_bare_full_fp32": ratio, "sd21_unet_256px": full_size}))  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(one_case(json.loads(sys.argv[2]))))
    else:
        main()
