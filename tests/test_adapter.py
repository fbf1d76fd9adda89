"""The audio adapter: its model, training (checkpoints, resume, two processes), the models it fits, and
`soundsight hear` on synthetic and real sounds, on tiny random-weight Whisper and Stable Diffusion."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from PIL import Image
from typer.testing import CliRunner

from soundsight.adapter import (
    GATE_WINDOW_S,
    audio_states,
    check_sound,
    clip_states,
    fingerprint,
    gate_windows,
    gated_states,
    loudest_window,
)
from soundsight.cli import app
from soundsight.errors import AudioError, ConfigError, ModelNotFoundError
from soundsight.loading import load_adapter, load_asr, load_sound_gate
from soundsight.models.audio_adapter import AdapterConfig, AudioAdapter
from soundsight.models.sound_gate import NONE_LABEL, SoundGate, SoundGateConfig
from soundsight.shapes.build import BuildReport
from soundsight.shapes.sounds import SYNTHS
from soundsight.shapes.spec import SAMPLE_RATE
from soundsight.sound_to_image import SoundToImage
from soundsight.train.adapter import scene_loss

from .conftest import SHARED_DATA
from .tiny_models import save_tiny_stable_diffusion

SOUNDS = SHARED_DATA / "sounds"


def _command(build: BuildReport, out: Path, whisper: Path, sd: Path, steps: int, launcher: list[str]) -> list[str]:
    return [*launcher, "soundsight", "train", "adapter", "--data", str(build.out), "--out", str(out),
            "--asr-model", str(whisper), "--image-model", str(sd), "--width", "16", "--layers", "1", "--heads", "2",
            "--steps", str(steps), "--batch-size", "4", "--checkpoint-every", "2", "--validate-every", "0",
            "--log-every", "1", "--seed", "1", "--other-sounds", "0", "--varied-val-sounds", "12",
            "--scene-weight", "0.5", "--no-progress"]  # fmt: skip


def _losses(run: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if "loss" in row}


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny_adapter(small_build: BuildReport, tiny_whisper: Path, tiny_sd: Path, tmp_path_factory: pytest.TempPathFactory
                 ) -> Path:  # fmt: skip
    """A whole `train adapter` run in miniature (6 steps, validation at the end); returns its run folder."""
    out = tmp_path_factory.mktemp("adapter") / "run"
    command = _command(small_build, out, tiny_whisper, tiny_sd, 6, [sys.executable, "-m"])
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_the_adapter_maps_audio_states_to_the_text_encoders_shape() -> None:
    config = AdapterConfig(audio_width=16, text_width=24, text_length=77, width=32, layers=1, heads=4)
    adapter = AudioAdapter(config)
    assert adapter(torch.randn(3, 40, 16)).shape == (3, 77, 24)
    with pytest.raises(ConfigError, match=r"^adapter width 30: must be a multiple of heads \(4\)$"):
        AdapterConfig(width=30, heads=4)


def test_audio_states_hear_the_loudest_window_pooled(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper, device="cpu")
    quiet, loud = np.full(8 * SAMPLE_RATE, 0.01, np.float32), np.ones(2 * SAMPLE_RATE, np.float32)
    clip = np.concatenate([quiet, loud, quiet])
    window = loudest_window(clip, 5.0)
    assert len(window) == 5 * SAMPLE_RATE and window.max() == 1.0  # the loud part is inside the window heard
    states = audio_states([clip, loud], asr, time_pool=4)  # type: ignore[arg-type]
    assert states.shape == (2, 63, 16)  # 5 s -> 250 encoder frames -> 63 after pooling by 4
    for bad, message in ((np.zeros(0, np.float32), "empty"), (np.zeros(16_000, np.float32), "silent")):
        with pytest.raises(AudioError, match=f"^'x.wav': {message}"):
            check_sound(bad, "'x.wav'")


def test_a_long_recording_is_gated_in_windows_as_long_as_the_specs_clips() -> None:
    clip = np.arange(int(10.5 * SAMPLE_RATE), dtype=np.float32)
    windows = gate_windows(clip)
    assert len(windows) == 8 and {len(w) for w in windows} == {GATE_WINDOW_S * SAMPLE_RATE}
    assert windows[0][0] == 0 and windows[-1][-1] == clip[-1]  # from its start to its end, a second or less apart
    assert max(b[0] - a[0] for a, b in zip(windows, windows[1:], strict=False)) <= SAMPLE_RATE
    assert len(gate_windows(clip[: 3 * SAMPLE_RATE])) == 1 and len(gate_windows(np.zeros(10**7))) == 32


class _NearGate(SoundGate):
    """Hears "bell" in encoder states near a reference's (the nearer, the surer), "none" elsewhere."""

    def __init__(self, reference: torch.Tensor) -> None:
        super().__init__(SoundGateConfig(labels=("bell", NONE_LABEL), audio_width=reference.shape[-1]))
        self.reference = reference.float()

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        distance = (states.float() - self.reference).abs().mean(dim=(1, 2)) / self.reference.abs().mean()
        return torch.stack([1 - 100 * distance, torch.zeros_like(distance)], dim=-1)


