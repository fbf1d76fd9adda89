"""char-CNN-RNN (Reed et al., "Learning Deep Representations of Fine-Grained Visual Descriptions", CVPR 2016),
the text embedding StackGAN was trained on, scaled to Spoken Shapes captions, and the picture encoder it is
trained against.

Text: the caption's characters (the paper feeds one-hot characters; an embedding table is the same linear map)
through 1-D convolutions, each followed by max-pooling, then a recurrent layer over what is left of the
sequence, its hidden states averaged and projected to the embedding. Picture: stride-2 convolutions down to one
vector (the paper uses fixed GoogLeNet features; nothing pretrained is at hand here, so it is learned too). The
two are compatible by their dot product; train/char_cnn_rnn.py trains them together. Widths are this world's:
the paper's embedding is 1,024-d.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from soundsight.errors import ConfigError
from soundsight.shapes.captions import normalize_text

MODEL_TYPE = "soundsight-char-cnn-rnn"
ALPHABET = " abcdefghijklmnopqrstuvwxyz"  # normalised captions hold lower-case letters and single spaces
TEXT_WEIGHTS = "text.safetensors"
IMAGE_WEIGHTS = "image.safetensors"


@dataclass(frozen=True)
class CharCnnRnnConfig:
    max_chars: int = 96  # captions are cut (the longest caption of the grammar is 76 characters)
    char_dim: int = 32
    conv_width: int = 128
    conv_layers: int = 2  # each: kernel 3, ReLU, max-pooling by 2
    hidden: int = 128  # the GRU
    embedding_dim: int = 128  # what StackGAN's conditioning augmentation reads
    image_width: int = 32  # the picture encoder's first convolution

    def __post_init__(self) -> None:
        if self.max_chars % (2**self.conv_layers):
            raise ConfigError(f"max_chars {self.max_chars}: must divide by 2^{self.conv_layers}")

    def save(self, folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps({"model_type": MODEL_TYPE, **asdict(self)}, indent=2) + "\n")

    @classmethod
    def from_dict(cls, settings: dict[str, object]) -> CharCnnRnnConfig:
        if settings.get("model_type") != MODEL_TYPE:
            raise ConfigError("not a char-CNN-RNN's config")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in known})  # type: ignore[arg-type]


def character_ids(captions: list[str], max_chars: int) -> torch.Tensor:
    """(B, max_chars) long: each normalised caption's characters as 1 + their index in ALPHABET, 0 after its end."""
    ids = torch.zeros(len(captions), max_chars, dtype=torch.long)
    for row, caption in enumerate(captions):
        text = normalize_text(caption)[:max_chars]
        ids[row, : len(text)] = torch.tensor([1 + ALPHABET.index(c) for c in text], dtype=torch.long)
    return ids


class CharCnnRnn(nn.Module):
    """(B, max_chars) character ids -> (B, embedding_dim) caption embeddings."""

    def __init__(self, config: CharCnnRnnConfig) -> None:
        super().__init__()
        self.config = config
        self.chars = nn.Embedding(len(ALPHABET) + 1, config.char_dim, padding_idx=0)
        layers: list[nn.Module] = []
        channels = config.char_dim
        for _ in range(config.conv_layers):
            layers += [nn.Conv1d(channels, config.conv_width, 3, padding=1), nn.ReLU(True), nn.MaxPool1d(2)]
            channels = config.conv_width
        self.convolutions = nn.Sequential(*layers)
        self.rnn = nn.GRU(config.conv_width, config.hidden, batch_first=True)
        self.project = nn.Linear(config.hidden, config.embedding_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.convolutions(self.chars(ids).transpose(1, 2)).transpose(1, 2)
        states, _ = self.rnn(x)
        return self.project(states.mean(dim=1))

    def embed(self, captions: list[str]) -> torch.Tensor:
        """Captions as text -> their embeddings on this model's device, of unit length times sqrt(dim): the
        cosine space they were trained in, each dimension about unit variance (unscaled, they are small beside
        the noise of StackGAN's conditioning augmentation)."""
        device = self.project.weight.device
        raw = self(character_ids(captions, self.config.max_chars).to(device))
        return F.normalize(raw, dim=1) * self.config.embedding_dim**0.5


class PictureEncoder(nn.Module):
    """(B, 3, 64, 64) pictures in [-1, 1] -> (B, embedding_dim), in the caption embeddings' space."""

    def __init__(self, config: CharCnnRnnConfig) -> None:
        super().__init__()
        w = config.image_width
        layers: list[nn.Module] = []
        channels = 3
        for width in (w, 2 * w, 4 * w, 8 * w):  # 64 -> 4 px
            layers += [nn.Conv2d(channels, width, 4, 2, 1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2, True)]
            channels = width
        self.encode = nn.Sequential(*layers)
        self.project = nn.Linear(channels * 16, config.embedding_dim)

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return self.project(self.encode(pictures).flatten(1))
