"""`soundsight train dreambooth`: pictures in, prior-preservation batches, full and LoRA runs, resume."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from diffusers import StableDiffusionPipeline
from peft.utils import get_peft_model_state_dict
from PIL import Image
from typer.testing import CliRunner

from soundsight.cli import app
from soundsight.defaults import PAINT_SETTINGS_FILE, default_generate_config
from soundsight.errors import ConfigError
from soundsight.train.dreambooth import LORA_WEIGHTS, DreamBoothConfig, add_lora, choose_mixed_precision
from soundsight.train.dreambooth import main as train_dreambooth
from soundsight.train.subject_images import (
    Example,
    collate,
    ensure_class_images,
    load_class_examples,
    load_examples,
    square_pixels,
)

from .conftest import SHARED_DATA

REAL_SUBJECTS = SHARED_DATA / "dreambooth_subjects"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three pictures of a checkered 'subject' of different sizes and kinds, as users hand them in."""
    folder = tmp_path_factory.mktemp("instances")
    checker = np.kron(np.indices((4, 4)).sum(0) % 2, np.ones((12, 12), np.uint8)) * 255
    Image.fromarray(np.stack([checker] * 3, -1).astype(np.uint8)).save(folder / "a.png")
    Image.fromarray(checker.astype(np.uint8)).resize((80, 40)).save(folder / "b.jpg")  # greyscale, not square
    Image.fromarray(np.stack([checker] * 4, -1).astype(np.uint8)).save(folder / "c.png")  # RGBA
    return folder


def _command(base: Path, instances: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return ["soundsight", "train", "dreambooth", "--pretrained-model", str(base), "--instance-dir", str(instances),
            "--instance-prompt", "a sks heart", "--class-prompt", "a heart", "--with-prior-preservation",
            "--num-class-images", "4", "--output-dir", str(out), "--max-train-steps", str(steps),
            "--learning-rate", "1e-3", "--checkpointing-steps", "4", "--train-batch-size", "2", "--seed", "5",
            "--log-every", "1", "--device", "cpu", "--no-progress", *extra]  # fmt: skip


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows}


def test_a_prior_preservation_batch_keeps_every_picture_with_its_own_prompt() -> None:
    def example(value: float, prompt: str) -> Example:
        return Example(np.full((3, 8, 8), value, np.float32), prompt, f"{prompt}.png")

    instances = [example(0.1, "a sks heart on a red background"), example(0.2, "a sks heart")]
    classes = [example(-0.1, "a heart"), example(-0.2, "a blue heart")]
    batch = collate(instances, classes)
    assert batch.num_instances == 2 and batch.pixels.shape == (4, 3, 8, 8)
    for row, chosen in enumerate([*instances, *classes]):
        assert batch.prompts[row] == chosen.prompt
        assert torch.equal(batch.pixels[row], torch.from_numpy(chosen.pixels))


def test_pictures_are_turned_upright_squared_and_scaled(tmp_path: Path) -> None:
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, :40] = 255  # white on the left half
    image = Image.fromarray(wide)
    exif = image.getexif()
    exif[0x0112] = 6  # the camera was turned: show rotated 90 degrees clockwise
    image.save(tmp_path / "turned.jpg", exif=exif.tobytes(), quality=95)
    with Image.open(tmp_path / "turned.jpg") as opened:
        upright = square_pixels(opened, 16)
    assert upright.shape == (3, 16, 16) and upright.min() >= -1 and upright.max() <= 1
    # upright the picture is tall: white on top, black below (centre crop keeps the middle)
    assert upright[:, 0].mean() > 0.8 and upright[:, -1].mean() < -0.8
    padded = square_pixels(Image.fromarray(wide), 16, fit="pad")
    assert padded[:, 0].mean() > 0.9 and padded[:, 8, 2].mean() > 0.8  # white bands above and below, white left


def test_real_photos_load_and_a_bad_file_is_reported_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "dog"
    folder.mkdir()
    for photo in sorted((REAL_SUBJECTS / "dog").glob("*.jpg"))[:3]:
        (folder / photo.name).write_bytes(photo.read_bytes())
    (folder / "notes.jpg").write_text("not a picture")
    examples, failed = load_examples(folder, "a photo of sks dog", 64)
    assert len(examples) == 3 and all(e.pixels.shape == (3, 64, 64) for e in examples)
    assert all(e.prompt == "a photo of sks dog" for e in examples)
    assert len(failed) == 1 and "notes.jpg" in failed[0] and "not a readable image" in failed[0]
    with pytest.raises(ConfigError, match="no such folder"):
        load_examples(tmp_path / "missing", "x", 64)