def test_the_gate_hears_a_long_recording_where_it_is_surest(tiny_whisper: Path) -> None:
    asr = load_asr(tiny_whisper, device="cpu")
    rng = np.random.default_rng(0)
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    bell = (0.5 * np.sin(2 * np.pi * 660 * t) * np.exp(-t)).astype(np.float32)
    noise = 0.05 * rng.standard_normal(13 * SAMPLE_RATE).astype(np.float32)
    recording = noise.copy()
    recording[: 6 * SAMPLE_RATE] *= 6  # louder than the bell: the loudest stretch is not the one to hear
    recording[6 * SAMPLE_RATE : 10 * SAMPLE_RATE] = bell  # the bell fills the window from 6 s
    assert not np.array_equal(loudest_window(recording, GATE_WINDOW_S), bell)
    gate = _NearGate(clip_states([bell], asr, time_pool=4))
    states, verdicts = gated_states([recording, noise[: 3 * SAMPLE_RATE]], asr, 4, gate)
    assert [label for label, _ in verdicts] == ["bell", NONE_LABEL]
    assert torch.equal(states[0], clip_states([recording[6 * SAMPLE_RATE : 10 * SAMPLE_RATE]], asr, 4)[0])


def test_a_run_saves_an_adapter_that_names_its_models(tiny_adapter: Path, tiny_whisper: Path, tiny_sd: Path) -> None:
    config = json.loads((tiny_adapter / "model" / "config.json").read_text())
    assert (config["audio_encoder"], config["image_model"]) == (str(tiny_whisper), str(tiny_sd))
    assert (config["audio_width"], config["text_width"], config["text_length"]) == (16, 16, 77)  # read from the models
    s2i = SoundToImage.from_pretrained(tiny_adapter / "model", device="cpu")  # the models its config names
    assert config["text_fingerprint"] == fingerprint(s2i.painter.text_encoder)
    scores = [json.loads(line)["val"] for line in (tiny_adapter / "log.jsonl").read_text().splitlines()
              if "val" in line]  # fmt: skip
    assert set(scores[-1]) == {"cosine", "mse", "painted", "snapped", "varied_snapped"}
    assert -1 <= scores[-1]["cosine"] <= 1 and 0 <= scores[-1]["varied_snapped"] <= 1
    assert Image.open(tiny_adapter / "val-000006.png").width > 0  # the validation grid, read back


def test_the_scene_loss_rewards_the_nearest_scene_being_the_right_one() -> None:
    scenes = torch.randn(6, 77, 16)
    right = torch.tensor([0, 3])
    at_the_right_scene = scene_loss(scenes[[0, 3]], scenes, right)
    at_a_wrong_scene = scene_loss(scenes[[1, 2]], scenes, right)
    halfway = scene_loss((scenes[[0, 3]] + scenes[[1, 2]]) / 2, scenes, right)
    assert at_the_right_scene < halfway < at_a_wrong_scene
    assert at_the_right_scene < 0.1  # random scenes are far apart: the right one's logit wins by a wide margin


