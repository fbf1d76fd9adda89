"""Sound waveform -> prompt embeddings: the frozen Whisper encoder hears the sound, the adapter turns what
it heard into the hidden states the image model's text encoder gives for a caption."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from soundsight.backends.whisper import WhisperAsr
from soundsight.errors import AudioError, ConfigError
from soundsight.generate import Painter
from soundsight.models.audio_adapter import AdapterConfig, AudioAdapter
from soundsight.models.sound_gate import NONE_LABEL, SoundGate
from soundsight.shapes.spec import SAMPLE_RATE

logger = logging.getLogger(__name__)

BUNDLED = "bundled"  # how an adapter config names the models shipped in the package
SILENCE_PEAK = 1e-3  # a clip whose loudest sample is below this (-60 dBFS) holds nothing to hear
WINDOW_HOP_S = 0.5  # hop when looking for the loudest window of a sound longer than the context
GATE_WINDOW_S = 4.0  # the spec's clips last 1-4 s: the gate hears a longer sound this long a stretch at a time
GATE_HOP_S = 1.0
MOST_GATE_WINDOWS = 32  # a very long sound's windows are spread over it, this many at most


def model_name(name: str | None, bundled: Path) -> str:
    """What an adapter config calls a model: "bundled" for the one in the package, else the name given."""
    if name is None or Path(name).expanduser().resolve() == bundled.resolve():
        return BUNDLED
    return name


def resolve_model(name: str, bundled: Path) -> str:
    """The model an adapter config names, as loading.py takes it."""
    return str(bundled) if name == BUNDLED else name


def fingerprint(module: nn.Module) -> str:
    """A short hash of a model's first weight tensor and its shape: tells one trained model from another."""
    name, weight = next(iter(module.state_dict().items()))
    digest = hashlib.sha256(f"{name}{tuple(weight.shape)}".encode())
    digest.update(weight.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def check_adapter_fits(config: AdapterConfig, audio_encoder: nn.Module, text_encoder: nn.Module, *,
                       audio_name: str, image_name: str) -> None:  # fmt: skip
    """Raise ConfigError unless the adapter was trained for exactly this Whisper encoder and text encoder."""
    if config.audio_fingerprint != fingerprint(audio_encoder):
        raise ConfigError(f"audio adapter: trained for the audio encoder '{config.audio_encoder}', "
                          f"not for '{audio_name}' (use the ASR model it was trained with)")  # fmt: skip
    if config.text_fingerprint != fingerprint(text_encoder):
        raise ConfigError(f"audio adapter: trained for the image model '{config.image_model}', "
                          f"not for '{image_name}' (use the image model it was trained with)")  # fmt: skip


def check_sound(waveform: np.ndarray, name: str = "sound") -> None:
    """Raise AudioError for a clip with nothing in it (empty, not finite or silent)."""
    if waveform.size == 0:
        raise AudioError(f"{name}: empty, no samples to hear")
    if not np.isfinite(waveform).all():
        raise AudioError(f"{name}: holds non-finite samples (NaN or infinity), nothing to hear")
    if float(np.abs(waveform).max()) < SILENCE_PEAK:
        raise AudioError(f"{name}: silent (peak below -60 dBFS), nothing to hear")


def loudest_window(waveform: np.ndarray, window_s: float) -> np.ndarray:
    """The `window_s` seconds of a (T,) waveform with the most energy (all of it if shorter)."""
    window = int(window_s * SAMPLE_RATE)
    if len(waveform) <= window:
        return waveform
    hop = int(WINDOW_HOP_S * SAMPLE_RATE)
    energy = np.concatenate([[0.0], np.cumsum(waveform.astype(np.float64) ** 2)])
    starts = np.arange(0, len(waveform) - window + 1, hop)
    best = int(starts[np.argmax(energy[starts + window] - energy[starts])])
    logger.debug("sound longer than %.1f s: hearing %.1f-%.1f s", window_s, best / SAMPLE_RATE,
                 (best + window) / SAMPLE_RATE)  # fmt: skip
    return waveform[best : best + window]


@torch.no_grad()
def audio_states(waveforms: list[np.ndarray], asr: WhisperAsr, time_pool: int) -> torch.Tensor:
    """(B, T / time_pool, d_model) Whisper encoder states of 16 kHz (T,) waveforms, each cut to its loudest
    window, averaged over `time_pool` frames (the adapter's input)."""
    clips = [loudest_window(w, asr.context_s) for w in waveforms]
    features = asr.processor.feature_extractor(clips, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
    features = features[:, :, : 2 * asr.model.config.max_source_positions]  # our Whisper's context may be < 30 s
    encoder = asr.model.get_encoder()
    states = encoder(features.to(asr.model.device, asr.model.dtype)).last_hidden_state  # (B, T, d_model)
    return F.avg_pool1d(states.transpose(1, 2), time_pool, ceil_mode=True).transpose(1, 2)


def gate_windows(waveform: np.ndarray) -> list[np.ndarray]:
    """The GATE_WINDOW_S stretches of a (T,) waveform, GATE_HOP_S apart, the last ending with it (all of it if
    shorter)."""
    window = int(GATE_WINDOW_S * SAMPLE_RATE)
    if len(waveform) <= window:
        return [waveform]
    span = len(waveform) - window
    count = min(MOST_GATE_WINDOWS, int(np.ceil(span / (GATE_HOP_S * SAMPLE_RATE))) + 1)
    return [waveform[start : start + window] for start in np.linspace(0, span, count).round().astype(int)]


@torch.no_grad()
def gated_states(waveforms: list[np.ndarray], asr: WhisperAsr, time_pool: int, gate: SoundGate, *,
                 batch_size: int = 32) -> tuple[torch.Tensor, list[tuple[str, float]]]:  # fmt: skip
    """For each (T,) waveform, the pooled encoder states (float16, on the CPU, as clip_states) of the stretch
    the gate is surest holds one of its sounds, and the gate's (label, probability) for that stretch. A
    recording longer than the spec's clips is heard a window at a time, so a siren in it is heard whatever else
    the recording holds."""
    if gate.config.labels[-1] != NONE_LABEL:
        raise ConfigError(f"sound gate labels {gate.config.labels}: the last must be {NONE_LABEL!r}")
    windows, owners = [], []
    for i, waveform in enumerate(waveforms):
        for window in gate_windows(waveform):
            windows.append(window)
            owners.append(i)
    states = clip_states(windows, asr, time_pool, batch_size=batch_size)
    probs = gate(states.to(next(gate.parameters()).dtype)).softmax(dim=-1)
    in_world = probs[:, :-1].max(dim=-1).values
    owner = torch.tensor(owners)
    best = [int(torch.nonzero(owner == i).flatten()[in_world[owner == i].argmax()]) for i in range(len(waveforms))]
    chosen = states[best]
    return chosen, gate.classify(chosen)


@torch.no_grad()
def sound_embeddings(waveform: np.ndarray, asr: WhisperAsr, adapter: AudioAdapter) -> torch.Tensor:
    """(1, text_length, text_width) prompt embeddings of one sound, a (T,) 16 kHz waveform."""
    states = audio_states([waveform], asr, adapter.config.time_pool)
    return adapter(states.to(next(adapter.parameters()).dtype))


@torch.no_grad()
def scene_states(painter: Painter, captions: list[str]) -> torch.Tensor:
    """(N, S, D): the text-encoder states the painter itself conditions on for each caption."""
    return painter.encode_prompts(captions).float()


@torch.no_grad()
def clip_states(waveforms: list[np.ndarray], asr: WhisperAsr, time_pool: int, *, batch_size: int = 32,
                progress: bool = False, desc: str = "hear") -> torch.Tensor:  # fmt: skip
    """(N, T', d_model) float16 pooled encoder states of every waveform, on the CPU: the frozen encoder
    runs once per clip, not once per step."""
    out = []
    for start in tqdm(range(0, len(waveforms), batch_size), unit="batch", desc=desc, disable=not progress):
        out.append(audio_states(waveforms[start : start + batch_size], asr, time_pool).half().cpu())
    return torch.cat(out)


@torch.no_grad()
def embed_states(states: torch.Tensor, adapter: AudioAdapter, batch_size: int = 64) -> torch.Tensor:
    """(N, S, D) adapter outputs for (N, T', d_model) cached states, on the CPU."""
    device = next(adapter.parameters()).device
    return torch.cat([adapter(states[i : i + batch_size].to(device).float()).float().cpu()
                      for i in range(0, len(states), batch_size)])  # fmt: skip


def nearest_scenes(embeds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N,) for (N, S, D) adapter outputs, the index of the nearest of (K, S, D) scene states (mean per-token
    cosine similarity)."""
    similarity = torch.stack([F.cosine_similarity(embeds.float(), t[None].float(), dim=-1).mean(dim=-1)
                              for t in targets], dim=1)  # fmt: skip
    return similarity.argmax(dim=1)


def cosine_to_targets(embeds: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(N,) mean per-token cosine similarity of each embedding to its own target, both (N, S, D)."""
    return F.cosine_similarity(embeds, targets, dim=-1).mean(dim=-1)


def adapter_config_for(asr: WhisperAsr, text_encoder: nn.Module, *, audio_name: str, image_name: str,
                       **sizes: int | float) -> AdapterConfig:  # fmt: skip
    """An AdapterConfig whose input and output fit `asr`'s encoder and `text_encoder`, naming both."""
    text: Any = text_encoder.config
    try:
        return AdapterConfig(
            audio_width=int(asr.model.config.d_model), text_width=int(text.hidden_size),
            text_length=int(text.max_position_embeddings), audio_encoder=audio_name, image_model=image_name,
            audio_fingerprint=fingerprint(asr.model.get_encoder()), text_fingerprint=fingerprint(text_encoder),
            **sizes,  # type: ignore[arg-type]
        )  # fmt: skip
    except TypeError as e:
        raise ConfigError(f"adapter sizes {sizes}: {e}") from e
