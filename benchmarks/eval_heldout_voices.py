"""Do our models hear voices nobody here made? Spoken Shapes test captions spoken by two synthesisers we never
train on, festival and flite (Debian's, four and three English voices), through the whole default loop: ASR ->
prompt (snapped to the caption said, as `speak` does for the bundled model; a refused one paints nothing) -> the
bundled image model -> the verifier. WER is on the raw transcript against the spoken text.
Needs `apt-get install festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts flite`.
Run: python benchmarks/eval_heldout_voices.py [--per-voice N] [--asr-model NAME ...]
  ->  benchmarks/results/heldout_voices.json
Or write the clips, as a speech split (16 kHz WAVs, metadata.jsonl with file_name, text, caption, voice), for
`soundsight evaluate routes --heldout DIR`: python benchmarks/eval_heldout_voices.py --write DIR
Or the 14 spoken words in those voices, as a words split (the spec's 16,128-sample window; metadata.jsonl with
file_name, word, voice, snr_db), each word clean and again under white noise at 10-20 dB SNR, for
`soundsight evaluate words`: python benchmarks/eval_heldout_voices.py --write-words DIR
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from common import write

from soundsight.asr import transcribe
from soundsight.audio import load_audio, trim_silence
from soundsight.backends.stackgan import to_canvas
from soundsight.defaults import SHAPES_PAINT, default_asr_model, default_image_model
from soundsight.errors import SoundSightError
from soundsight.evaluate.image_model import paint_prompts, score_painted
from soundsight.evaluate.wer import score_transcripts
from soundsight.files import save_jsonl, save_wav
from soundsight.loading import load_asr, load_painter
from soundsight.mfcc import WORD_WINDOW
from soundsight.prompt import PromptConfig, build_prompt
from soundsight.shapes.plan import plan_item
from soundsight.shapes.words import WORDS

SEED = 7  # not the seed of any build we train on: captions nobody trained on either
VOICES = {  # family -> voice -> command that writes a WAV of TEXT_FILE to OUT
    "festival": {
        "kal_diphone": ["text2wave", "-eval", "(voice_kal_diphone)", "{text}", "-o", "{out}"],
        "ked_diphone": ["text2wave", "-eval", "(voice_ked_diphone)", "{text}", "-o", "{out}"],
        "slt_hts": ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "{text}", "-o", "{out}"],
    },
    "flite": {
        "awb": ["flite", "-voice", "awb", "-f", "{text}", "-o", "{out}"],
        "rms": ["flite", "-voice", "rms", "-f", "{text}", "-o", "{out}"],
        "slt": ["flite", "-voice", "slt", "-f", "{text}", "-o", "{out}"],
        "kal16": ["flite", "-voice", "kal16", "-f", "{text}", "-o", "{out}"],
    },
}


def speak(command: list[str], text: str, folder: Path, name: str) -> Path:
    text_file, out = folder / f"{name}.txt", folder / f"{name}.wav"
    text_file.write_text(text + "\n")
    subprocess.run([part.format(text=text_file, out=out) for part in command], check=True, capture_output=True)
    return out


def main(per_voice: int, asr_models: list[str], image_model: str, results_name: str) -> None:
    painter = load_painter(image_model, device="cpu")
    plans = [plan_item(SEED, "test", i) for i in range(per_voice)]
    models: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {(family, voice, i): speak(command, plan.speech.text, Path(tmp), f"{family}-{voice}-{i}")
                 for family, voices in VOICES.items() for voice, command in voices.items()
                 for i, plan in enumerate(plans)}  # fmt: skip
        for name in asr_models:
            asr = load_asr(name, device="cpu")
            rows, transcripts, prompts, captions, keys, refused = [], [], [], [], [], 0
            heard_by: list[str] = []
            for (family, voice, i), path in clips.items():
                try:
                    transcript = transcribe(load_audio(path), asr, language="en", no_speech_threshold=1.0)
                    heard, heard_by = transcript.text, [*heard_by, transcript.model]
                except SoundSightError:
                    heard, heard_by = "", [*heard_by, "none"]
                try:
                    prompt = build_prompt(heard, PromptConfig(shapes_only=True)).text
                except SoundSightError:
                    prompt, refused = "", refused + 1
                rows.append({"text": plans[i].speech.text, "voice": f"{family}/{voice}", "snr_db": None})
                transcripts.append(heard)
                prompts.append(prompt)
                captions.append(plans[i].caption)
                keys.append((family, voice, i))
            # a refused prompt counts as wrong; some caption in the grammar stands in, which every painter takes
            images = to_canvas(paint_prompts(painter, [p or "a white square" for p in prompts], SHAPES_PAINT,
                                             progress=False))  # read at the spec's 64 px, as every painter is
            verdicts = score_painted(images, captions, [f"{f}-{v}-{i}" for f, v, i in keys]).verdicts
            painted = [bool(p) for p in prompts]
            wer = score_transcripts(rows, transcripts)
            per_family = {}
            for family in VOICES:
                mine = [k for k, key in enumerate(keys) if key[0] == family]
                family_wer = score_transcripts([rows[k] for k in mine], [transcripts[k] for k in mine])
                per_family[family] = {
                    "wer": round(family_wer.wer, 4),
                    "pictures_right": round(float(np.mean([verdicts[k].correct and painted[k] for k in mine])), 4),
                    "clips": len(mine),
                    "per_voice_wer": {v: round(w, 4) for v, w in family_wer.per_voice.items()},
                }
            right = float(np.mean([v.correct and ok for v, ok in zip(verdicts, painted, strict=True)]))
            models[asr.name] = {
                "wer": round(wer.wer, 4),
                "pictures_right": round(right, 4),
                "refused": refused,
                "heard_by": {m: sum(1 for h in heard_by if h == m) for m in sorted(set(heard_by))},
                "per_family": per_family,
                "examples": [
                    {"voice": r["voice"], "spoken": r["text"], "heard": t}
                    for r, t in list(zip(rows, transcripts, strict=True))[::per_voice][:8]
                ],  # fmt: skip
            }
            print(f"{asr.name}: WER {100 * wer.wer:.1f}%, pictures right {100 * right:.1f}%")
            for family, scores in per_family.items():
                wer_pct, right_pct = 100 * float(scores["wer"]), 100 * float(scores["pictures_right"])
                print(f"  {family}: WER {wer_pct:.1f}%, pictures right {right_pct:.1f}%")
    paint = {"steps": SHAPES_PAINT.steps, "guidance": SHAPES_PAINT.guidance}
    report = {"seed": SEED, "per_voice": per_voice, "image_model": image_model, "paint": paint, "models": models}
    print(f"wrote {write(results_name, report)}")


def write_clips(per_voice: int, folder: Path) -> None:
    """Every held-out voice saying the first `per_voice` captions, as a speech split in a new `folder`."""
    folder.mkdir(parents=True)
    plans = [plan_item(SEED, "test", i) for i in range(per_voice)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family, voices in VOICES.items():
            for voice, command in voices.items():
                for i, plan in enumerate(plans):
                    name = f"{family}-{voice}-{i:03d}"
                    waveform = load_audio(speak(command, plan.speech.text, Path(tmp), name))
                    save_wav(waveform, 16_000, folder / f"{name}.wav")
                    rows.append({"file_name": f"{name}.wav", "text": plan.speech.text, "caption": plan.caption,
                                 "voice": f"{family}/{voice}", "snr_db": None})  # fmt: skip
    save_jsonl(rows, folder / "metadata.jsonl")
    print(f"wrote {len(rows)} clips to '{folder}'")


def write_words(folder: Path) -> None:
    """Every held-out voice saying each of the 14 words, clean and noisy, placed in the word window."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family, voices in VOICES.items():
            for voice, command in voices.items():
                for word in WORDS:
                    spoken = trim_silence(load_audio(speak(command, word, Path(tmp), f"{family}-{voice}-{word}")),
                                          keep_start_s=0.0, keep_end_s=0.05)[:WORD_WINDOW]  # fmt: skip
                    for snr_db in (None, float(rng.uniform(10.0, 20.0))):
                        window = np.zeros(WORD_WINDOW, dtype=np.float32)
                        start = int(rng.integers(0, WORD_WINDOW - len(spoken) + 1))
                        window[start : start + len(spoken)] = spoken
                        if snr_db is not None:
                            noise = rng.standard_normal(WORD_WINDOW).astype(np.float32)
                            scale = np.sqrt(np.mean(spoken**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
                            window = np.clip(window + scale * noise, -1.0, 1.0)
                        name = f"{family}-{voice}-{word}-{'clean' if snr_db is None else 'noisy'}.wav"
                        save_wav(window, 16_000, folder / name)
                        rows.append({"file_name": name, "word": word, "voice": f"{family}/{voice}",
                                     "snr_db": None if snr_db is None else round(snr_db, 1)})  # fmt: skip
    save_jsonl(rows, folder / "metadata.jsonl")
    print(f"wrote {len(rows)} clips to '{folder}'")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-voice", type=int, default=24)
    parser.add_argument("--asr-model", action="append", dest="asr_models", default=None)
    parser.add_argument("--write", type=Path, default=None, help="Only write the clips into this new folder.")
    parser.add_argument("--write-words", type=Path, default=None, help="Only write spoken words into this folder.")
    parser.add_argument("--image-model", default=None, help="The painter [default: our SD].")
    parser.add_argument("--name", default="heldout_voices", help="The results file's name in benchmarks/results.")
    args = parser.parse_args()
    if args.write_words is not None:
        write_words(args.write_words)
    elif args.write is not None:
        write_clips(args.per_voice, args.write)
    else:
        main(args.per_voice, args.asr_models or [default_asr_model(), "moonshine"],
             args.image_model or default_image_model(), args.name)
