"""Whisper run by OpenVINO: the encoder, each layer's cross-attention keys and values (once a clip), and the
decoder over the prefix, three graphs converted from the model's own modules; decoding is greedy, as
transformers decodes a clip of one window without timestamps, and tested to give its tokens.

Each step the decoder reads the whole prefix: for captions' few dozen tokens that costs about what a cached
step does, and keeps the graph stateless; the encoder's keys and values, the large part, are computed once.
The vocabulary projection stays in torch (tied to the token embeddings), so the caption scorer still
projects only where it must. Converted once and cached like the UNet (backends/openvino.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundsight.backends.openvino import PRECISION_HINTS, cached_model, quiet_tracing
from soundsight.runtime import Runtime


def _attend(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    weights = query @ keys.transpose(-1, -2)
    if bias is not None:
        weights = weights + bias
    return weights.softmax(-1) @ values


def _heads(x: torch.Tensor, attention: Any) -> torch.Tensor:
    """(B, L, D) -> (B, H, L, d)."""
    return x.view(x.shape[0], x.shape[1], attention.num_heads, attention.head_dim).transpose(1, 2)


def _joined(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, d) -> (B, L, D)."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], -1)


class _EncoderForExport(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.encoder(features).last_hidden_state


class _CrossForExport(torch.nn.Module):
    """Encoder states (1, T, D) -> every decoder layer's cross-attention keys and values, (layers, 2, 1, H, T, d)."""

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        pairs = []
        for layer in self.decoder.layers:  # type: ignore[union-attr]
            attention = layer.encoder_attn
            pairs.append(torch.stack([_heads(attention.k_proj(states), attention),
                                      _heads(attention.v_proj(states), attention)]))  # fmt: skip
        return torch.stack(pairs)


class _DecoderForExport(torch.nn.Module):
    """Token ids (B, L) and the cross keys and values -> the last layer's states (B, L, D): the sums of
    transformers' WhisperDecoder without its cache."""

    def __init__(self, decoder: torch.nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids: torch.Tensor, cross: torch.Tensor) -> torch.Tensor:
        decoder: Any = self.decoder
        length = input_ids.shape[1]
        hidden = decoder.embed_tokens(input_ids) + decoder.embed_positions.weight[:length]
        causal = torch.full((length, length), float("-inf")).triu(1)[None, None]
        for i, layer in enumerate(decoder.layers):
            attention = layer.self_attn
            x = layer.self_attn_layer_norm(hidden)
            query = _heads(attention.q_proj(x) * attention.scaling, attention)
            keys, values = _heads(attention.k_proj(x), attention), _heads(attention.v_proj(x), attention)
            hidden = hidden + attention.out_proj(_joined(_attend(query, keys, values, causal)))
            attention = layer.encoder_attn
            x = layer.encoder_attn_layer_norm(hidden)
            query = _heads(attention.q_proj(x) * attention.scaling, attention)
            hidden = hidden + attention.out_proj(_joined(_attend(query, cross[i, 0], cross[i, 1], None)))
            x = layer.final_layer_norm(hidden)
            hidden = hidden + layer.fc2(layer.activation_fn(layer.fc1(x)))
        return decoder.layer_norm(hidden)


class _Compiled:
    """An IR file compiled once, with its dynamic shapes, on the CPU; one request a call (thread-safe)."""

    def __init__(self, path: Path, precision: str, threads: int | None = None) -> None:
        import openvino

        config: dict[str, object] = {
            "INFERENCE_PRECISION_HINT": PRECISION_HINTS[precision],
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = openvino.Core().compile_model(str(path), "CPU", config)

    def __call__(self, *inputs: np.ndarray) -> np.ndarray:
        return self.compiled.create_infer_request().infer(list(inputs))[0].copy()


@dataclass(frozen=True)
class OpenVinoWhisper:
    """The three graphs, and the torch projection onto the vocabulary."""

    encoder: _Compiled
    cross: _Compiled
    decoder: _Compiled
    projection: torch.nn.Module  # the model's proj_out

    def encode(self, features: torch.Tensor) -> np.ndarray:
        """(1, n_mels, frames) log-mel features -> the cross keys and values the decoder reads."""
        return self.cross(self.encoder(features.float().numpy()))

    def states(self, input_ids: torch.Tensor, cross: np.ndarray) -> torch.Tensor:
        """(B, L, D) decoder states for token ids (right-padded, if padded: a causal decoder's state at a
        position never reads the padding after it)."""
        return torch.from_numpy(self.decoder(input_ids.long().numpy(), cross))

    @torch.no_grad()
    def next_logits(self, prefix: list[int], cross: np.ndarray) -> torch.Tensor:
        """(V,) float32 logits of the token after `prefix`."""
        last = self.states(torch.tensor([prefix]), cross)[0, -1]
        return self.projection(last.to(next(self.projection.parameters()).dtype)).float()

    def greedy(self, prompt: list[int], cross: np.ndarray, *, max_new_tokens: int, eos: int,
               suppress: list[int], begin_suppress: list[int]) -> list[int]:  # fmt: skip
        """Tokens after `prompt`, the likeliest each step, `suppress` never and `begin_suppress` not first,
        until `eos` (not included) or `max_new_tokens`."""
        tokens = list(prompt)
        for step in range(max_new_tokens):
            logits = self.next_logits(tokens, cross)
            logits[suppress] = float("-inf")
            if step == 0:
                logits[begin_suppress] = float("-inf")
            token = int(logits.argmax())
            if token == eos:
                break
            tokens.append(token)
        return tokens[len(prompt) :]


def whisper_converts(model: torch.nn.Module) -> bool:
    return type(model).__name__ == "WhisperForConditionalGeneration"


def openvino_whisper(model: Any, identity: object, runtime: Runtime, *, threads: int | None = None,
                     root: Path | None = None) -> OpenVinoWhisper:  # fmt: skip
    """`model`'s encoder and decoder converted (or read from the cache) and compiled for OpenVINO, on `threads`
    of the CPU's threads (None: all; the web app gives each of its copies a share)."""
    encoder, decoder = model.get_encoder().float().eval(), model.get_decoder().float().eval()
    settings: dict[str, object] = {"precision": runtime.dtype}
    frames, width = 2 * int(model.config.max_source_positions), int(model.config.d_model)

    def convert(module: torch.nn.Module, example: tuple[torch.Tensor, ...]) -> Any:
        import openvino

        with torch.no_grad(), quiet_tracing():
            return openvino.convert_model(module, example_input=example)

    states = torch.randn(1, frames // 2, width)
    with torch.no_grad():
        cross_example = _CrossForExport(decoder)(states)
    parts = {
        "whisper-encoder": lambda: convert(_EncoderForExport(encoder),
                                           (torch.randn(1, int(model.config.num_mel_bins), frames),)),
        "whisper-cross": lambda: convert(_CrossForExport(decoder), (states,)),
        "whisper-decoder": lambda: convert(_DecoderForExport(decoder),
                                           (torch.tensor([[model.generation_config.decoder_start_token_id] * 3]),
                                            cross_example)),
    }  # fmt: skip
    encoder_graph, cross_graph, decoder_graph = (
        _Compiled(cached_model(part, identity, settings, build, root=root), runtime.dtype, threads)
        for part, build in parts.items()
    )
    return OpenVinoWhisper(encoder_graph, cross_graph, decoder_graph, model.get_output_embeddings())
