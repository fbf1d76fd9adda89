"""Pick the torch device at run time: "auto" means CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

import torch

from soundsight.errors import ConfigError


def resolve_device(device: str = "auto") -> torch.device:
    """Return the torch.device for `device` ("auto", "cpu", "cuda", "cuda:1", "mps")."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as e:
        raise ConfigError(f"device {device!r}: not a torch device name") from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: CUDA is not available on this machine")
    return resolved
