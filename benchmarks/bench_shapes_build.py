"""How fast does Spoken Shapes build, per kind of item, and against the bare libraries?

Scenes: our anti-aliased render + atomic PNG write vs a bare PIL polygon at 64 px saved directly.
Speech: our espeak-ng + resample + degrade + atomic WAV write vs a bare `espeak-ng -w` call with the
same voice, speed, pitch and amplitude.
Whole build: `build_dataset` on all cores, items (one scene + one clip) per second.
Run: python benchmarks/bench_shapes_build.py  ->  benchmarks/results/shapes_build.json
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import peak_rss_mb, rate, write
from PIL import Image, ImageDraw

from soundsight.files import save_png, save_wav
from soundsight.shapes.build import BuildConfig, build_dataset
from soundsight.shapes.plan import plan_item, plan_subject
from soundsight.shapes.render import render_scene
from soundsight.shapes.spec import PALETTE, SAMPLE_RATE
from soundsight.shapes.speech import speak

N_SCENES = 400
N_SPEECH = 60
N_BUILD = 400


def main() -> None:
    plans = [plan_item(0, "train", i) for i in range(max(N_SCENES, N_SPEECH))]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def ours_scenes() -> None:
            for p in plans[:N_SCENES]:
                save_png(render_scene(p.scene), folder / f"{p.stem}.png", overwrite=True)

        def bare_scenes() -> None:
            for p in plans[:N_SCENES]:
                image = Image.new("RGB", (64, 64), PALETTE[p.scene.background])
                cx, cy, r = *p.scene.center_px, p.scene.side_px / 2
                ImageDraw.Draw(image).rectangle([cx - r, cy - r, cx + r, cy + r], fill=PALETTE[p.scene.color])
                image.save(folder / f"bare-{p.stem}.png")

        def ours_subject() -> None:
            for sp in plan_subject(0):
                save_png(render_scene(sp.scene), folder / f"subject-{sp.stem}.png", overwrite=True)

        def ours_speech() -> None:
            for p in plans[:N_SPEECH]:
                save_wav(speak(p.speech), SAMPLE_RATE, folder / f"{p.stem}.wav", overwrite=True)

        def bare_speech() -> None:
            for p in plans[:N_SPEECH]:
                out = folder / f"bare-{p.stem}.wav"
                sp = p.speech
                settings = ["-v", sp.voice, "-s", str(sp.speed_wpm), "-p", str(sp.pitch), "-a", str(sp.amplitude)]
                subprocess.run(["espeak-ng", *settings, "-w", str(out), sp.text], check=True)

        scenes, scenes_bare = rate(ours_scenes, N_SCENES), rate(bare_scenes, N_SCENES)
        speech, speech_bare = rate(ours_speech, N_SPEECH), rate(bare_speech, N_SPEECH)
        subject = rate(ours_subject, 5)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        build_dataset(BuildConfig(out=Path(tmp) / "set", train=N_BUILD, val=0, test=0, novel=0, progress=False))
        build = N_BUILD / (time.perf_counter() - start)

    results = {
        "settings": {"n_scenes": N_SCENES, "n_speech": N_SPEECH, "n_build": N_BUILD, "build_workers": "all cores"},
        "items_per_s": {
            "scene (render + png, 1 process)": round(scenes, 1),
            "scene baseline (bare PIL rectangle + png)": round(scenes_bare, 1),
            "speech (espeak-ng + resample + degrade + wav, 1 process)": round(speech, 1),
            "speech baseline (bare espeak-ng -w)": round(speech_bare, 1),
            "subject render (1 process)": round(subject, 1),
            "whole build, scene + speech per item (all cores)": round(build, 1),
        },
        "time_ratio_to_baseline": {"scene": round(scenes_bare / scenes, 2), "speech": round(speech_bare / speech, 2)},
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    path = write("shapes_build", results)
    for name, value in results["items_per_s"].items():
        print(f"{value:>8.1f} items/s  {name}")
    print(f"time ratio to baseline: {results['time_ratio_to_baseline']}  ->  {path}")


if __name__ == "__main__":
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is not installed: run install.sh first")
    main()
