"""What runs a model: its backend (torch, OpenVINO or CTranslate2) and dtype, chosen for this machine when
asked for "auto".

The rule `auto` follows, from figures measured side by side (docs/cpu_backends.md,
benchmarks/bench_cpu_backends.py):

- CUDA: torch; bfloat16 where the GPU has it, else float16.
- Apple MPS: torch; float16.
- CPU: OpenVINO for a Stable Diffusion UNet it converts (SD 1.x/2.x and ours) and for a narrow Whisper
  (ours); bfloat16 where the CPU computes it natively (AMX or AVX-512 BF16) and the model is full size, else
  float32. A full-size Whisper: torch bfloat16 where the CPU has it, else CTranslate2 float32.

On a CPU without native bf16 it is emulated and many times slower; on a small model (our 64 px Spoken
Shapes ones) float32 is faster even with it.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import torch

from soundsight.errors import ConfigError

BACKENDS = ("auto", "torch", "openvino", "ctranslate2")
ASR_ONLY_BACKENDS = ("ctranslate2",)
BACKEND_ENV = "SOUNDSIGHT_BACKEND"  # what "auto" means when set: torch or openvino (the test suite runs on torch)
DTYPE_NAMES = ("auto", "float32", "bfloat16", "float16")
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic
BF16_MIN_SIDE_PX = 256  # below this picture side, float32 is faster than bf16 even where the CPU has it
BF16_MIN_WIDTH = 512  # a transformer narrower than this (our Whisper: 128) gains nothing from bf16


@dataclass(frozen=True)
class Runtime:
    """What a model runs on, as pictures and transcripts record it."""

    backend: str  # "torch", "openvino" or "ctranslate2"
    dtype: str  # "float32", "bfloat16" or "float16"
    device: str  # "cpu", "cuda", "mps"

    def __str__(self) -> str:
        return f"{self.backend} {self.dtype} on {self.device}"


@lru_cache(maxsize=1)
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (Linux); none where the file is missing."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    return any(flag in (cpu_flags() if flags is None else flags) for flag in BF16_CPU_FLAGS)


def openvino_installed() -> bool:
    return find_spec("openvino") is not None


def ctranslate2_installed() -> bool:
    return find_spec("ctranslate2") is not None


def dtype_name(dtype: str) -> str:
    """The canonical name of a dtype choice ("bf16" -> "bfloat16"); ConfigError for anything else."""
    name = DTYPE_ALIASES.get(dtype, dtype)
    if name not in DTYPE_NAMES:
        raise ConfigError(f"dtype {dtype!r}: expected auto, float32, bfloat16 or float16")
    return name


def backend_name(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r}: expected {', '.join(BACKENDS)}")
    return backend


def check_backends(backend: str, asr_backend: str | None = None) -> None:
    """Refuse, before anything loads, a backend no model of a command that paints can run."""
    backend_name(backend)
    if asr_backend is not None:
        backend_name(asr_backend)
    if backend in ASR_ONLY_BACKENDS:
        raise ConfigError(f"--backend {backend} runs Whisper only: use --asr-backend {backend}")


def auto_dtype(device: torch.device, *, full_size: bool, flags: frozenset[str] | None = None) -> str:
    """The dtype `auto` means on `device` for a model that is (or is not) full size."""
    if device.type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if device.type == "mps":
        return "float16"
    return "bfloat16" if full_size and cpu_has_native_bf16(flags) else "float32"


def choose_runtime(backend: str, dtype: str, device: torch.device, *, full_size: bool, converts: bool,
                   kind: str, flags: frozenset[str] | None = None) -> Runtime:  # fmt: skip
    """The backend and dtype a model runs with; `converts`: whether it is one the OpenVINO backend takes,
    `kind` names it in messages. An explicit choice the machine cannot run is refused."""
    if backend in ASR_ONLY_BACKENDS:
        raise ConfigError(f"--backend {backend} runs Whisper only, not this {kind.split(' (')[0]}")
    if backend == "auto" and os.environ.get(BACKEND_ENV) not in ASR_ONLY_BACKENDS:
        backend = os.environ.get(BACKEND_ENV) or backend
    backend, dtype = backend_name(backend), dtype_name(dtype)
    if backend == "auto":
        # OpenVINO on a CPU has bf16 only where the CPU computes it: a bf16 asked for elsewhere is torch's
        emulated_bf16 = dtype == "bfloat16" and not cpu_has_native_bf16(flags)
        backend = (
            "openvino" if device.type == "cpu" and converts and openvino_installed() and not emulated_bf16 else "torch"
        )
    if backend == "openvino":
        if device.type != "cpu":
            raise ConfigError(f"--backend openvino runs on the CPU, not on {device.type}: use --device cpu")
        if not openvino_installed():
            raise ConfigError("--backend openvino: the openvino package is not installed (pip install openvino)")
        if not converts:
            raise ConfigError(f"--backend openvino: this {kind} is not one it converts; use --backend torch")
    if dtype == "auto":
        dtype = auto_dtype(device, full_size=full_size, flags=flags)
    if dtype == "float16" and device.type == "cpu":
        warnings.warn("float16 asked for on a CPU: using float32 instead", stacklevel=3)  # its kernels: slow or none
        dtype = "float32"
    return Runtime(backend, dtype, device.type)


def image_runtime(backend: str, dtype: str, device: torch.device, *, side_px: int, converts: bool,
                  flags: frozenset[str] | None = None) -> Runtime:  # fmt: skip
    """What a Stable Diffusion pipeline painting `side_px` pictures runs with; `converts`: its UNet is a plain
    text-conditioned one (SD 1.x/2.x, ours), not SDXL's with added conditions."""
    return choose_runtime(backend, dtype, device, full_size=side_px >= BF16_MIN_SIDE_PX, converts=converts,
                          kind="image model (a UNet with added conditions, SDXL-style)", flags=flags)  # fmt: skip


