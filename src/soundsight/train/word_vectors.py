"""`soundsight train word-vectors`: word2vec (gensim's Word2Vec, skip-gram) on sentences of the Spoken Shapes
caption grammar, saved in the word2vec binary format beside a linear probe of what pooled vectors keep.

Every colour shares every context in this grammar, so colour words come out nearly alike (mean cosine about
0.9-0.98); the probe says whether a linear read-out still tells them apart in a pooled object phrase.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from soundsight.errors import ConfigError
from soundsight.evaluate.word_vectors import probe_word_vectors
from soundsight.files import save_text
from soundsight.shapes.captions import caption_scene
from soundsight.shapes.render import make_scene
from soundsight.shapes.spec import BIG_POSITIONS, COLORS, POSITION_ANCHORS, SHAPES
from soundsight.train.steps import check_positive
from soundsight.word_vectors import POOLINGS

logger = logging.getLogger(__name__)

VECTORS_NAME = "vectors.bin"


@dataclass(frozen=True)
class WordVectorsTrainConfig:
    out: Path = Path("runs/word-vectors")
    size: int = 300  # the paper's Google News vectors are 300-d
    window: int = 5
    epochs: int = 5
    sentences: int = 20_000
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive(self, "size", "window", "epochs", "sentences")


def grammar_sentences(count: int, seed: int) -> list[list[str]]:
    """Captions of random scenes (every colour, shape, size, position and background; both word orders)."""
    rng = np.random.default_rng(seed)
    sentences: list[list[str]] = []
    while len(sentences) < count:
        color, background = (str(c) for c in rng.choice(COLORS, 2, replace=False))
        size = "small" if rng.random() < 0.5 else "big"
        positions = list(POSITION_ANCHORS) if size == "small" else list(BIG_POSITIONS)
        scene = make_scene(str(rng.choice(SHAPES)), color, size, str(rng.choice(positions)), background, rng)
        sentences.append(caption_scene(scene, rng).split())
    return sentences


def main(config: WordVectorsTrainConfig) -> Path:
    """Train, save OUT/vectors.bin and OUT/probe.json (each pooling's probe); return the vectors' path."""
    from gensim.models import Word2Vec

    out = config.out
    target = out / VECTORS_NAME
    if target.exists():
        raise ConfigError(f"'{target}' exists: choose another --out")
    start = time.perf_counter()
    model = Word2Vec(grammar_sentences(config.sentences, config.seed), vector_size=config.size,
                     window=config.window, min_count=1, sg=1, epochs=config.epochs, seed=config.seed,
                     workers=1)  # one worker: the same vectors for a seed  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".{VECTORS_NAME}.tmp"
    model.wv.save_word2vec_format(str(partial), binary=True)
    partial.replace(target)
    probes = [asdict(probe_word_vectors(model.wv, pooling)) for pooling in POOLINGS]
    report = {"settings": json.loads(json.dumps(asdict(config), default=str)), "words": len(model.wv),
              "seconds": round(time.perf_counter() - start, 1), "probes": probes}  # fmt: skip
    save_text(json.dumps(report, indent=2) + "\n", out / "probe.json")
    for probe in probes:
        logger.info("probe (%s): colour %.1f%%, shape %.1f%%", probe["pooling"], 100 * probe["color"],
                    100 * probe["shape"])  # fmt: skip
    return target
