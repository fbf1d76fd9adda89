"""The Speech-Transformer (Dong, Xu and Xu, ICASSP 2018): log-mel frames in, characters out.

A convolutional front end (two 3 x 3 convolutions of stride 2: time and frequency subsampled by 4), a
Transformer encoder over the frames, a Transformer decoder over characters ("Attention is all you need",
pre-norm), the output layer tied to the character embedding; greedy and beam search. A CTC head on the
encoder serves training only (the hybrid CTC/attention loss of ESPnet's Speech-Transformer recipes, which
makes the decoder find the audio sooner); decoding is the attention decoder's alone. The log-mel features
are computed inside the model from a 16 kHz waveform (25 ms Hann windows every 10 ms, Slaney mel bands,
natural log, each clip normalised to zero mean and unit variance per band), so the folder it is saved in
(config.json, model.safetensors) is all it needs.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from soundsight.errors import ConfigError

MODEL_TYPE = "soundsight-speech-transformer"
CHARACTERS = " 'abcdefghijklmnopqrstuvwxyz"
PAD, SOS, EOS = 0, 1, 2  # the characters' ids follow these


@dataclass(frozen=True)
class SpeechTransformerConfig:
    characters: str = CHARACTERS
    sample_rate: int = 16_000
    n_fft: int = 400
    hop: int = 160
    n_mels: int = 80
    conv_channels: int = 32
    d_model: int = 144
    heads: int = 4
    encoder_layers: int = 6
    decoder_layers: int = 2
    ffn_dim: int = 576
    dropout: float = 0.1
    max_seconds: float = 8.0  # the longest window one pass hears; longer audio is heard window by window
    max_chars: int = 200

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ConfigError(f"d_model {self.d_model}: must be a multiple of heads {self.heads}")
        if len(set(self.characters)) != len(self.characters) or " " not in self.characters:
            raise ConfigError(f"characters {self.characters!r}: must be distinct and include the space")

    @property
    def vocab_size(self) -> int:
        return 3 + len(self.characters)

    @property
    def max_frames(self) -> int:
        return int(self.max_seconds * self.sample_rate) // self.hop + 1

    def save(self, folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps({"model_type": MODEL_TYPE, **asdict(self)}, indent=2) + "\n")

    @classmethod
    def from_dict(cls, settings: dict[str, object]) -> SpeechTransformerConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(settings) - known - {"model_type"}
        if unknown:
            raise ConfigError(f"unknown settings {sorted(unknown)}")
        return cls(**{k: v for k, v in settings.items() if k in known})  # type: ignore[arg-type]


def normalize_characters(text: str, characters: str = CHARACTERS) -> str:
    """`text` in lower case with every character outside `characters` read as a space, spaces collapsed."""
    kept = "".join(c if c in characters else " " for c in text.lower())
    return re.sub(r" +", " ", kept).strip()


def encode_text(text: str, config: SpeechTransformerConfig) -> list[int]:
    """The character ids of `text` (normalised), cut to max_chars."""
    index = {c: i + 3 for i, c in enumerate(config.characters)}
    return [index[c] for c in normalize_characters(text, config.characters)][: config.max_chars]


def decode_ids(ids: list[int], config: SpeechTransformerConfig) -> str:
    """The text of character ids, stopping at the end of text."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i >= 3:
            out.append(config.characters[i - 3])
    return " ".join("".join(out).split())


class LogMel(nn.Module):
    """(B, T) waveforms and their lengths -> (B, frames, n_mels) normalised log-mel features and frame counts."""

    basis: torch.Tensor
    window: torch.Tensor

    def __init__(self, config: SpeechTransformerConfig) -> None:
        super().__init__()
        import librosa

        self.n_fft, self.hop = config.n_fft, config.hop
        basis = librosa.filters.mel(sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, norm="slaney")
        self.register_buffer("basis", torch.from_numpy(basis).float(), persistent=False)
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    @torch.no_grad()
    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spectrum = torch.stft(waveforms.float(), self.n_fft, self.hop, window=self.window, center=True,
                              return_complex=True).abs().pow(2)  # fmt: skip
        features = torch.log(torch.matmul(self.basis, spectrum) + 1e-6).transpose(1, 2)
        frames = lengths // self.hop + 1
        valid = (torch.arange(features.shape[1], device=features.device)[None, :] < frames[:, None]).unsqueeze(-1)
        count = frames.clamp(min=1)[:, None, None]
        mean = (features * valid).sum(1, keepdim=True) / count
        var = ((features - mean).pow(2) * valid).sum(1, keepdim=True) / count
        return ((features - mean) / (var.sqrt() + 1e-5)) * valid, frames


