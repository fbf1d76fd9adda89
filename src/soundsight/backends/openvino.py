"""A Stable Diffusion pipeline's UNet and VAE decoder run by OpenVINO, inside the same diffusers pipeline.

Each is converted once (`openvino.convert_model` on our own modules, no optimum-intel pins), saved as
IR under the user's cache folder (conversion_cache.py: keyed by the model's identity and the settings,
written whole, rebuilt when damaged) and read from there on later runs. Each input shape is compiled
once, statically, on first use.
The text encoder stays in torch: it runs once per picture, and the audio adapter paints from its states.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundsight.backends.conversion_cache import cached_entry
from soundsight.runtime import Runtime

PRECISION_HINTS = {"float32": "f32", "bfloat16": "bf16"}
FORMAT_VERSION = 1  # bump when what is converted changes


def cached_model(part: str, identity: object, settings: dict[str, object],
                 convert: Callable[[], Any], *, root: Path | None = None) -> Path:  # fmt: skip
    """The IR file (model.xml) of `part` in the cache, converted with `convert()` (an openvino.Model) and saved
    when the entry is missing or unreadable. Compiling reads it from there (memory-mapped), so no second copy
    of the weights stays in memory."""
    import openvino

    def write(folder: Path) -> None:
        model = convert()
        openvino.save_model(model, folder / "model.xml", compress_to_fp16=False)

    versions = {"openvino": openvino.__version__, "torch": torch.__version__, "format": str(FORMAT_VERSION)}
    folder = cached_entry("openvino", part, identity, settings, versions, write, root=root,
                          reads=lambda f: openvino.Core().read_model(f / "model.xml"))  # fmt: skip
    return folder / "model.xml"


class CompiledShapes:
    """An IR file compiled once per input shapes (static shapes), on the CPU."""

    def __init__(self, path: Path, precision: str) -> None:
        import openvino

        self.path, self.core = path, openvino.Core()
        self.config = {"INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
        self._compiled: dict[tuple[tuple[int, ...], ...], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        shapes = tuple(x.shape for x in inputs)
        with self._lock:
            if shapes not in self._compiled:
                model = self.core.read_model(self.path)
                model.reshape({port.any_name: list(shape) for port, shape in zip(model.inputs, shapes, strict=True)})
                self._compiled[shapes] = self.core.compile_model(model, "CPU", self.config)
            compiled = self._compiled[shapes]
        return compiled(list(inputs))[0]


class _UNetForExport(torch.nn.Module):
    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, timestep, states, return_dict=False)[0]


class OpenVinoUNet(torch.nn.Module):
    """Stands in for a diffusers UNet2DConditionModel in its pipeline: the same config and call, run by OpenVINO."""

    def __init__(self, compiled: CompiledShapes, config: Any, dtype: torch.dtype) -> None:
        super().__init__()
        self.compiled, self.config = compiled, config
        self.register_buffer("_where", torch.zeros(0, dtype=dtype), persistent=False)  # device and dtype for diffusers

    @property
    def dtype(self) -> torch.dtype:
        return self.get_buffer("_where").dtype

    @property
    def device(self) -> torch.device:
        return self.get_buffer("_where").device

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float, encoder_hidden_states: torch.Tensor,
                timestep_cond: torch.Tensor | None = None, cross_attention_kwargs: dict | None = None,
                added_cond_kwargs: dict | None = None, return_dict: bool = True) -> Any:  # fmt: skip
        if timestep_cond is not None or added_cond_kwargs or cross_attention_kwargs:
            raise ValueError("the OpenVINO UNet takes no timestep_cond, added conditions or attention kwargs")
        batch = sample.shape[0]
        steps = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1).expand(batch)
        out = self.compiled(sample.float().numpy(), steps.contiguous().numpy(), encoder_hidden_states.float().numpy())
        noise = torch.from_numpy(out).to(sample.dtype)
        if not return_dict:
            return (noise,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=noise)


class OpenVinoDecoder(torch.nn.Module):
    """Stands in for an AutoencoderKL's `decoder` (latents after post_quant_conv -> image), run by OpenVINO."""

    def __init__(self, compiled: CompiledShapes) -> None:
        super().__init__()
        self.compiled = compiled

    def forward(self, z: torch.Tensor, latent_embeds: torch.Tensor | None = None) -> torch.Tensor:
        if latent_embeds is not None:
            raise ValueError("the OpenVINO VAE decoder takes no latent_embeds")
        return torch.from_numpy(self.compiled(z.float().numpy())).to(z.dtype)


def unet_converts(unet: torch.nn.Module) -> bool:
    """Whether OpenVinoUNet can stand in for `unet`: a plain text-conditioned UNet (SD 1.x/2.x, ours)."""
    config = getattr(unet, "config", None)
    return (
        type(unet).__name__ == "UNet2DConditionModel"
        and config is not None
        and getattr(config, "addition_embed_type", None) is None
        and getattr(config, "time_cond_proj_dim", None) is None
        and getattr(config, "class_embed_type", None) is None
    )


def to_openvino(pipe: Any, identity: object, runtime: Runtime, *, root: Path | None = None) -> None:
    """Run `pipe`'s UNet and VAE decoder by OpenVINO from now on (converted or read from the cache)."""
    unet, vae = pipe.unet, pipe.vae
    settings: dict[str, object] = {"precision": runtime.dtype}
    size = int(unet.config.sample_size) if isinstance(unet.config.sample_size, int) else 64
    text_width = int(unet.config.cross_attention_dim)
    channels = int(unet.config.in_channels)

    def convert_unet() -> Any:
        import openvino

        example = (torch.randn(2, channels, size, size), torch.tensor([500.0, 500.0]), torch.randn(2, 77, text_width))
        with torch.no_grad(), quiet_tracing():
            return openvino.convert_model(_UNetForExport(unet.float().eval()), example_input=example)

    def convert_decoder() -> Any:
        import openvino

        example = torch.randn(1, int(vae.config.latent_channels), size, size)
        with torch.no_grad(), quiet_tracing():
            return openvino.convert_model(vae.decoder.float().eval(), example_input=example)

    unet_model = cached_model("unet", identity, settings, convert_unet, root=root)
    decoder_model = cached_model("vae-decoder", identity, settings, convert_decoder, root=root)
    pipe.unet = OpenVinoUNet(CompiledShapes(unet_model, runtime.dtype), unet.config, torch.float32)
    vae.decoder = OpenVinoDecoder(CompiledShapes(decoder_model, runtime.dtype))


@contextmanager
def quiet_tracing() -> Iterator[None]:
    """torch.jit's TracerWarnings about diffusers' shape checks are no news to users."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.simplefilter("ignore", category=DeprecationWarning)  # torch.jit.trace's, called inside OpenVINO
        warnings.simplefilter("ignore", category=FutureWarning)  # transformers' about what tracing asks of it
        yield
