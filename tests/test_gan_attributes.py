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