def asr_runtime(backend: str, dtype: str, device: torch.device, *, width: int, converts: bool = True,
                flags: frozenset[str] | None = None) -> Runtime:  # fmt: skip
    """What a transformer ASR model `width` wide (d_model) runs with. On a CPU `auto` picks OpenVINO for a
    narrow model (our Whisper: 1.65x torch's speed). At Whisper-small's width our OpenVINO graphs gain nothing;
    CTranslate2 float32 runs it about twice as fast as torch where bf16 is emulated, and torch bf16 (1.7x in
    the issue's figures) runs it where the CPU has bf16, CTranslate2 having none there."""
    full_size = width >= BF16_MIN_WIDTH
    if backend == "auto" and os.environ.get(BACKEND_ENV) in ASR_ONLY_BACKENDS:
        backend = os.environ[BACKEND_ENV]
    if backend == "auto" and os.environ.get(BACKEND_ENV) is None and full_size:
        plain_cpu = device.type == "cpu" and not cpu_has_native_bf16(flags) and dtype_name(dtype) != "bfloat16"
        backend = "ctranslate2" if plain_cpu and converts and ctranslate2_installed() else "torch"
    if backend == "ctranslate2":
        dtype = dtype_name(dtype)
        if device.type != "cpu":
            raise ConfigError(f"--backend ctranslate2 runs on the CPU here, not on {device.type}: use --device cpu")
        if not ctranslate2_installed():
            raise ConfigError("--backend ctranslate2: the ctranslate2 package is not installed (pip install it)")
        if not converts:
            raise ConfigError("--backend ctranslate2: this ASR model is not one it converts; use --backend torch")
        if dtype not in ("auto", "float32"):
            raise ConfigError(f"--backend ctranslate2 computes in float32 on a CPU, not {dtype}")
        return Runtime("ctranslate2", "float32", "cpu")
    return choose_runtime(backend, dtype, device, full_size=full_size, converts=converts, kind="ASR model",
                          flags=flags)  # fmt: skip
