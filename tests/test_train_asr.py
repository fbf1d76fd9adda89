import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from soundsight.errors import ConfigError
from soundsight.loading import load_asr
from soundsight.shapes.build import BuildReport
from soundsight.train.asr import AsrTrainConfig, main
from soundsight.train.batches import batch_indices

from .tiny_models import TOKENIZERS

TINY = ["--d-model", "16", "--encoder-layers", "1", "--decoder-layers", "1", "--attention-heads", "2",
        "--ffn-dim", "32", "--batch-size", "4", "--warmup-steps", "2", "--validate-every", "0", "--log-every", "1",
        "--no-progress"]  # fmt: skip


def _command(build: BuildReport, out: Path, steps: int, checkpoint_every: int, launcher: list[str]) -> list[str]:
    return [*launcher, "soundsight", "train", "asr", "--data", str(build.out), "--out", str(out),
            "--tokenizer", str(TOKENIZERS / "multilingual.tiktoken"), "--steps", str(steps),
            "--checkpoint-every", str(checkpoint_every), *TINY]  # fmt: skip


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if "loss" in row}  # a resumed step overwrites the killed one


def test_batches_are_found_again_from_the_step_alone() -> None:
    assert np.array_equal(batch_indices(7, 50, 8, 0), batch_indices(7, 50, 8, 0))
    epoch = np.concatenate([batch_indices(s, 48, 8, 0) for s in range(6)])
    assert sorted(epoch) == list(range(48))  # an epoch sees every clip once
    assert not np.array_equal(batch_indices(6, 48, 8, 0), batch_indices(0, 48, 8, 0))


def test_a_short_run_learns_and_saves_a_loadable_whisper(small_build: BuildReport, tmp_path: Path) -> None:
    config = AsrTrainConfig(data=small_build.out, out=tmp_path / "run", tokenizer=TOKENIZERS / "multilingual.tiktoken",
                            d_model=32, encoder_layers=1, decoder_layers=1, attention_heads=2, ffn_dim=64, steps=30,
                            batch_size=8, learning_rate=3e-3, warmup_steps=3, checkpoint_every=10, validate_every=30,
                            validate_clips=2, log_every=1, progress=False)  # fmt: skip
    final = main(config)
    losses = _losses(tmp_path / "run")
    first, last = np.mean([losses[s] for s in (1, 2, 3)]), np.mean([losses[s] for s in (28, 29, 30)])
    assert len(losses) == 30 and last < 0.85 * first
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == ["checkpoint-20", "checkpoint-30"]
    asr = load_asr(final)
    assert asr.context_s == 8.0 and len(asr.processor.tokenizer) == 51_865
    assert any("val_wer" in line for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines())


def test_a_killed_run_resumes_on_the_same_loss_curve(small_build: BuildReport, tmp_path: Path) -> None:
    launcher = [sys.executable, "-m"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    unbroken = tmp_path / "unbroken"
    subprocess.run(_command(small_build, unbroken, 24, 4, launcher) + ["--seed", "1"], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(small_build, killed, 24, 4, launcher) + ["--seed", "1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 240
    while not (killed / "checkpoint-8" / "step.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "model").exists(), "the run was killed before it finished"
    subprocess.run(_command(small_build, killed, 24, 4, launcher) + ["--seed", "1"], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    expected, got = _losses(unbroken), _losses(killed)
    assert sorted(got) == sorted(expected) == list(range(1, 25))
    assert [got[s] for s in expected] == pytest.approx([expected[s] for s in expected], abs=1e-4)


def test_two_cpu_processes_under_accelerate(small_build: BuildReport, tmp_path: Path) -> None:
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m"]  # fmt: skip
    out = tmp_path / "ddp"
    result = subprocess.run(_command(small_build, out, 6, 3, launcher), capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(_losses(out)) == [1, 2, 3, 4, 5, 6]
    assert load_asr(out / "model").model.config.d_model == 16


def test_settings_are_checked_up_front(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="d_model 30: must be a multiple of attention_heads 4"):
        AsrTrainConfig(d_model=30)
    with pytest.raises(ConfigError, match="tokenizer '.*nothing.tiktoken': no such file"):
        main(AsrTrainConfig(out=tmp_path, tokenizer=tmp_path / "nothing.tiktoken"))
