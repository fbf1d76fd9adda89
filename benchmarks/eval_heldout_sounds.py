"""Does the shipped audio adapter hear sounds nobody here made, and refuse what it cannot paint?

1. The spec's six sound classes from soundsight.heldout.sounds (a second synthesiser written from the spec's table
   alone, never trained on): the sound gate must let each through, then the adapter paints it and the verifier
   reads it back (is the bound scene's colour and shape there?). A refused clip counts as wrong.
2. Our own test clips (`--data`, a `shapes build` folder): the same, on our synthesiser; and (`--varied N`) N clips
   of train/sound_variety.py, our wider readings of the table, from the seed the trainer validates on (never
   trained on): how the adapter does on our own widest data.
3. Real recordings nobody here made (../shared/data/sounds): what the gate says of each, and what a clip it lets
   through paints. Its siren and drum kit should paint their scenes; a cow, a dog, a violin should be refused.
   With a gate, every clip is heard as `hear` hears it: a recording longer than 4 s in the stretch the gate is
   surest of (adapter.gated_states).
Clips are painted as `hear` paints them (in the Spoken Shapes world: snapped to the nearest scene, the picture
checked against it); --raw paints the adapter's embeddings as they are, unchecked: the adapter alone.
Run: python benchmarks/eval_heldout_sounds.py [--per-class N] [--adapter FOLDER] [--data runs/shapes] [--raw]
  [--varied N] [--name heldout_sounds]  ->  benchmarks/results/NAME.json
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from common import write

from soundsight.adapter import clip_states, embed_states, gated_states
from soundsight.audio import load_audio
from soundsight.backends.shapes_world import ShapesWorldPainter
from soundsight.defaults import SHAPES_PAINT
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.heldout.sounds import LABELS, heldout_clips
from soundsight.models.sound_gate import NONE_LABEL
from soundsight.shapes.sounds import read_sounds
from soundsight.sound_to_image import SoundToImage, world_scenes
from soundsight.train.adapter import VARIED_VAL_SEED_OFFSET
from soundsight.train.sound_variety import varied_sounds

SEED = 0
NAME = "heldout_sounds"
RAW = False  # --raw: paint the adapter's embeddings unsnapped and unchecked (the adapter alone)
REAL_SOUNDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sounds"
SCENES = {"bell": "a yellow circle", "siren": "a red triangle", "drum": "a black square", "whistle": "a white star",
          "rain": "a blue heart", "chirp": "a green cross"}  # fmt: skip


def as_heard(s2i: SoundToImage, states: torch.Tensor) -> torch.Tensor | list[str]:
    """What the painter paints for each clip, as `hear` does: the adapter's embeddings, or in the Spoken Shapes
    world the nearest scene's caption (with --raw, always the embeddings)."""
    embeds = embed_states(states, s2i.adapter)
    return embeds if RAW or not isinstance(s2i.painter, ShapesWorldPainter) else world_scenes(embeds, s2i.painter)


def heard(s2i: SoundToImage, waveforms: list[np.ndarray]) -> tuple[torch.Tensor, list[tuple[str, float]] | None]:
    """Each clip's encoder states as `hear` takes them, and the gate's (label, probability) (None: no gate)."""
    if s2i.gate is None:
        return clip_states(waveforms, s2i.asr, s2i.adapter.config.time_pool), None
    return gated_states(waveforms, s2i.asr, s2i.adapter.config.time_pool, s2i.gate)


