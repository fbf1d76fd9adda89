"""`soundsight compose`: an image that speaks, a picture that is also a spectrogram, and its sound."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from soundsight.cli.common import DEVICE, NO_PROGRESS, OUT, attempt, quiet_libraries


def compose(
    image_prompt: str = typer.Option(..., "--image-prompt", help='What the picture shows, e.g. "a star".'),
    word: str = typer.Option(..., "--word", help="The word the picture says when played, e.g. red."),
    out: Path = OUT,
    seed: int = typer.Option(0, "--seed", help="Sample i is composed from seed + i."),
    num_images: int = typer.Option(1, "--num-images", help="Samples composed, ranked by our shape and word judges."),
    w: float = typer.Option(0.3, "--w", help="The spectrogram model's share of each noise estimate (0-1)."),
    warm_start: int = typer.Option(0, "--warm-start", help="First steps denoised by the spectrogram model alone."),
    w_end: float = typer.Option(
        0.7, "--w-end", help="w goes linearly from --w (after any warm start) to this by the last step (--w: constant)."
    ),
    steps: int = typer.Option(25, "--steps", help="DDIM steps."),
    image_guidance: float = typer.Option(4.0, "--image-guidance", help="Guidance scale of the image model."),
    audio_guidance: float = typer.Option(8.0, "--audio-guidance", help="Guidance scale of the spectrogram model."),
    audio_prompt: str | None = typer.Option(
        None, "--audio-prompt", help="The spectrogram model's prompt \\[default: the word]."
    ),
    image_model: str | None = typer.Option(None, "--image-model", help="\\[default: our Spoken Shapes model]."),
    spectrogram_model: str | None = typer.Option(
        None, "--spectrogram-model", help="A pipeline, or a folder of unet/ and vae/ \\[default: ours]."
    ),
    vocoder: str | None = typer.Option(
        None, "--vocoder", help="griffin-lim, ours (the shipped one) or a vocoder folder \\[default: griffin-lim]."
    ),
    word_classifier: Path | None = typer.Option(None, "--word-classifier", help="Our audio judge \\[default: ours]."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Compose pictures that are also spectrograms of a spoken word: per sample OUT/STEM.png (64 x 64 grey), the
    WAV played from it, and a JSON sidecar with its settings and scores."""
    from PIL import Image

    from soundsight.compose import ComposeSettings
    from soundsight.files import check_output_folder, save_png, save_text, save_wav
    from soundsight.images_that_speak import ImagesThatSpeak
    from soundsight.spectrogram import SPEC

    attempt(lambda: check_output_folder(out))
    settings = attempt(lambda: ComposeSettings(steps, w, warm_start, w_end, image_guidance, audio_guidance))
    attempt(lambda: _check_request(image_prompt, word, num_images, bundled=spectrogram_model is None))
    quiet_libraries()
    speaking = attempt(
        lambda: ImagesThatSpeak.from_pretrained(
            image_model, spectrogram_model, vocoder, word_classifier=word_classifier, device=device
        )
    )
    seeds = [seed + i for i in range(num_images)]
    results = attempt(lambda: speaking(image_prompt, word, seeds, settings, audio_prompt=audio_prompt,
                                       progress=not no_progress))  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    for result in results:
        stem = _free_stem(out, f"{word}-{result.asked_shape}-{result.composed.seed}")
        sidecar = {
            "image_prompt": image_prompt, "audio_prompt": audio_prompt or word, "word": word,
            "seed": result.composed.seed, "w": w, "w_end": w_end, "warm_start": warm_start,
            "steps": steps,
            "image_guidance": image_guidance, "audio_guidance": audio_guidance, **speaking.names,
            "shape_read": result.shape.shape, "shape_right": result.image_right,
            "word_heard": result.heard.word, "word_right": result.audio_right,
            "consistency_r": round(result.consistency, 4), "rank": result.rank,
        }  # fmt: skip
        save_text(json.dumps(sidecar, indent=2) + "\n", out / f"{stem}.json")
        save_wav(result.composed.waveform, SPEC.sample_rate, out / f"{stem}.wav")
        save_png(Image.fromarray(result.composed.picture, mode="L"), out / f"{stem}.png")
        marks = f"shape {'right' if result.image_right else 'wrong'}, word {'right' if result.audio_right else 'wrong'}"
        typer.echo(f"{out / stem}.png (+ .wav): {marks}, r {result.consistency:.2f}")


def _check_request(image_prompt: str, word: str, num_images: int, *, bundled: bool) -> None:
    """One-line errors, before any model loads, for what cannot be composed."""
    from soundsight.errors import ConfigError
    from soundsight.images_that_speak import asked_shape
    from soundsight.shapes.words import WORDS

    if num_images < 1:
        raise ConfigError(f"--num-images {num_images}: must be at least 1")
    asked_shape(image_prompt)
    if bundled and word not in WORDS:
        raise ConfigError(f"--word {word!r}: the bundled spectrogram model speaks {', '.join(WORDS)}")


def _free_stem(out: Path, stem: str) -> str:
    """`stem`, or with -2, -3 ... appended where any of its files exists: nothing is overwritten."""
    name, n = stem, 1
    while any((out / f"{name}{ext}").exists() for ext in (".png", ".wav", ".json")):
        n += 1
        name = f"{stem}-{n}"
    return name
