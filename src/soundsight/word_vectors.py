"""Caption -> one vector from word vectors, as "Voice to Image Generation" conditions its GAN.

Vectors are read in the word2vec format by gensim's `load_word2vec_format` (which does not unpickle): ours
(`soundsight train word-vectors`) or a user's own. Poolings: the paper's element-wise min and max of the
caption's word vectors stacked ("minmax", 2 x dim, word order lost), their mean ("mean", dim), and one vector
per caption slot ("slots": size, colour, shape, position, background, 5 x dim, zeros where the caption leaves
one free, or a value drawn for it), which keeps what each word describes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from soundsight.errors import ConfigError, PromptError
from soundsight.shapes.captions import draw_free_attributes, normalize_text, parse_caption, split_lead_in

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

POOLINGS = ("minmax", "mean", "slots")
SLOTS = ("size", "color", "shape", "position", "background")


def load_word_vectors(path: Path | str) -> KeyedVectors:
    """Vectors in the word2vec format: binary for a .bin file, else text."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--word-vectors '{path}': no such file")
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin")
    except (ValueError, UnicodeDecodeError, EOFError) as e:
        raise ConfigError(f"--word-vectors '{path}': not word2vec-format vectors ({e})") from None


def pooled_dim(vectors: KeyedVectors, pooling: str) -> int:
    return int(vectors.vector_size) * {"minmax": 2, "mean": 1, "slots": len(SLOTS)}[pooling]


def _vector(vectors: KeyedVectors, word: str | None) -> np.ndarray:
    if word is None or word not in vectors.key_to_index:
        return np.zeros(vectors.vector_size, dtype=np.float32)
    return np.asarray(vectors[word], dtype=np.float32)


def embed_caption(text: str, vectors: KeyedVectors, pooling: str = "minmax",
                  free_slots: np.random.Generator | None = None) -> np.ndarray:  # fmt: skip
    """(pooled_dim,) float32 of `text`; words without a vector are skipped (all zeros if none has one).

    "slots" with a `free_slots` generator: what the caption leaves free (size, position, background) is drawn
    from it as the spec draws scenes, instead of left as zeros.
    """
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling {pooling!r}: expected one of {', '.join(POOLINGS)}")
    if pooling == "slots":
        try:
            spec = parse_caption(text)
        except PromptError:
            return np.zeros(pooled_dim(vectors, pooling), dtype=np.float32)
        if free_slots is not None and not spec.is_subject:
            spec = draw_free_attributes(spec, free_slots)
        return np.concatenate([_vector(vectors, getattr(spec, slot)) for slot in SLOTS])
    words = split_lead_in(normalize_text(text))[1].split()
    known = [np.asarray(vectors[w], dtype=np.float32) for w in words if w in vectors.key_to_index]
    if not known:
        return np.zeros(pooled_dim(vectors, pooling), dtype=np.float32)
    stacked = np.stack(known)
    if pooling == "mean":
        return stacked.mean(axis=0)
    return np.concatenate([stacked.min(axis=0), stacked.max(axis=0)])
