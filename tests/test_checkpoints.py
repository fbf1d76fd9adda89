"""train/checkpoints.py: every trainer's checkpoints hold no pickle, a resume restores the whole training state,
a corrupt newest checkpoint falls back to the one before it, other settings are refused in one line, and the
log keeps each step once."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from accelerate import Accelerator
from diffusers.training_utils import EMAModel
from transformers import get_cosine_schedule_with_warmup

from soundsight.errors import ConfigError
from soundsight.train.checkpoints import LOG_NAME, checkpoints, keep_log_until, resume, save_checkpoint


def prepared(width: int = 8) -> tuple[Accelerator, torch.nn.Module, torch.optim.Optimizer, object, EMAModel]:
    torch.manual_seed(0)
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = get_cosine_schedule_with_warmup(optimizer, 2, 20)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    ema = EMAModel(model.parameters(), decay=0.9)
    accelerator.register_for_checkpointing(ema)
    return accelerator, model, optimizer, scheduler, ema


def train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: object, ema: EMAModel,
          steps: int) -> None:  # fmt: skip
    for _ in range(steps):
        loss = model(torch.randn(3, 4)).pow(2).mean()
        loss.backward()
        optimizer.step()
        scheduler.step()  # type: ignore[attr-defined]
        optimizer.zero_grad()
        ema.step(model.parameters())


def test_a_resume_restores_the_whole_state_from_safetensors_and_json_alone(tmp_path: Path) -> None:
    accelerator, model, optimizer, scheduler, ema = prepared()
    train(model, optimizer, scheduler, ema, 3)
    folder = save_checkpoint(accelerator, tmp_path, 3, keep=2)
    assert {p.suffix for p in folder.iterdir()} == {".safetensors", ".json"}  # no pickle anywhere
    draws = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    torch.manual_seed(1)
    train(model, optimizer, scheduler, ema, 3)

    _, model2, optimizer2, scheduler2, ema2 = again = prepared()
    assert resume(again[0], tmp_path) == 3
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == draws  # every process's random state
    torch.manual_seed(1)
    train(model2, optimizer2, scheduler2, ema2, 3)  # the same three steps after the resume: the same state
    for key, value in model.state_dict().items():
        assert torch.equal(value, model2.state_dict()[key]), key
    assert scheduler2.get_last_lr() == scheduler.get_last_lr() and ema2.optimization_step == ema.optimization_step == 6
    assert all(torch.equal(a, b) for a, b in zip(ema.shadow_params, ema2.shadow_params, strict=True))
    state, state2 = optimizer.state_dict()["state"], optimizer2.state_dict()["state"]
    assert all(torch.equal(state[k]["exp_avg"], state2[k]["exp_avg"]) for k in state)


def test_a_corrupt_newest_checkpoint_falls_back_to_the_one_before_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    accelerator, model, optimizer, scheduler, ema = prepared()
    for step in (2, 4):
        train(model, optimizer, scheduler, ema, 2)
        save_checkpoint(accelerator, tmp_path, step, keep=2)
    weights = tmp_path / "checkpoint-4" / "model_0.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # cut short, as a full disk or a kill leaves it
    with caplog.at_level(logging.WARNING, logger="soundsight"):
        assert resume(prepared()[0], tmp_path) == 2
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"checkpoint '{tmp_path / 'checkpoint-4'}' cannot be read (")
    assert warning.endswith("): resuming from the one before it") and "\n" not in warning
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-2"]  # the unreadable one is gone, not kept as newest
    (tmp_path / "checkpoint-2" / "optimizer_0.json").write_text("{not json")
    with pytest.raises(ConfigError, match=f"^'{tmp_path}': no checkpoint in it can be read: train into a new --out$"):
        resume(prepared()[0], tmp_path)


def test_a_resume_under_other_settings_is_one_line_naming_them(tmp_path: Path) -> None:
    accelerator, model, optimizer, scheduler, ema = prepared()
    save_checkpoint(accelerator, tmp_path, 2, keep=2)
    (tmp_path / "config.json").write_text(json.dumps({"width": 8, "learning_rate": 0.01, "steps": 20}))
    with pytest.raises(ConfigError) as refused:
        resume(prepared(width=16)[0], tmp_path, {"width": 16, "learning_rate": 0.02, "steps": 40})
    assert str(refused.value) == (f"'{tmp_path}' was trained with width 8 (now 16), learning_rate 0.01 (now 0.02): "
                                  "resume with the same settings, or train into a new --out")  # fmt: skip
    assert resume(prepared()[0], tmp_path, {"width": 8, "learning_rate": 0.01, "steps": 40}) == 2  # more steps: fine
    (tmp_path / "config.json").unlink()  # no record: the checkpoint's own sizes still speak
    with pytest.raises(ConfigError, match=r"holds model 0 in other sizes \(0.weight \(8, 4\), now \(16, 4\)"):
        resume(prepared(width=16)[0], tmp_path)


def test_the_log_keeps_each_step_once_after_any_resume(tmp_path: Path) -> None:
    log = tmp_path / LOG_NAME
    rows = [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.9}, {"step": 2, "val": {"painted": 0.5}},
            {"step": 3, "loss": 0.8}, {"gate": 1}]  # fmt: skip
    (tmp_path / "fresh").mkdir()
    (tmp_path / "fresh" / LOG_NAME).write_text(json.dumps(rows[0]) + "\n")
    assert resume(prepared()[0], tmp_path / "fresh") == 0  # killed before its first checkpoint: starts over
    assert (tmp_path / "fresh" / LOG_NAME).read_text() == ""
    log.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "lo')  # the kill cut the last row
    keep_log_until(log, 2)
    assert [json.loads(line) for line in log.read_text().splitlines()] == rows[:3]
    accelerator, model, optimizer, scheduler, ema = prepared()
    save_checkpoint(accelerator, tmp_path, 1, keep=1)
    assert [p.name for p in checkpoints(tmp_path)] == ["checkpoint-1"]
    resume(prepared()[0], tmp_path)
    assert [json.loads(line) for line in log.read_text().splitlines()] == rows[:1]
