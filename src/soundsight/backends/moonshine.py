"""Moonshine tiny English behind the ASR interface (the moonshine-voice wheel ships it: offline, MIT).

The wheel's own runtime transcribes; its ONNX encoder and decoder, run by onnxruntime, also score
texts against a clip (how likely Moonshine finds each), which the caption listener needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundsight.asr import AsrCapabilities, TextScorer, TranscribeOptions, Transcript
from soundsight.audio import SAMPLE_RATE
from soundsight.errors import AudioError

MODEL_NAME = "moonshine-tiny-en"
CAPABILITIES = AsrCapabilities(languages=("en",), translate=False, timestamps=False)
BOS, EOS = 1, 2
WORD_START = "\u2581"  # SentencePiece's mark of a word's first piece
MAX_ENCODER_FRAMES = 400  # the exported decoder's cross-attention takes no more (about 9.6 s of audio)


def read_vocabulary(path: Path) -> list[bytes]:
    """The pieces of Moonshine's tokenizer.bin, in id order: each a varint length, then its bytes."""
    data, pieces, i = path.read_bytes(), [], 0
    while i < len(data):
        length, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        pieces.append(data[i : i + length])
        i += length
    return pieces


@dataclass
class PieceTokenizer:
    """Moonshine's SentencePiece BPE (Llama's pieces): merges in id order, bytes where no piece fits."""

    pieces: list[bytes]
    ids: dict[bytes, int] = field(init=False)
    _cache: dict[str, list[int]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = {piece: i for i, piece in enumerate(self.pieces)}  # a text piece wins over its byte twin
        self.byte_ids = {piece[0]: i for i, piece in enumerate(self.pieces[:259]) if len(piece) == 1}

    def encode(self, text: str) -> list[int]:
        return [i for word in text.split() for i in self._word(WORD_START + word)]

    def _word(self, word: str) -> list[int]:
        if word not in self._cache:
            parts = [c.encode() for c in word]
            while len(parts) > 1:
                merges = [(self.ids.get(a + b), j) for j, (a, b) in enumerate(zip(parts, parts[1:], strict=False))]
                found = [(rank, j) for rank, j in merges if rank is not None]
                if not found:
                    break
                _, j = min(found)
                parts[j : j + 2] = [parts[j] + parts[j + 1]]
            self._cache[word] = [i for p in parts for i in ([self.ids[p]] if p in self.ids else self._bytes(p))]
        return self._cache[word]

    def _bytes(self, part: bytes) -> list[int]:
        return [self.byte_ids[b] for b in part]


@dataclass(frozen=True)
class MoonshineScorer:
    """Moonshine's ONNX encoder and decoder (onnxruntime sessions) and its tokenizer."""

    encoder: Any
    decoder: Any
    tokenizer: PieceTokenizer
    layers: int
    heads: int
    head_dim: int

    def text_scorer(self, waveform: np.ndarray) -> TextScorer | None:
        """How likely Moonshine finds each text (natural log, end of text included) said in `waveform`;
        None for audio longer than the decoder takes."""
        audio = waveform[None].astype(np.float32)
        states = self.encoder.run(None, {"input_values": audio, "attention_mask": np.ones(audio.shape, np.int64)})[0]
        if states.shape[1] > MAX_ENCODER_FRAMES:
            return None
        return lambda texts: self._log_likelihoods(states, texts)

    def _log_likelihoods(self, states: np.ndarray, texts: list[str]) -> list[float]:
        sequences = [[BOS, *self.tokenizer.encode(text), EOS] for text in texts]
        width = max(map(len, sequences))
        ids = np.full((len(sequences), width), EOS, np.int64)
        for row, sequence in zip(ids, sequences, strict=True):
            row[: len(sequence)] = sequence
        logits = self.decoder.run(["logits"], self._inputs(states, ids))[0]  # (B, L, V) float32
        # (B, L): one pass over the vocabulary, no log-softmax array; torch's is ~9x scipy's here
        totals = torch.from_numpy(logits).logsumexp(-1).numpy()
        rows, steps = np.arange(len(ids))[:, None], np.arange(width - 1)[None]
        picked = logits[rows, steps, ids[:, 1:]] - totals[:, :-1]  # (B, L - 1) log p(next token)
        return [float(picked[k, : len(s) - 1].astype(np.float64).sum()) for k, s in enumerate(sequences)]

    def _inputs(self, states: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
        batch, frames = ids.shape[0], states.shape[1]
        inputs = {
            "input_ids": ids,
            "encoder_hidden_states": np.repeat(states, batch, 0),
            "encoder_attention_mask": np.ones((batch, frames), np.int64),
            "use_cache_branch": np.array([False]),
        }
        for layer in range(self.layers):  # no cache: empty past for the decoder, unused for the encoder
            for part, length in (("decoder", 0), ("encoder", frames)):
                for kind in ("key", "value"):
                    inputs[f"past_key_values.{layer}.{part}.{kind}"] = np.zeros(
                        (batch, self.heads, length, self.head_dim), np.float32
                    )
        return inputs


@dataclass(frozen=True)
class MoonshineAsr:
    transcriber: Any  # moonshine_voice.Transcriber
    scorer: MoonshineScorer | None = None
    name: str = MODEL_NAME
    capabilities: AsrCapabilities = CAPABILITIES

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        """What Moonshine hears in a (T,) float32 16 kHz waveform (English; it has no no-speech score)."""
        if len(waveform) == 0:
            raise AudioError("no audio to transcribe")
        result = self.transcriber.transcribe_without_streaming(waveform.astype(np.float32).tolist(), SAMPLE_RATE)
        text = " ".join(line.text.strip() for line in result.lines if line.text.strip())
        return Transcript(" ".join(text.split()), "en", "transcribe", self.name)

    def text_scorer(self, waveform: np.ndarray) -> TextScorer | None:
        """Moonshine's log-likelihood of each text said in `waveform` (None without the scorer, or too long)."""
        return None if self.scorer is None else self.scorer.text_scorer(waveform)