def test_training_batches_draw_from_every_clip_heard() -> None:
    from soundsight.train.adapter import batch_indices

    # 6 own clips then 24 more (widened and varied): a batch draws from all 30, not from the own clips alone
    drawn = torch.cat([batch_indices(30, 4, seed=0, step=step, process=0) for step in range(50)])
    assert drawn.min() >= 0 and drawn.max() == 29 and (drawn >= 6).float().mean() > 0.6
    assert torch.equal(batch_indices(30, 4, 0, 7, 0), batch_indices(30, 4, 0, 7, 0))  # resumable
    assert not torch.equal(batch_indices(30, 4, 0, 7, 0), batch_indices(30, 4, 0, 7, 1))  # processes differ


def test_the_trainer_refuses_settings_it_cannot_train_with() -> None:
    from soundsight.train.adapter import AdapterTrainConfig

    with pytest.raises(ConfigError, match=r"^varied_widened 1.5: must be between 0 and 1$"):
        AdapterTrainConfig(data=Path("runs/shapes"), varied_widened=1.5)
    with pytest.raises(ConfigError, match=r"^scene_weight -1.0: must not be negative$"):
        AdapterTrainConfig(data=Path("runs/shapes"), scene_weight=-1.0)


def test_an_adapter_refuses_other_models(tiny_adapter: Path, tiny_whisper: Path, tmp_path: Path) -> None:
    other_sd = save_tiny_stable_diffusion(tmp_path / "other-sd")
    text_encoder = other_sd / "text_encoder" / "model.safetensors"
    from safetensors.torch import load_file, save_file

    weights = load_file(text_encoder)
    weights = {k: v + 0.01 for k, v in weights.items()}  # same shapes, other weights: another model
    save_file(weights, text_encoder)
    with pytest.raises(ConfigError, match=f"^audio adapter: trained for the image model '.*', not for '{other_sd}'"):
        SoundToImage.from_pretrained(tiny_adapter / "model", tiny_whisper, other_sd, device="cpu")
    with pytest.raises(ModelNotFoundError, match="^audio adapter '.*nowhere': no model.safetensors"):
        load_adapter(tmp_path / "nowhere")


