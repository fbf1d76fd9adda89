import pytest
import torch

from soundsight.shapes.captions import CaptionSpec
from soundsight.train.attributes import ATTRIBUTE_LOGITS, UNNAMED, attribute_loss, attribute_targets


def test_attribute_targets_name_what_the_caption_names() -> None:
    scene = {"shape": "star", "color": "red", "size": "big", "position": "center", "background": "white"}
    caption = CaptionSpec("heart", "blue", None, "left", None)
    targets = attribute_targets([scene, caption]).tolist()
    # shape, colour, size, position, background; classes in the spec's order
    assert targets[0] == [3, 0, 1, 0, 6]
    assert targets[1] == [4, 4, UNNAMED, 1, UNNAMED]


def test_attribute_loss_ignores_what_the_caption_leaves_free() -> None:
    targets = attribute_targets([CaptionSpec("star", "red")])
    logits = torch.zeros(1, ATTRIBUTE_LOGITS)
    free = logits.clone()
    free[0, 6 + 8 :] = torch.randn(ATTRIBUTE_LOGITS - 14) * 10  # size, position, background: left free
    assert torch.allclose(attribute_loss(logits, targets), attribute_loss(free, targets))
    right = logits.clone()
    right[0, 3] = right[0, 6] = 10.0  # star, red
    assert attribute_loss(right, targets) < 0.01 < attribute_loss(logits, targets)


def test_the_generator_loss_adds_the_attribute_and_l1_terms_as_weighted() -> None:
    from soundsight.train.gan import generator_loss

    def undecided(image: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.zeros(len(image)), torch.zeros(len(image), ATTRIBUTE_LOGITS)

    fake, real = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)
    named = attribute_targets([CaptionSpec("star", "red"), CaptionSpec("heart", "blue", "big")])
    adversarial = float(torch.log(torch.tensor(2.0)))  # logits of 0 against "real"
    uniform = float(torch.log(torch.tensor([6.0, 8.0, 2.0])).mean())  # shape, colour, size (named once) at chance
    loss = generator_loss(undecided, fake, torch.zeros(2, 5), named, 0.0)  # type: ignore[arg-type]
    assert float(loss) == pytest.approx(adversarial)
    loss = generator_loss(undecided, fake, torch.zeros(2, 5), named, 2.0, real, 10.0)  # type: ignore[arg-type]
    assert float(loss) == pytest.approx(adversarial + 2.0 * uniform + 10.0 * 0.5, rel=1e-5)


def test_an_omit_rate_of_one_leaves_only_shape_and_colour_unless_the_background_comes_first() -> None:
    import numpy as np

    from soundsight.shapes.captions import parse_caption
    from soundsight.train.scenes import draw_caption_spec

    scene = {"shape": "star", "color": "red", "size": "small", "position": "left", "background": "blue"}
    rng = np.random.default_rng(0)
    drawn = [draw_caption_spec(scene, rng, omit_rate=1.0) for _ in range(300)]
    for caption, spec in drawn:
        assert parse_caption(caption) == spec
        assert (spec.shape, spec.color, spec.size, spec.position) == ("star", "red", None, None)
        assert spec.background in (None, "blue")
        assert (spec.background is None) != caption.startswith("a blue background with")
    object_only = sum(spec.background is None for _, spec in drawn) / len(drawn)
    assert 0.6 < object_only < 0.8  # background first 30% of the time
    named = [draw_caption_spec(scene, rng, omit_rate=0.0)[1] for _ in range(100)]
    assert all(s == CaptionSpec("star", "red", "small", "left", "blue") for s in named)


def test_both_gan_trainers_refuse_an_omit_rate_outside_0_to_1() -> None:
    from soundsight.errors import ConfigError
    from soundsight.train.cgan import CganTrainConfig
    from soundsight.train.stackgan import StackGanTrainConfig

    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="omit_rate"):
            CganTrainConfig(omit_rate=bad)
        with pytest.raises(ConfigError, match="omit_rate"):
            StackGanTrainConfig(stage=1, omit_rate=bad)
    assert StackGanTrainConfig(stage=1, omit_rate=1.0).omit_rate == 1.0