def test_captions_from_the_instance_metadata(instances: Path, tmp_path: Path) -> None:
    folder = tmp_path / "captioned"
    folder.mkdir()
    for name in ("a.png", "c.png"):
        (folder / name).write_bytes((instances / name).read_bytes())
    (folder / "metadata.jsonl").write_text('{"file_name": "a.png", "caption": "a sks heart on a red background"}\n')
    examples, _ = load_examples(folder, "a sks heart", 32, use_captions=True)
    assert [e.prompt for e in examples] == ["a sks heart on a red background", "a sks heart"]


def test_several_captions_of_one_picture_are_drawn_in_turn(instances: Path, tmp_path: Path) -> None:
    folder = tmp_path / "captioned"
    folder.mkdir()
    for name in ("a.png", "c.png"):
        (folder / name).write_bytes((instances / name).read_bytes())
    several = ["a sks heart on a red background", "a big sks heart", "a red background with a sks heart"]
    rows = [
        {"file_name": "a.png", "caption": "a sks heart", "captions": several},
        {"file_name": "c.png", "caption": "x"},
    ]
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    examples, _ = load_examples(folder, "a sks heart", 32, use_captions=True)
    assert [e.prompts for e in examples] == [tuple(several), ("x",)]
    rng = np.random.default_rng(0)
    drawn = [collate(examples, [], rng).prompts for _ in range(60)]
    assert {p[0] for p in drawn} == set(several) and {p[1] for p in drawn} == {"x"}
    assert collate(examples, []).prompts == [several[0], "x"]  # without a generator: the first
    rows[0]["captions"] = "a sks heart"
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ConfigError, match="'a.png'.*must be a list of texts"):
        load_examples(folder, "a sks heart", 32, use_captions=True)


