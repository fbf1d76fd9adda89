"""Shared fixtures: one small Spoken Shapes build per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundsight.shapes.build import BuildConfig, BuildReport, build_dataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMALL_COUNTS = {"train": 24, "val": 6, "test": 12, "novel": 12}


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .tiny_models import save_tiny_whisper

    return save_tiny_whisper(tmp_path_factory.mktemp("models") / "whisper")


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .tiny_models import save_tiny_stable_diffusion

    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("models") / "sd")


@pytest.fixture(scope="session")
def small_build(tmp_path_factory: pytest.TempPathFactory) -> BuildReport:
    out = tmp_path_factory.mktemp("shapes") / "set"
    return build_dataset(BuildConfig(out=out, seed=3, workers=2, progress=False, **SMALL_COUNTS))
