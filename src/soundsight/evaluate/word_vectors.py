"""Do pooled word vectors still say what an object phrase asks for? A linear probe (multinomial logistic
regression) reads the colour and the shape back from the pooled vector of object phrases ("a little red star
on the left"); it is fitted on some size and position wordings of every colour-shape pair and scored on the
others. Beside it, how alike the colour words' own vectors are (mean pairwise cosine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from soundsight.shapes.spec import COLORS, POSITION_PHRASES, SHAPES, SIZE_WORDS
from soundsight.word_vectors import embed_caption

if TYPE_CHECKING:
    from gensim.models import KeyedVectors


@dataclass(frozen=True)
class ProbeScores:
    pooling: str
    color: float  # share of held-out phrases whose colour the probe reads right
    shape: float
    phrases_fitted: int
    phrases_scored: int
    color_cosine: float  # mean cosine between the colour words' vectors


def object_phrases() -> list[tuple[str, str, str, int]]:
    """(phrase, colour, shape, wording) for every colour and shape, with no, each size and each position word
    (a big object only in the center, as the grammar has it)."""
    sizes = ["", *(w for words in SIZE_WORDS.values() for w in words)]
    positions = ["", *(p for phrases in POSITION_PHRASES.values() for p in phrases)]
    big, center = set(SIZE_WORDS["big"]), {"", *POSITION_PHRASES["center"]}
    wordings = [(s, p) for s in sizes for p in positions if s not in big or p in center]
    return [(" ".join(f"a {s} {c} {shape} {p}".split()), c, shape, k)
            for c in COLORS for shape in SHAPES for k, (s, p) in enumerate(wordings)]  # fmt: skip


def _fit_and_score(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   classes: int, steps: int = 500) -> float:  # fmt: skip
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    x, xt = torch.from_numpy((train_x - mean) / std).float(), torch.from_numpy((test_x - mean) / std).float()
    torch.manual_seed(0)
    probe = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=steps, line_search_fn="strong_wolfe")
    y = torch.from_numpy(train_y)

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe(x), y) + 1e-4 * probe.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float((probe(xt).argmax(-1).numpy() == test_y).mean())


def probe_word_vectors(vectors: KeyedVectors, pooling: str = "minmax", held_out_share: float = 0.3,
                       seed: int = 0) -> ProbeScores:  # fmt: skip
    phrases = object_phrases()
    wordings = sorted({k for *_, k in phrases})
    held = set(np.random.default_rng(seed).permutation(wordings)[: int(len(wordings) * held_out_share)].tolist())
    x = np.stack([embed_caption(p, vectors, pooling) for p, *_ in phrases])
    colors = np.array([COLORS.index(c) for _, c, _, _ in phrases])
    shapes = np.array([SHAPES.index(s) for _, _, s, _ in phrases])
    test = np.array([k in held for *_, k in phrases])
    color = _fit_and_score(x[~test], colors[~test], x[test], colors[test], len(COLORS))
    shape = _fit_and_score(x[~test], shapes[~test], x[test], shapes[test], len(SHAPES))
    cosines = [float(vectors.similarity(a, b)) for i, a in enumerate(COLORS) for b in COLORS[i + 1 :]]
    return ProbeScores(pooling, color, shape, int((~test).sum()), int(test.sum()), float(np.mean(cosines)))