def sinusoids(length: int, width: int) -> torch.Tensor:
    """(length, width) sinusoidal position encodings."""
    position = torch.arange(length).float()[:, None]
    rate = torch.exp(torch.arange(0, width, 2).float() * (-math.log(10_000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


def _subsampled(frames: torch.Tensor) -> torch.Tensor:
    """Frames after one 3 x 3 convolution of stride 2 and padding 1, twice."""
    for _ in range(2):
        frames = (frames - 1) // 2 + 1
    return frames


class SpeechTransformer(nn.Module):
    encoder_positions: torch.Tensor
    decoder_positions: torch.Tensor

    def __init__(self, config: SpeechTransformerConfig) -> None:
        super().__init__()
        self.config = config
        d, channels = config.d_model, config.conv_channels
        self.log_mel = LogMel(config)
        self.front = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
        bands = _subsampled(torch.tensor(config.n_mels)).item()
        self.project = nn.Linear(channels * int(bands), d)
        self.register_buffer("encoder_positions", sinusoids(config.max_frames // 4 + 2, d), persistent=False)
        self.register_buffer("decoder_positions", sinusoids(config.max_chars + 2, d), persistent=False)
        self.encoder = nn.ModuleList(
            nn.TransformerEncoderLayer(d, config.heads, config.ffn_dim, config.dropout, batch_first=True,
                                       norm_first=True) for _ in range(config.encoder_layers)
        )  # fmt: skip
        self.encoder_norm = nn.LayerNorm(d)
        self.embed = nn.Embedding(config.vocab_size, d, padding_idx=PAD)
        self.decoder = nn.ModuleList(
            nn.TransformerDecoderLayer(d, config.heads, config.ffn_dim, config.dropout, batch_first=True,
                                       norm_first=True) for _ in range(config.decoder_layers)
        )  # fmt: skip
        self.decoder_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(d, config.vocab_size, bias=False)
        self.ctc = nn.Linear(d, config.vocab_size)  # training aid: CTC over the encoder's frames (PAD is the blank)
        self.output.weight = self.embed.weight
        nn.init.normal_(self.embed.weight, std=d**-0.5)  # tied: unit-scale inputs (x sqrt(d)) and tame first logits

    def features(self, waveforms: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, frames, n_mels) log-mel features of (B, T) 16 kHz waveforms, and each one's frame count."""
        return self.log_mel(waveforms, lengths)

    def encode(self, features: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's (B, S, d) states of (B, frames, n_mels) features, and its padding mask (True: padding)."""
        x = self.front(features.unsqueeze(1))  # (B, C, frames / 4, bands / 4)
        x = self.project(x.permute(0, 2, 1, 3).flatten(2)) * math.sqrt(self.config.d_model)
        x = self.dropout(x + self.encoder_positions[: x.shape[1]])
        padding = torch.arange(x.shape[1], device=x.device)[None, :] >= _subsampled(frames)[:, None]
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=padding)
        return self.encoder_norm(x), padding

    def decode(self, tokens: torch.Tensor, memory: torch.Tensor, memory_padding: torch.Tensor) -> torch.Tensor:
        """(B, L, vocab) next-character logits after each of (B, L) tokens (SOS first)."""
        length = tokens.shape[1]
        x = self.embed(tokens) * math.sqrt(self.config.d_model) + self.decoder_positions[:length]
        x = self.dropout(x)
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=tokens.device), diagonal=1)
        padding = tokens == PAD
        for layer in self.decoder:
            x = layer(x, memory, tgt_mask=causal, tgt_key_padding_mask=padding, memory_key_padding_mask=memory_padding)
        return self.output(self.decoder_norm(x))

    def forward(self, features: torch.Tensor, frames: torch.Tensor, tokens: torch.Tensor,
                with_ctc: bool = False) -> Any:  # fmt: skip
        """The decoder's logits; `with_ctc` also the CTC head's (B, S, vocab) log-probabilities over the encoder's
        frames and each clip's frame count (training)."""
        memory, padding = self.encode(features, frames)
        logits = self.decode(tokens, memory, padding)
        if not with_ctc:
            return logits
        return logits, F.log_softmax(self.ctc(memory).float(), dim=-1), (~padding).sum(1)

    @torch.no_grad()
    def greedy(self, memory: torch.Tensor, padding: torch.Tensor) -> list[list[int]]:
        """The likeliest character at each step, for every clip of the batch at once."""
        tokens = torch.full((len(memory), 1), SOS, dtype=torch.long, device=memory.device)
        done = torch.zeros(len(memory), dtype=torch.bool, device=memory.device)
        for _ in range(self.config.max_chars + 1):
            following = self.decode(tokens, memory, padding)[:, -1].argmax(-1)
            following = torch.where(done, torch.full_like(following, EOS), following)
            tokens = torch.cat([tokens, following[:, None]], dim=1)
            done |= following == EOS
            if bool(done.all()):
                break
        return [row[1:].tolist() for row in tokens]

    @torch.no_grad()
    def beam_search(self, memory: torch.Tensor, padding: torch.Tensor, beam: int,
                    length_penalty: float = 1.0) -> list[int]:  # fmt: skip
        """The best of `beam` hypotheses for one clip ((1, S, d) memory), by log-probability over length**penalty."""
        hypotheses: list[tuple[list[int], float]] = [([SOS], 0.0)]
        finished: list[tuple[list[int], float]] = []
        for _ in range(self.config.max_chars + 1):
            tokens = torch.tensor([h for h, _ in hypotheses], device=memory.device)
            logits = self.decode(tokens, memory.expand(len(tokens), -1, -1), padding.expand(len(tokens), -1))
            log_probs = F.log_softmax(logits[:, -1].float(), dim=-1)
            totals = torch.tensor([s for _, s in hypotheses], device=memory.device)[:, None] + log_probs
            best = totals.flatten().topk(min(2 * beam, totals.numel()))
            candidates: list[tuple[list[int], float]] = []
            for score, flat in zip(best.values.tolist(), best.indices.tolist(), strict=True):
                row, token = divmod(flat, log_probs.shape[1])
                extended = hypotheses[row][0] + [token]
                (finished if token == EOS else candidates).append((extended, score))
            hypotheses = candidates[:beam]
            if not hypotheses or (len(finished) >= beam and max(_normalised(f, length_penalty) for f in finished)
                                  > _normalised(hypotheses[0], length_penalty)):  # fmt: skip
                break
        pool = finished or hypotheses
        return max(pool, key=lambda h: _normalised(h, length_penalty))[0][1:]

    @torch.no_grad()
    def transcribe(self, waveforms: list[np.ndarray], beam: int = 1) -> list[str]:
        """What the model hears in each (T,) 16 kHz waveform of at most max_seconds."""
        device = self.embed.weight.device
        lengths = torch.tensor([len(w) for w in waveforms], device=device)
        batch = torch.zeros(len(waveforms), int(lengths.max()), device=device)
        for i, w in enumerate(waveforms):
            batch[i, : len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
        features, frames = self.features(batch, lengths)
        memory, padding = self.encode(features, frames)
        if beam <= 1:
            rows = self.greedy(memory, padding)
        else:
            rows = [self.beam_search(memory[i : i + 1], padding[i : i + 1], beam) for i in range(len(memory))]
        return [decode_ids(row, self.config) for row in rows]


def _normalised(hypothesis: tuple[list[int], float], penalty: float) -> float:
    tokens, score = hypothesis
    return score / max(1, len(tokens) - 1) ** penalty