def judged(s2i: SoundToImage, waveforms: list[np.ndarray], labels: list[str], names: list[str]) -> dict:
    """Gate, paint and read back clips of known classes; per class: share right, refused, misread."""
    states, verdicts = heard(s2i, waveforms)
    gate = [label for label, _ in verdicts] if verdicts is not None else [*labels]
    images = paint_prompts(s2i.painter, as_heard(s2i, states), SHAPES_PAINT, progress=False)
    verdicts = score_painted(images, [SCENES[label] for label in labels], names).verdicts
    right = [v.correct and g != NONE_LABEL for v, g in zip(verdicts, gate, strict=True)]
    per_class = {}
    for label in LABELS:
        mine = [i for i, c in enumerate(labels) if c == label]
        per_class[label] = {
            "right": round(float(np.mean([right[i] for i in mine])), 4),
            "refused": sum(gate[i] == NONE_LABEL for i in mine),
            "misread": Counter(f"{verdicts[i].read.get('color')} {verdicts[i].read.get('shape')}" for i in mine
                               if not verdicts[i].correct).most_common(3),
        }  # fmt: skip
    return {"right": round(float(np.mean(right)), 4), "clips": len(labels), "per_class": per_class}


def real_sounds(s2i: SoundToImage) -> dict:
    files = sorted(REAL_SOUNDS.glob("*.wav"))
    states, verdicts = heard(s2i, [load_audio(f) for f in files])
    gate = verdicts if verdicts is not None else [("(no gate)", 1.0)] * len(files)
    images = paint_prompts(s2i.painter, as_heard(s2i, states), SHAPES_PAINT, progress=False)
    reads = score_painted(images, ["a red circle"] * len(files), [f.stem for f in files]).verdicts
    return {f.stem: {"gate": label, "probability": round(p, 3),
                     "painted": f"{v.read.get('color')} {v.read.get('shape')}" if label != NONE_LABEL else None}
            for f, (label, p), v in zip(files, gate, reads, strict=True)}  # fmt: skip


def main(per_class: int, adapter: str | None, data: Path | None, varied: int) -> None:
    s2i = SoundToImage.from_pretrained(adapter, device="cpu")
    if RAW and isinstance(s2i.painter, ShapesWorldPainter):
        s2i.painter.check_captions = False
    clips = heldout_clips(per_class, seed=SEED)
    results = {"seed": SEED, "clips_per_class": per_class, "adapter": s2i.adapter_name,
               "image_model": s2i.painter.name, "gate": s2i.gate is not None,
               "route": "adapter embeddings, unchecked" if RAW else "as hear paints (snapped to a scene, checked)",
               "paint": {"steps": SHAPES_PAINT.steps, "guidance": SHAPES_PAINT.guidance}}  # fmt: skip
    results["heldout"] = judged(s2i, [c.waveform for c in clips], [c.label for c in clips],
                                [f"{c.label}-{c.index}" for c in clips])  # fmt: skip
    if data is not None:
        ours = read_sounds(data, "test")
        results["own_test"] = judged(s2i, [c.waveform for c in ours], [c.label for c in ours],
                                     [c.path.stem for c in ours])  # fmt: skip
    if varied:
        waveforms, labels = varied_sounds(varied, seed=VARIED_VAL_SEED_OFFSET)  # the trainer's varied val (seed 0)
        results["varied"] = judged(s2i, waveforms, labels, [f"{label}-{i}" for i, label in enumerate(labels)])
    results["real"] = real_sounds(s2i)
    for part in ("heldout", "own_test", "varied"):
        if part in results:
            scores = results[part]
            print(f"{part}: {100 * scores['right']:.1f}% of {scores['clips']} right")
            for label, row in scores["per_class"].items():
                print(f"  {label:8s} {100 * row['right']:5.1f}%  refused {row['refused']}, misread {row['misread']}")
    for name, row in results["real"].items():
        print(f"  real {name:20s} gate {row['gate']:7s} ({row['probability']:.2f})  painted {row['painted']}")
    print(f"wrote {write(NAME, results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=16)
    parser.add_argument("--adapter", default=None)
    parser.add_argument("--data", type=Path, default=None, help="a `shapes build` folder: also score its sounds/test")
    parser.add_argument("--varied", type=int, default=0, help="also score this many of our varied clips (val seed)")
    parser.add_argument("--raw", action="store_true", help="the adapter's embeddings as they are, pictures unchecked")
    parser.add_argument("--name", default="heldout_sounds", help="the results file's name")
    args = parser.parse_args()
    RAW, NAME = args.raw, args.name
    main(args.per_class, args.adapter, args.data, args.varied)