def test_a_killed_adapter_run_resumes_on_the_same_loss_curve(
    small_build: BuildReport, tiny_whisper: Path, tiny_sd: Path, tmp_path: Path
) -> None:
    launcher = [sys.executable, "-m"]
    unbroken, killed = tmp_path / "unbroken", tmp_path / "killed"
    subprocess.run(_command(small_build, unbroken, tiny_whisper, tiny_sd, 8, launcher), check=True, env=ENV,
                   capture_output=True, timeout=300)  # fmt: skip
    process = subprocess.Popen(_command(small_build, killed, tiny_whisper, tiny_sd, 8, launcher), env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while not (killed / "checkpoint-4" / "step.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "model").exists(), "the run was killed before it finished"
    subprocess.run(_command(small_build, killed, tiny_whisper, tiny_sd, 8, launcher), check=True, env=ENV,
                   capture_output=True, timeout=300)  # fmt: skip
    expected, got = _losses(unbroken), _losses(killed)
    assert sorted(got) == sorted(expected) == list(range(1, 9))
    assert [got[s] for s in expected] == pytest.approx([expected[s] for s in expected], abs=1e-5)


def test_a_run_with_other_sounds_ships_a_sound_gate_beside_the_adapter(
    small_build: BuildReport, tiny_whisper: Path, tiny_sd: Path, tmp_path: Path
) -> None:
    command = _command(small_build, tmp_path, tiny_whisper, tiny_sd, 2, [sys.executable, "-m"])
    command[command.index("--other-sounds") + 1] = "30"
    command += ["--gate-steps", "20", "--varied-sounds", "12"]  # every class twice, as other synthesisers read it
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(12 varied)" in result.stderr
    gate = load_sound_gate(tmp_path / "model")
    assert gate is not None and gate.config.labels[-1] == NONE_LABEL
    assert set(gate.config.labels[:-1]) == set(SYNTHS)
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert {"val_named_right", "other_refused"} == set(logged[-1]["sound_gate"])
    s2i = SoundToImage.from_pretrained(tmp_path / "model", tiny_whisper, tiny_sd, device="cpu")
    assert s2i.gate is not None and s2i.gate.config == gate.config


def test_two_cpu_processes_under_accelerate(
    small_build: BuildReport, tiny_whisper: Path, tiny_sd: Path, tmp_path: Path
) -> None:
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m"]  # fmt: skip
    result = subprocess.run(_command(small_build, tmp_path, tiny_whisper, tiny_sd, 4, launcher), capture_output=True,
                            text=True, timeout=600, env=ENV)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(_losses(tmp_path)) == [1, 2, 3, 4]
    assert load_adapter(tmp_path / "model", device="cpu").config.layers == 1


def test_hear_paints_each_sound_and_records_it(tiny_adapter: Path, small_build: BuildReport, tmp_path: Path) -> None:
    # real sounds in other formats and lengths: 44.1 kHz stereo FLAC, a 16 s recording, a clip under a second
    rooster, rate = sf.read(SOUNDS / "rooster.wav", dtype="float32")
    stereo = np.stack([soxr.resample(rooster, rate, 44_100)] * 2, axis=1)
    sf.write(tmp_path / "rooster.flac", stereo, 44_100)
    sf.write(tmp_path / "silence.wav", np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    (tmp_path / "notes.txt").write_text("not audio")
    bell = small_build.out / "sounds" / "test" / "000000.wav"
    inputs = [bell, tmp_path / "rooster.flac", SOUNDS / "monkeys_screaming.wav", SOUNDS / "dog.wav",
              tmp_path / "silence.wav", tmp_path / "notes.txt"]  # fmt: skip
    out = tmp_path / "out"
    args = ["hear", *map(str, inputs), "-o", str(out), "--adapter", str(tiny_adapter / "model"), "--steps", "2",
            "--device", "cpu", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert any("notes.txt" in e and "unsupported format" in e for e in errors)
    assert any("silence.wav" in e and "silent" in e for e in errors)
    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["000000-0.png", "dog-0.png", "monkeys_screaming-0.png", "rooster-0.png"]
    with Image.open(out / "000000-0.png") as image:
        parameters = image.text["parameters"]
        assert image.size == (32, 32)
    assert parameters.splitlines()[0] == "sound: 000000.wav"
    assert f"Sound: {bell}, Adapter: {tiny_adapter / 'model'}" in parameters
    meta = json.loads((out / "000000-0.json").read_text())
    assert (meta["sound"], meta["adapter"], meta["seed"], meta["transcript"]) == (
        str(bell), str(tiny_adapter / "model"), 0, None)  # fmt: skip
    again = CliRunner().invoke(app, args[:2] + args[7:])  # the same sound again: a new name, nothing overwritten
    assert again.exit_code == 0, again.output
    assert (out / "000000-0-2.png").is_file()
    assert (out / "000000-0.json").read_text() == json.dumps(meta, indent=2) + "\n"


def test_hear_splits_a_batch_over_two_processes_with_accelerate(tiny_adapter: Path, tmp_path: Path) -> None:
    sounds = ["cow.wav", "dog.wav", "owl.wav", "saw.wav"]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m", "soundsight", "hear",
           *[str(SOUNDS / s) for s in sounds], "-o", str(out), "--adapter", str(tiny_adapter / "model"),
           "--steps", "2", "--no-progress"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{Path(s).stem}-0.png" for s in sounds)
    assert len([line for line in result.stdout.splitlines() if " -> " in line]) == 4  # each sound painted once
