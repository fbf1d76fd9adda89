"""Class prompts paired with the instance captions, for DreamBooth on the Spoken Shapes subject.

Each distinct caption of the subject's pictures (`soundsight shapes build` writes them to
DIR/subject/metadata.jsonl) is repeated with "sks heart" replaced by a plain heart of every colour the
model was taught (not the held-out purple) that differs from the background the caption names. Printed
one per line, after the 40 grammar captions in docs/dreambooth_class_prompts.txt:

    python docs/make_paired_class_prompts.py runs/shapes/subject > class_prompts.txt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from soundsight.evaluate.shapes import PRIOR_EXCLUDED_COLORS
from soundsight.shapes.captions import parse_caption
from soundsight.shapes.spec import COLORS


def paired_prompts(captions: list[str]) -> list[str]:
    """Each caption with its subject swapped for a plain heart of each allowed colour."""
    prompts = []
    for caption in dict.fromkeys(captions):  # distinct, in order
        background = parse_caption(caption).background
        prompts += [caption.replace("sks heart", f"{color} heart") for color in COLORS
                    if color not in PRIOR_EXCLUDED_COLORS and color != background]  # fmt: skip
    return prompts


def main(subject_dir: Path) -> None:
    rows = [json.loads(line) for line in (subject_dir / "metadata.jsonl").read_text().splitlines() if line.strip()]
    captions = [caption for row in rows for caption in row.get("captions", [row["caption"]])]
    grammar = (Path(__file__).parent / "dreambooth_class_prompts.txt").read_text().splitlines()
    print("\n".join(grammar + paired_prompts(captions)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
