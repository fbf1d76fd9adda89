import json
from pathlib import Path

import numpy as np
import pytest
import torch

from soundsight.errors import ConfigError, PromptError
from soundsight.generate import GenerateConfig
from soundsight.loading import load_char_cnn_rnn, load_stackgan
from soundsight.models.char_cnn_rnn import ALPHABET, CharCnnRnnConfig, character_ids
from soundsight.models.stackgan import CHAR_CNN_RNN, StackGanConfig
from soundsight.shapes.build import BuildReport
from soundsight.shapes.captions import CaptionSpec, fill_caption, parse_caption
from soundsight.train.char_cnn_rnn import CharCnnRnnTrainConfig, describes, joint_loss, main
from soundsight.train.stackgan import StackGanTrainConfig
from soundsight.train.stackgan import main as train_stackgan

TINY_TEXT = CharCnnRnnConfig(char_dim=8, conv_width=16, hidden=16, embedding_dim=12, image_width=8)
RED_STAR = {"shape": "star", "color": "red", "size": "small", "position": "left", "background": "blue"}


def test_characters_are_read_as_the_spec_normalises_captions() -> None:
    ids = character_ids(["A Red-star!", "a red star"], 16)
    assert ids.shape == (2, 16) and torch.equal(ids[0], ids[1])
    assert ids[1, :10].tolist() == [1 + ALPHABET.index(c) for c in "a red star"] and ids[1, 10:].sum() == 0
    assert character_ids(["a red star on a blue background"], 8)[0].tolist() == [
        1 + ALPHABET.index(c) for c in "a red st"
    ]


def test_a_caption_describes_every_scene_that_has_what_it_names() -> None:
    assert describes(CaptionSpec("star", "red"), RED_STAR)
    assert describes(CaptionSpec("star", "red", "small", "left", "blue"), RED_STAR)
    assert not describes(CaptionSpec("star", "red", background="green"), RED_STAR)
    assert not describes(CaptionSpec("moon", "red"), RED_STAR)


def test_the_joint_loss_does_not_count_a_scene_the_caption_also_describes_against_it() -> None:
    pictures = torch.eye(3) * 5
    text = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # captions 0, 1 alike
    alone = torch.eye(3, dtype=torch.bool)
    both = alone.clone()
    both[0, 1] = both[1, 0] = True  # caption 0 describes picture 1 too, and 1 describes 0
    assert joint_loss(text, pictures, both, 0.1) < 0.01 < joint_loss(text, pictures, alone, 0.1)
    matched = joint_loss(torch.eye(3), pictures, alone, 0.1)
    assert matched < joint_loss(torch.eye(3)[[1, 2, 0]], pictures, alone, 0.1)


def test_filling_a_caption_keeps_what_it_names_and_draws_the_rest() -> None:
    filled = {fill_caption("a red star", np.random.default_rng(seed)) for seed in range(12)}
    specs = [parse_caption(c) for c in filled]
    assert len(filled) > 3
    assert all(s.shape == "star" and s.color == "red" and None not in (s.size, s.position, s.background)
               for s in specs)  # fmt: skip
    assert all(s.background != "red" for s in specs)
    kept = parse_caption(fill_caption("a big red star on a green background", np.random.default_rng(0)))
    assert (kept.size, kept.position, kept.background) == ("big", "center", "green")
    with pytest.raises(PromptError, match="caption 'a red'"):
        fill_caption("a red", np.random.default_rng(0))