def test_crops_listed_in_the_metadata_become_more_instance_pictures(tmp_path: Path) -> None:
    """A close-up of a small subject: the crop box cuts the picture as it is shown (camera turn applied) and the
    crop is scaled up to the resolution, with its own captions (or the instance prompt without --use-captions)."""
    folder = tmp_path / "subject"
    folder.mkdir()
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:10, 60:70] = 255  # stored: a white patch near the top right; shown upright: at the bottom right
    image = Image.fromarray(wide)
    exif = image.getexif()
    exif[0x0112] = 6
    image.save(folder / "small.png", exif=exif.tobytes())
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(folder / "big.png")
    close_up = {"box": [20, 60, 40, 80], "captions": ["a big sks heart", "a sks heart on a black background"]}
    rows = [{"file_name": "small.png", "captions": ["a small sks heart"], "crops": [close_up]},
            {"file_name": "big.png", "caption": "a big grey sks heart"}]  # fmt: skip
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    plain, _ = load_examples(folder, "a sks heart", 8, use_captions=True)
    assert [e.prompts for e in plain] == [("a big grey sks heart",), ("a small sks heart",)]
    examples, failed = load_examples(folder, "a sks heart", 8, use_captions=True, use_crops=True)
    assert not failed and [(e.source, e.prompts) for e in examples[:2]] == [(e.source, e.prompts) for e in plain]
    crop = examples[2]
    assert crop.prompts == tuple(close_up["captions"]) and crop.source.endswith("small.png[20, 60, 40, 80]")
    # upright the patch covers rows 60-69, columns 30-39 of the 40 x 80 picture: the box's right half, top half
    white = crop.pixels.mean(0) > 0.5
    assert white[:4, 4:].all() and not white[4:].any() and not white[:, :4].any()
    unnamed, _ = load_examples(folder, "a sks heart", 8, use_crops=True)
    assert [e.prompts for e in unnamed] == [("a sks heart",)] * 3

    for box, problem in (([20, 60, 40], "must be \\[left, top, right, bottom\\]"), ([30, 60, 20, 80], "left < right"),
                         ([20, 70, 40, 90], "reaches outside the 40 x 80 picture")):  # fmt: skip
        rows[0]["crops"] = [{**close_up, "box": box}]
        (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
        with pytest.raises(ConfigError, match=problem):
            load_examples(folder, "a sks heart", 8, use_captions=True, use_crops=True)
    rows[0]["crops"] = []
    (folder / "metadata.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    with pytest.raises(ConfigError, match='no metadata.jsonl row lists "crops"'):
        load_examples(folder, "a sks heart", 8, use_crops=True)


def test_class_pictures_are_painted_once_then_reused(tmp_path: Path) -> None:
    calls: list[tuple[list[str], int]] = []

    def paint(prompts: list[str], first_seed: int) -> list[Image.Image]:
        calls.append((prompts, first_seed))
        return [Image.new("RGB", (8, 8), (first_seed + i, 0, 0)) for i in range(len(prompts))]

    assert ensure_class_images(tmp_path, ["a heart"], 5, paint, batch_size=3, progress=False) == 5
    assert [(len(p), seed) for p, seed in calls] == [(3, 0), (2, 3)]
    assert ensure_class_images(tmp_path, ["a heart"], 5, paint, progress=False) == 0
    assert ensure_class_images(tmp_path, ["a red heart", "a blue heart"], 7, paint, progress=False) == 2
    assert calls[-1] == (["a blue heart", "a red heart"], 5)  # picture j from prompt j % 2
    examples = load_class_examples(tmp_path, ["a heart"], 8, 7)
    assert [e.prompt for e in examples] == ["a heart"] * 5 + ["a blue heart", "a red heart"]
    assert examples[5].pixels[0, 0, 0] == pytest.approx(5 / 127.5 - 1)  # the picture painted with that prompt


def test_fp16_on_a_cpu_falls_back_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert choose_mixed_precision("fp16", cuda=False) == "no"
    assert "fp16 needs a GPU" in caplog.text
    assert choose_mixed_precision("fp16", cuda=True) == "fp16" and choose_mixed_precision("bf16", cuda=False) == "bf16"


def test_bad_settings_are_refused_before_any_work(tiny_sd: Path, instances: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--with-prior-preservation needs --class-prompt"):
        DreamBoothConfig(str(tiny_sd), instances, "a sks heart", tmp_path, with_prior_preservation=True)
    with pytest.raises(ConfigError, match="--resume: .* holds no checkpoint"):
        train_dreambooth(DreamBoothConfig(str(tiny_sd), instances, "a sks heart", tmp_path / "new", resume=True))
    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    with pytest.raises(ConfigError, match=r"^--lora-modules 'to_q,attn9': no UNet layer is called 'attn9'$"):
        add_lora(pipe, DreamBoothConfig(str(tiny_sd), instances, "a sks heart", tmp_path, lora=True,
                                        lora_modules=("to_q", "attn9")))  # fmt: skip
    with pytest.raises(ConfigError, match=r"^--lora-modules 'norm1': Target module .* is not supported"):
        add_lora(pipe, DreamBoothConfig(str(tiny_sd), instances, "a sks heart", tmp_path, lora=True,
                                        lora_modules=("norm1",)))  # fmt: skip
    result = CliRunner().invoke(app, ["train", "dreambooth", "--instance-dir", str(tmp_path / "none"),
                                      "--instance-prompt", "a sks heart", "--output-dir", str(tmp_path / "o"),
                                      "--pretrained-model", str(tiny_sd), "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 1 and "no such folder" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["train", "dreambooth", "--instance-dir", str(instances), "--use-crops",
                                      "--instance-prompt", "a sks heart", "--output-dir", str(tmp_path / "o"),
                                      "--pretrained-model", str(tiny_sd), "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().endswith(f"image folder '{instances}': no metadata.jsonl row lists \"crops\"")


def test_lora_weights_load_with_plain_diffusers(tiny_sd: Path, instances: Path, tmp_path: Path) -> None:
    out = tmp_path / "lora"
    command = _command(tiny_sd, instances, out, 6, "--lora", "--rank", "4", "--train-text-encoder",
                       "--lora-modules", "to_q,to_k,to_v,to_out.0,conv1,conv2",
                       "--validation-prompt", "a sks heart on a red background", "--validation-steps", "3")  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "soundsight", *command[1:]], capture_output=True, text=True,
                            timeout=300, env=ENV)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / LORA_WEIGHTS).is_file() and len(list((out / "class_images").glob("*.png"))) == 4
    saved = safetensors.torch.load_file(out / LORA_WEIGHTS)
    assert any(k.startswith("unet.") for k in saved) and any(k.startswith("text_encoder.") for k in saved)
    assert any(".resnets.0.conv1.lora_A" in k for k in saved)  # the convolutions' adapters too
    assert Image.open(out / "validation" / "step-000006.png").width > 32
    pipe = StableDiffusionPipeline.from_pretrained(tiny_sd)
    base = pipe("a sks heart", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np")
    pipe.load_lora_weights(out)  # the exact call users make
    loaded = get_peft_model_state_dict(pipe.unet, adapter_name=next(iter(pipe.unet.peft_config)))
    trained = {k.removeprefix("unet."): v for k, v in saved.items() if k.startswith("unet.")}
    assert loaded.keys() == trained.keys() and any(".to_q." in k for k in loaded)  # every adapter, none dropped
    assert all(torch.equal(loaded[k], trained[k]) for k in trained)
    tuned = pipe("a sks heart", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np")
    assert np.abs(base.images - tuned.images).max() > 1e-4  # the adapters change the picture
    assert sorted(_losses(out)) == [1, 2, 3, 4, 5, 6]


def test_a_full_fine_tune_saves_a_pipeline(tiny_sd: Path, instances: Path, tmp_path: Path) -> None:
    out = tmp_path / "full"
    result = CliRunner().invoke(app, _command(tiny_sd, instances, out, 3, "--train-text-encoder")[1:])
    assert result.exit_code == 0, result.output
    base, tuned = StableDiffusionPipeline.from_pretrained(tiny_sd), StableDiffusionPipeline.from_pretrained(out)
    changed = [k for k, v in tuned.unet.state_dict().items() if not torch.equal(v, base.unet.state_dict()[k])]
    assert changed and not list(out.rglob("*.bin")) and not list(out.rglob("*.pkl"))  # checkpoints hold no pickle
    base_text, tuned_text = base.text_encoder.state_dict(), tuned.text_encoder.state_dict()
    assert any(not torch.equal(tuned_text[k], base_text[k]) for k in base_text)
    assert all(torch.equal(v, base.vae.state_dict()[k]) for k, v in tuned.vae.state_dict().items())
    assert default_generate_config(out) == default_generate_config(tiny_sd)  # painted as its base model paints
    (out / PAINT_SETTINGS_FILE).write_text('{"steps": 12, "guidance": 3}')
    assert (default_generate_config(out).steps, default_generate_config(out).guidance) == (12, 3.0)
    (out / PAINT_SETTINGS_FILE).write_text('{"steps": 12}')
    with pytest.raises(ConfigError, match="soundsight_paint.json': expected steps and guidance"):
        default_generate_config(out)
    (out / PAINT_SETTINGS_FILE).unlink()
    again = CliRunner().invoke(app, _command(tiny_sd, instances, out, 3)[1:])
    assert again.exit_code == 1 and "pass --resume" in again.output  # never trains over a finished run


def test_a_killed_run_resumes_on_the_same_loss_curve(tiny_sd: Path, instances: Path, tmp_path: Path) -> None:
    launch = [sys.executable, "-m", "soundsight"]
    unbroken, killed = tmp_path / "unbroken", tmp_path / "killed"
    subprocess.run([*launch, *_command(tiny_sd, instances, unbroken, 10, "--lora")[1:]], check=True, env=ENV,
                   capture_output=True, timeout=300)  # fmt: skip
    process = subprocess.Popen([*launch, *_command(tiny_sd, instances, killed, 10, "--lora")[1:]], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while not (killed / "checkpoint-4" / "step.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / LORA_WEIGHTS).exists(), "the run was killed before it finished"
    subprocess.run([*launch, *_command(tiny_sd, instances, killed, 10, "--lora", "--resume")[1:]], check=True,
                   env=ENV, capture_output=True, timeout=300)  # fmt: skip
    expected, got = _losses(unbroken), _losses(killed)
    assert sorted(got) == list(range(1, 11))
    assert [got[s] for s in range(1, 11)] == pytest.approx([expected[s] for s in range(1, 11)], abs=1e-5)


def test_two_cpu_processes_under_accelerate(tiny_sd: Path, instances: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m", "soundsight"]  # fmt: skip
    result = subprocess.run([*launch, *_command(tiny_sd, instances, out, 4, "--lora")[1:]], capture_output=True,
                            text=True, timeout=600, env=ENV)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(_losses(out)) == [1, 2, 3, 4] and (out / LORA_WEIGHTS).is_file()
    assert len(list((out / "class_images").glob("*.png"))) == 4  # painted once, by the main process


def test_evaluate_dreambooth_scores_the_subject_and_the_prior(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = ["evaluate", "dreambooth", "-o", str(tmp_path / "eval"), "--per-background", "1", "--steps", "2",
            "--repeats", "2", "--report", str(report), "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)  # the bundled model: it paints hearts, not the subject
    assert result.exit_code == 0, result.output
    scores = json.loads(report.read_text())
    subject = [v for v in scores["verdicts"] if v["subject"]]
    assert len(subject) == 2 * 6 and all(v["caption"].startswith("a sks heart on a ") for v in subject)
    assert scores["attribute_counts"]["shape"] == 2 * 7 * 7  # plain hearts: 7 colours (not purple) x 7 backgrounds
    assert scores["subject_fidelity"] == 0.0  # never taught the subject
    assert (tmp_path / "eval" / "subject_grid.png").is_file() and (tmp_path / "eval" / "prior_grid.png").is_file()
    rows = (tmp_path / "eval" / "images" / "metadata.jsonl").read_text().splitlines()
    captions = [json.loads(row)["caption"] for row in rows]
    assert len(captions) == 2 * (6 + 49) and captions[:6] == captions[6:12] and captions[12:61] == captions[61:]
    with (
        Image.open(tmp_path / "eval" / "subject_grid.png") as grid,
        Image.open(tmp_path / "eval" / "prior_grid.png") as prior,
    ):
        assert grid.height < prior.height  # the first set only: 6 subject pictures, 49 plain hearts
