"""The conditional GAN of "Voice to Image Generation" (KTH), scaled to Spoken Shapes.

Generator: z (64-d, N(0, 1)) joined to the perturbed caption vector c^ and taken through transposed
convolutions (kernel 4) with batch norm and ReLU, 4 -> 8 -> 16 -> 32 px, then to 3 x 64 x 64 with tanh.
Discriminator: four stride-2 4 x 4 convolutions with leaky ReLU 0.2 (batch norm after the first) down to
4 x 4, where the caption vector, compressed by a linear layer, is joined at every position; a 1 x 1 and a
4 x 4 convolution give one logit (the sigmoid is in the loss). Widths are this world's: the paper's generator
starts at 512 channels (width 64 here would match it), its discriminator at 64.

c^ = c + p, p ~ N(0, 0.001), read as the variance (std 0.0316), on the caption vector standardised per
dimension by the training captions' statistics (word vectors of colours differ little: unstandardised, a
colour is a small ripple on a large shared vector). Or, as a named variant, StackGAN's conditioning
augmentation: mu and log-variance from a linear layer, c^ = mu + sigma * eps, with its KL term.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from soundsight.errors import ConfigError

MODEL_TYPE = "soundsight-cgan"
AUGMENTATIONS = ("noise", "ca")


@dataclass(frozen=True)
class CganConfig:
    condition_dim: int = 600  # the pooled caption vector (the paper: min and max of 300-d word2vec, 600)
    pooling: str = "minmax"  # how a caption becomes that vector (word_vectors.POOLINGS)
    noise_dim: int = 64  # z (the paper: 64)
    augmentation: str = "noise"  # "noise": the paper's c + p; "ca": StackGAN's conditioning augmentation
    perturbation_std: float = 0.001**0.5  # the paper's N(0, 0.001), read as the variance
    ca_dim: int = 128  # c from conditioning augmentation (StackGAN: 128)
    width: int = 32  # generator: 8 x width channels at 4 x 4 (the paper: 512, width 64)
    d_width: int = 32  # discriminator's first convolution (the paper: 64)
    compressed_dim: int = 128  # the caption vector joined to the discriminator at 4 x 4

    def __post_init__(self) -> None:
        if self.augmentation not in AUGMENTATIONS:
            raise ConfigError(f"augmentation {self.augmentation!r}: expected one of {', '.join(AUGMENTATIONS)}")

    @property
    def generator_condition_dim(self) -> int:
        return self.ca_dim if self.augmentation == "ca" else self.condition_dim

    def save(self, folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps({"model_type": MODEL_TYPE, **asdict(self)}, indent=2) + "\n")

    @classmethod
    def from_dict(cls, settings: dict[str, object]) -> CganConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(settings) - known - {"model_type"}
        if unknown:
            raise ConfigError(f"unknown settings {sorted(unknown)}")
        return cls(**{k: v for k, v in settings.items() if k in known})  # type: ignore[arg-type]


class CganGenerator(nn.Module):
    condition_mean: torch.Tensor  # (condition_dim,), the training captions'
    condition_std: torch.Tensor

    def __init__(self, config: CganConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("condition_mean", torch.zeros(config.condition_dim))
        self.register_buffer("condition_std", torch.ones(config.condition_dim))
        self.ca = nn.Linear(config.condition_dim, 2 * config.ca_dim) if config.augmentation == "ca" else None
        w = config.width
        channels = [8 * w, 4 * w, 2 * w, w]
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(config.noise_dim + config.generator_condition_dim, channels[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(channels[0]), nn.ReLU(True),
        ]  # fmt: skip
        for c_in, c_out in zip(channels, channels[1:], strict=False):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1), nn.Tanh()]
        self.layers = nn.Sequential(*layers)

    def standardize(self, condition: torch.Tensor) -> torch.Tensor:
        return (condition - self.condition_mean) / self.condition_std

    def forward(self, condition: torch.Tensor, noise: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:  # fmt: skip
        """(B, condition_dim) caption vectors and (B, noise_dim) z -> (B, 3, 64, 64) in [-1, 1], the standardised
        condition the discriminator reads, and the KL term's (mu, log-variance) stacked (CA only, else None)."""
        c = self.standardize(condition)
        eps = torch.randn(c.shape[0], self.config.generator_condition_dim, generator=generator).to(c.device)
        stats = None
        if self.ca is not None:
            mu, log_variance = self.ca(c).chunk(2, dim=-1)
            perturbed = mu + torch.exp(0.5 * log_variance) * eps
            stats = torch.stack([mu, log_variance])
        else:
            perturbed = c + self.config.perturbation_std * eps
        image = self.layers(torch.cat([noise, perturbed], dim=-1)[:, :, None, None])
        return image, c, stats


def kl_loss(stats: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)), averaged: StackGAN's regulariser of the conditioning augmentation."""
    mu, log_variance = stats
    return (-0.5 * (1 + log_variance - mu.pow(2) - log_variance.exp())).sum(-1).mean()


class CganDiscriminator(nn.Module):
    def __init__(self, config: CganConfig, attribute_head: nn.Module | None = None) -> None:
        """`attribute_head`, given, reads the (B, 8 x d_width, 4, 4) picture features (train/attributes.py)."""
        super().__init__()
        self.attribute_head = attribute_head
        d = config.d_width
        self.image = nn.Sequential(
            nn.Conv2d(3, d, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
            nn.Conv2d(d, 2 * d, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * d), nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * d, 4 * d, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * d), nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * d, 8 * d, 4, 2, 1, bias=False), nn.BatchNorm2d(8 * d), nn.LeakyReLU(0.2, True),
        )  # fmt: skip
        self.compress = nn.Sequential(nn.Linear(config.condition_dim, config.compressed_dim), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(
            nn.Conv2d(8 * d + config.compressed_dim, 8 * d, 1, bias=False), nn.BatchNorm2d(8 * d),
            nn.LeakyReLU(0.2, True), nn.Conv2d(8 * d, 1, 4),
        )  # fmt: skip

    def forward(self, image: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, 3, 64, 64) and (B, condition_dim) standardised caption vectors -> (B,) logits, and the attribute
        head's logits (None without one)."""
        features = self.image(image)
        text = self.compress(condition)[:, :, None, None].expand(-1, -1, *features.shape[2:])
        attributes = self.attribute_head(features) if self.attribute_head is not None else None
        return self.joint(torch.cat([features, text], dim=1)).flatten(), attributes