@pytest.fixture(scope="module")
def char_cnn_rnn(small_build: BuildReport, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("char-cnn-rnn") / "run"
    main(CharCnnRnnTrainConfig(data=small_build.out, out=out, model=TINY_TEXT, steps=4, batch_size=8,
                               checkpoint_every=2, log_every=1, progress=False))  # fmt: skip
    return out


def test_char_cnn_rnn_trains_resumes_and_embeds(char_cnn_rnn: Path, small_build: BuildReport, tmp_path: Path) -> None:
    assert sorted(p.name for p in char_cnn_rnn.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    card = json.loads((char_cnn_rnn / "model" / "training.json").read_text())
    assert card["steps"] == 4 and 0.0 <= card["val_retrieval"] <= 1.0
    logged = [json.loads(line)["step"] for line in (char_cnn_rnn / "log.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4]
    model = load_char_cnn_rnn(char_cnn_rnn)  # a run folder: its model/
    vectors = model.eval().embed(["a red star", "A red star.", "a blue moon"])
    assert vectors.shape == (3, 12)
    assert torch.allclose(vectors.norm(dim=1), torch.full((3,), 12**0.5))  # unit length, scaled to unit variance
    assert torch.allclose(vectors[0], vectors[1]) and not torch.allclose(vectors[0], vectors[2])
    resumed = tmp_path / "resumed"
    config = CharCnnRnnTrainConfig(data=small_build.out, out=resumed, model=TINY_TEXT, steps=2, batch_size=8,
                                   checkpoint_every=2, log_every=1, progress=False)  # fmt: skip
    main(config)
    with pytest.raises(ConfigError, match="batch_size"):  # a changed setting is refused on resume
        main(CharCnnRnnTrainConfig(**{**config.__dict__, "steps": 4, "batch_size": 4}))


def test_stackgan_reads_a_char_cnn_rnn_and_fills_what_a_caption_leaves_free(
    char_cnn_rnn: Path, small_build: BuildReport, tmp_path: Path
) -> None:
    out = tmp_path / "stage1"
    model = StackGanConfig(condition_dim=16, noise_dim=8, width=8, d_width=8, fill_free=True)
    train_stackgan(StackGanTrainConfig(data=small_build.out, out=out, stage=1, model=model, steps=2, batch_size=8,
                                       text_encoder=char_cnn_rnn, checkpoint_every=2, sample_every=0,
                                       validate_captions=4, progress=False))  # fmt: skip
    folder = out / "model"
    settings = json.loads((folder / "config.json").read_text())
    assert settings["text_pooling"] == "char-cnn-rnn" and settings["embedding_dim"] == 12 and settings["fill_free"]
    assert sorted(p.name for p in (folder / CHAR_CNN_RNN).iterdir()) == ["config.json", "text.safetensors"]
    painter = load_stackgan(folder)
    assert painter.text_encoder is None  # no CLIP states for a sound adapter to aim at
    filled = painter.filled(["a red star", "a red star", "a big blue cross on a red background"], [3, 4, 3])
    assert filled[0] == painter.filled(["a red star"], [3])[0] != "a red star"
    assert [parse_caption(c).color for c in filled] == ["red", "red", "blue"]
    assert parse_caption(filled[2]).background == "red"
    pictures = painter.paint(["a red star", "a red star", "a red star"], GenerateConfig(), [3, 4, 3])
    assert np.allclose(pictures[0], pictures[2], atol=1e-6) and not np.allclose(pictures[0], pictures[1], atol=1e-3)
    with pytest.raises(ConfigError, match="Stage II reads the captions"):
        StackGanTrainConfig(stage=2, stage1=folder, text_encoder=char_cnn_rnn)
    train_stackgan(StackGanTrainConfig(data=small_build.out, out=tmp_path / "stage2", stage=2, stage1=out, steps=1,
                                       batch_size=8, sample_every=0, validate_captions=2, progress=False))  # fmt: skip
    both = load_stackgan(tmp_path / "stage2" / "model")
    assert (tmp_path / "stage2" / "model" / CHAR_CNN_RNN / "text.safetensors").is_file()
    assert torch.equal(both.captions.embed(["a red star"]), painter.captions.embed(["a red star"]))
    assert both.paint(["a red star"], GenerateConfig(), [3]).shape == (1, 128, 128, 3)
