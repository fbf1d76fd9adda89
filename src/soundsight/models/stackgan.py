"""StackGAN (Zhang et al., ICCV 2017), scaled to Spoken Shapes: text embedding -> conditioning augmentation ->
a Stage-I GAN painting 64 x 64 -> a Stage-II GAN refining it to 128 x 128.

The layout follows the paper and its public code (hanzhanggit/StackGAN-Pytorch): conditioning augmentation
as a linear layer giving mu and log-variance, c = mu + sigma * eps; Stage-I's generator a linear layer to
4 x 4 then upsampling blocks (nearest x2, 3 x 3 convolution, batch norm, ReLU), tanh; its discriminator
stride-2 4 x 4 convolutions with leaky ReLU 0.2 down to 4 x 4, where the compressed condition (mu) is
joined, then a 3 x 3 and a 4 x 4 convolution to one logit. Stage-II's generator encodes the Stage-I picture
to 16 x 16, joins its own c, refines with residual blocks and upsamples three times. Widths are this
world's (the paper's generators are about 35 M parameters): `width` is the paper's gf_dim (128 there).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from soundsight.errors import ConfigError

MODEL_TYPE = "soundsight-stackgan"
# The bundled text encoder's pooler output (its end token's state) reads the background of a caption back for 31%
# of captions by a linear probe, the mean of its last hidden states for 100% (3,000 train captions, measured).
# "char-cnn-rnn": the paper's text embedding instead (models/char_cnn_rnn.py), saved in the model's CHAR_CNN_RNN.
TEXT_POOLINGS = ("mean", "eos", "char-cnn-rnn")
CHAR_CNN_RNN = "char_cnn_rnn"


def text_embedding(output: object, pooling: str) -> torch.Tensor:
    """(B, D) caption embedding from a CLIP text encoder's output: its states' mean over the padded length, or
    its pooler output."""
    if pooling == "eos":
        return output.pooler_output  # type: ignore[attr-defined]
    return output.last_hidden_state.mean(dim=1)  # type: ignore[attr-defined]


class ClipCaptionEmbedding(nn.Module):
    """Captions -> (B, D) by a CLIP text encoder (text_embedding's pooling), as the generators read them."""

    def __init__(self, text_encoder: nn.Module, tokenizer: object, pooling: str, max_tokens: int) -> None:
        super().__init__()
        self.text_encoder = text_encoder
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.max_tokens = max_tokens

    @torch.no_grad()
    def embed(self, captions: list[str]) -> torch.Tensor:
        ids = self.tokenizer(captions, padding="max_length", max_length=self.max_tokens, truncation=True,  # type: ignore[operator]
                             return_tensors="pt").input_ids  # fmt: skip
        device = next(self.text_encoder.parameters()).device
        return text_embedding(self.text_encoder(ids.to(device)), self.pooling)


@dataclass(frozen=True)
class StackGanConfig:
    embedding_dim: int = 128  # the text embedding it is conditioned on (the text encoder's width)
    text_pooling: str = "mean"  # "mean" of the encoder's last hidden states, its "eos" pooler output, or char-cnn-rnn
    # True: what a caption leaves free (size, position, background) is drawn from the seed and written into it
    # before it is embedded, and training captions name everything (a GAN shown captions that leave an attribute
    # free paints a blend of its values)
    fill_free: bool = False
    condition_dim: int = 128  # c (the paper: 128)
    noise_dim: int = 100  # z (the paper: 100)
    width: int = 32  # generators' gf_dim (the paper: 128)
    d_width: int = 32  # discriminators' df_dim (the paper: 64)
    residual_blocks: int = 2  # Stage II (the paper: 4)
    # the public code's ReLU over the CA's mu and log-variance: log-variance >= 0, so c's noise has sigma >= 1 however
    # much the caption says; False (a named variant): both linear, so sigma can shrink where the caption matters
    ca_relu: bool = True
    stage1_size: int = 64
    stage2_size: int = 128

    def __post_init__(self) -> None:
        if self.text_pooling not in TEXT_POOLINGS:
            raise ConfigError(f"text_pooling {self.text_pooling!r}: expected one of {', '.join(TEXT_POOLINGS)}")
        if self.stage1_size != 64 or self.stage2_size not in (128, 256):
            raise ConfigError(f"sizes {self.stage1_size}/{self.stage2_size}: Stage I paints 64, Stage II 128 or 256")

    def save(self, folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps({"model_type": MODEL_TYPE, **asdict(self)}, indent=2) + "\n")

    @classmethod
    def from_dict(cls, settings: dict[str, object]) -> StackGanConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(settings) - known - {"model_type", "stages"}
        if unknown:
            raise ConfigError(f"unknown settings {sorted(unknown)}")
        return cls(**{k: v for k, v in settings.items() if k in known})  # type: ignore[arg-type]


class ConditioningAugmentation(nn.Module):
    """Text embedding -> (c, mu, log-variance): c drawn from N(mu, sigma^2), smooth in the embedding (from
    `generator` when given; in eval mode without one, c is mu)."""

    def __init__(self, config: StackGanConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.embedding_dim, 2 * config.condition_dim)
        self.dim = config.condition_dim
        self.relu = config.ca_relu

    def forward(self, embedding: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        moments = torch.relu(self.fc(embedding)) if self.relu else self.fc(embedding)
        mu, log_variance = moments[:, : self.dim], moments[:, self.dim :]
        if not self.training and generator is None:
            return mu, mu, log_variance
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        c = mu + torch.exp(0.5 * log_variance) * eps
        return c, mu, log_variance


def kl_loss(mu: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)), averaged over the batch and the dimensions (the paper's code)."""
    return (-0.5 * (1 + log_variance - mu.pow(2) - log_variance.exp())).mean()


def up_block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(channels_in, channels_out, 3, 1, 1,
                         bias=False), nn.BatchNorm2d(channels_out), nn.ReLU(True))  # fmt: skip


def down_block(channels_in: int, channels_out: int, norm: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(channels_in, channels_out, 4, 2, 1, bias=False)]
    if norm:
        layers.append(nn.BatchNorm2d(channels_out))
    layers.append(nn.LeakyReLU(0.2, True))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


class Stage1Generator(nn.Module):
    """(embedding, z) -> a 64 x 64 picture in [-1, 1], with the CA's mu and log-variance."""

    def __init__(self, config: StackGanConfig) -> None:
        super().__init__()
        top = 8 * config.width
        self.ca = ConditioningAugmentation(config)
        self.fc = nn.Sequential(nn.Linear(config.condition_dim + config.noise_dim, top * 16, bias=False),
                                nn.BatchNorm1d(top * 16), nn.ReLU(True))  # fmt: skip
        self.top = top
        self.up = nn.Sequential(up_block(top, top // 2), up_block(top // 2, top // 4), up_block(top // 4, top // 8),
                                up_block(top // 8, top // 16))  # fmt: skip
        self.image = nn.Sequential(nn.Conv2d(top // 16, 3, 3, 1, 1), nn.Tanh())

    def forward(self, embedding: torch.Tensor, noise: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:  # fmt: skip
        c, mu, log_variance = self.ca(embedding, generator)
        x = self.fc(torch.cat([c, noise], dim=1)).view(-1, self.top, 4, 4)
        return self.image(self.up(x)), mu, log_variance


class Stage2Generator(nn.Module):
    """(Stage-I picture, embedding) -> the picture at stage2_size, with this stage's CA's mu and log-variance."""

    def __init__(self, config: StackGanConfig) -> None:
        super().__init__()
        w = config.width
        self.ca = ConditioningAugmentation(config)
        self.encode = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(True),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(True),
        )  # 64 -> 16  # fmt: skip
        self.joint = nn.Sequential(nn.Conv2d(4 * w + config.condition_dim, 4 * w, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(4 * w), nn.ReLU(True))  # fmt: skip
        self.residual = nn.Sequential(*(ResidualBlock(4 * w) for _ in range(config.residual_blocks)))
        ups = [up_block(4 * w, 2 * w), up_block(2 * w, w), up_block(w, w // 2)]  # 16 -> 128
        if config.stage2_size == 256:
            ups.append(up_block(w // 2, w // 4))
        self.up = nn.Sequential(*ups)
        last = w // 2 if config.stage2_size == 128 else w // 4
        self.image = nn.Sequential(nn.Conv2d(last, 3, 3, 1, 1), nn.Tanh())

    def forward(self, stage1: torch.Tensor, embedding: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:  # fmt: skip
        c, mu, log_variance = self.ca(embedding, generator)
        x = self.encode(stage1)
        x = self.joint(torch.cat([x, c[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], dim=1))
        return self.image(self.up(self.residual(x))), mu, log_variance


class Discriminator(nn.Module):
    """A picture (64 or stage2_size) and a condition (the generator's mu) -> one logit: real and matching."""

    def __init__(self, config: StackGanConfig, size: int, attribute_head: nn.Module | None = None) -> None:
        """`attribute_head`, given, reads the (B, C, 4, 4) picture features (train/attributes.py)."""
        super().__init__()
        self.attribute_head = attribute_head
        d = config.d_width
        layers = [down_block(3, d, norm=False)]
        channels = d
        side = size // 2
        while side > 4:
            layers.append(down_block(channels, min(2 * channels, 16 * d)))
            channels, side = min(2 * channels, 16 * d), side // 2
        self.encode = nn.Sequential(*layers)
        self.features = channels
        self.compress = nn.Linear(config.condition_dim, config.condition_dim)
        self.logit = nn.Sequential(
            nn.Conv2d(channels + config.condition_dim, 8 * d, 3, 1, 1, bias=False), nn.BatchNorm2d(8 * d),
            nn.LeakyReLU(0.2, True), nn.Conv2d(8 * d, 1, 4, 4),
        )  # fmt: skip

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """-> (B,) logits, and the attribute head's logits (None without one)."""
        x = self.encode(image)
        c = self.compress(condition)[:, :, None, None].expand(-1, -1, 4, 4)
        attributes = self.attribute_head(x) if self.attribute_head is not None else None
        return self.logit(torch.cat([x, c], dim=1)).flatten(), attributes
