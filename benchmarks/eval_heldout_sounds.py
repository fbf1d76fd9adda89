"""Does the shipped audio adapter hear sounds nobody here made? The spec's six sound classes from
soundsight.heldout.sounds (a second synthesiser written from the spec's table alone, never trained on), painted
through the adapter and read back by the verifier: is the bound scene's colour and shape there?
Run: python benchmarks/eval_heldout_sounds.py [--per-class N] [--adapter FOLDER]
  ->  benchmarks/results/heldout_sounds.json
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
from common import write

from soundsight.adapter import clip_states, embed_states
from soundsight.defaults import SHAPES_PAINT
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.heldout.sounds import LABELS, heldout_clips
from soundsight.sound_to_image import SoundToImage

SEED = 0


def main(per_class: int, adapter: str | None) -> None:
    s2i = SoundToImage.from_pretrained(adapter, device="cpu")
    clips = heldout_clips(per_class, seed=SEED)
    states = clip_states([c.waveform for c in clips], s2i.asr, s2i.adapter.config.time_pool)
    images = paint_prompts(s2i.painter, embed_states(states, s2i.adapter), SHAPES_PAINT, progress=False)
    names = [f"{c.label}-{c.index}" for c in clips]
    verdicts = score_painted(images, [c.scene for c in clips], names).verdicts
    per_class_right = {label: float(np.mean([v.correct for v, c in zip(verdicts, clips, strict=True)
                                             if c.label == label])) for label in LABELS}  # fmt: skip
    # no object read: nothing painted, or an object in the background's own colour (the verifier cannot tell them)
    nothing_read = {label: sum(v.read.get("shape") is None for v, c in zip(verdicts, clips, strict=True)
                               if c.label == label) for label in LABELS}  # fmt: skip
    misread = {label: Counter(f"{v.read.get('color')} {v.read.get('shape')}" for v, c in
                              zip(verdicts, clips, strict=True) if c.label == label and not v.correct).most_common(3)
               for label in LABELS}  # fmt: skip
    overall = float(np.mean([v.correct for v in verdicts]))
    for label in LABELS:
        print(f"{label:8s} {100 * per_class_right[label]:5.1f}%  misread as {misread[label]}")
    print(f"all      {100 * overall:5.1f}% of {len(clips)}; no object read in {sum(nothing_read.values())}")
    results = {"seed": SEED, "clips_per_class": per_class, "adapter": s2i.adapter_name, "image_model": s2i.painter.name,
               "paint": {"steps": SHAPES_PAINT.steps, "guidance": SHAPES_PAINT.guidance},
               "painted_right": round(overall, 4), "per_class": {k: round(v, 4) for k, v in per_class_right.items()},
               "no_object_read": nothing_read, "misread": misread}  # fmt: skip
    print(f"wrote {write('heldout_sounds', results)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=16)
    parser.add_argument("--adapter", default=None)
    args = parser.parse_args()
    main(args.per_class, args.adapter)
