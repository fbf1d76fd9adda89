"""The run commands: transcribe, speak (speech -> image), paint (text -> image) and hear (sound -> image)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import typer

from soundsight.cli.common import (
    ANY_PROMPT,
    ASR_BACKEND,
    ASR_MODEL,
    ATTENTION_SLICING,
    BACKEND,
    CPU_OFFLOAD,
    DEVICE,
    DTYPE,
    GUIDANCE,
    HEIGHT,
    IMAGE_MODEL,
    LANGUAGE,
    LORA,
    NEGATIVE_PROMPT,
    NO_PROGRESS,
    NUM_IMAGES,
    OUT,
    SCHEDULER,
    SEED,
    STEPS,
    STYLE,
    SUBJECT,
    SUBJECT_WORDS,
    TRANSLATE,
    WIDTH,
    attempt,
    audio_inputs,
    lora_setting,
    paint_configs,
    process_state,
    quiet_libraries,
    run_batch,
)  # fmt: skip


def transcribe(
    audio: list[Path] = typer.Argument(..., help="Audio files or folders of them."),
    asr_model: str | None = ASR_MODEL,
    language: str | None = LANGUAGE,
    translate: bool = TRANSLATE,
    timestamps: bool = typer.Option(False, "--timestamps", help="Also give segments with start and end times."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of PATH: transcript."),
    device: str = DEVICE,
    dtype: str = DTYPE,
    backend: str = BACKEND,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Print what is said in each file, one line per file: PATH: transcript."""
    from soundsight import asr as asr_stage
    from soundsight.audio import check_speech, load_audio
    from soundsight.defaults import default_asr_model
    from soundsight.loading import load_asr

    files, failures = audio_inputs(audio)
    quiet_libraries()
    model = attempt(lambda: load_asr(asr_model or default_asr_model(), device=device, dtype=dtype, backend=backend))
    task = "translate" if translate else "transcribe"
    attempt(lambda: asr_stage.check_asr_options(model, task=task, language=language, return_timestamps=timestamps))

    def work(path: Path, _: bool) -> Iterator[str]:
        waveform = load_audio(path)
        check_speech(waveform, f"'{path}'")
        heard = asr_stage.transcribe(waveform, model, task=task, language=language, return_timestamps=timestamps)
        yield json.dumps({"path": str(path), **asdict(heard)}) if as_json else f"{path}: {heard.text}"

    run_batch(files, failures, work, desc="transcribe", progress=not no_progress)


def speak(
    audio: list[Path] = typer.Argument(..., help="Recordings, or folders of them."),
    out: Path = OUT,
    asr_model: str | None = ASR_MODEL,
    image_model: str | None = IMAGE_MODEL,
    language: str | None = LANGUAGE,
    translate: bool = TRANSLATE,
    seed: int = SEED,
    steps: int | None = STEPS,
    guidance: float | None = GUIDANCE,
    negative_prompt: str | None = NEGATIVE_PROMPT,
    style: str | None = STYLE,
    scheduler: str | None = SCHEDULER,
    num_images: int = NUM_IMAGES,
    width: int | None = WIDTH,
    height: int | None = HEIGHT,
    lora: Path | None = LORA,
    subject: str | None = SUBJECT,
    subject_words: str = SUBJECT_WORDS,
    any_prompt: bool = ANY_PROMPT,
    join: bool = typer.Option(
        False, "--join", help="Paint one picture from all the recordings' transcripts joined in order (\"red\" + "
        "\"star\": a red star)."
    ),
    device: str = DEVICE,
    dtype: str = DTYPE,
    backend: str = BACKEND,
    asr_backend: str | None = ASR_BACKEND,
    attention_slicing: bool = ATTENTION_SLICING,
    cpu_offload: bool = CPU_OFFLOAD,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Speak, and see: transcribe each recording, build a prompt, paint it into OUT (with --join, one picture of
    all the recordings said in order).

    Split a large batch over processes or GPUs with `accelerate launch -m soundsight speak ...`.
    """
    from soundsight.asr import check_asr_options
    from soundsight.defaults import default_asr_model, default_image_model
    from soundsight.files import check_output_folder
    from soundsight.generate import check_painter
    from soundsight.loading import load_asr, load_painter
    from soundsight.output import save_generation
    from soundsight.runtime import check_backends
    from soundsight.speech_to_image import speech_to_image

    attempt(lambda: check_output_folder(out))
    attempt(lambda: check_backends(backend, asr_backend))
    image_name = image_model or default_image_model()
    prompt_config, generate_config = paint_configs(image_name, seed, steps, guidance, num_images, width, height,
                                                   scheduler, style, negative_prompt, subject,
                                                   subject_words, any_prompt)  # fmt: skip
    files, failures = audio_inputs(audio)
    state, device = process_state(device)
    quiet_libraries()
    task = "translate" if translate else "transcribe"
    asr = attempt(lambda: load_asr(asr_model or default_asr_model(), device=device, dtype=dtype,
                                   backend=asr_backend or backend))  # fmt: skip
    attempt(lambda: check_asr_options(asr, task=task, language=language))
    painter = attempt(lambda: load_painter(image_name, device=device, dtype=dtype, backend=backend, lora=lora,
                                           attention_slicing=attention_slicing, cpu_offload=cpu_offload))  # fmt: skip
    attempt(lambda: check_painter(painter, generate_config, negative_prompt=bool(negative_prompt),
                                  steps=steps is not None, guidance=guidance is not None))  # fmt: skip

    def work(path: Path, progress: bool) -> Iterator[str]:
        clips = files if join else [path]
        result = speech_to_image(list(clips), asr, painter, task=task, language=language, prompt_config=prompt_config,
                                 generate_config=generate_config, progress=progress)  # fmt: skip
        stem = "+".join(p.stem for p in clips)[:120]
        saved = save_generation(result.generation, out, stem, transcript=result.transcript, source=path,
                                extra=lora_setting(lora))  # fmt: skip
        said = " + ".join(str(p) for p in clips)
        for png in saved:
            yield f"{said}: {result.transcript.text!r} -> {result.prompt.text!r} -> {png}"

    if join and failures:
        attempt(lambda: _refuse_join(failures))
    run_batch(files[:1] if join else files, failures, work, desc="speak", progress=not no_progress, state=state)


def _refuse_join(failures: list[str]) -> None:
    from soundsight.errors import AudioError

    raise AudioError(f"--join needs every recording: {failures[0]}")


def hear(
    sounds: list[Path] = typer.Argument(..., help="Sounds (any audio file), or folders of them."),
    out: Path = OUT,
    adapter: Path | None = typer.Option(
        None, "--adapter", help="A trained audio adapter folder \\[default: the one shipped for our models]."
    ),
    asr_model: str | None = typer.Option(None, "--asr-model", help="Whisper \\[default: the one the adapter names]."),
    image_model: str | None = typer.Option(
        None, "--image-model", help="Stable Diffusion \\[default: the one the adapter names]."
    ),
    seed: int = SEED,
    steps: int | None = STEPS,
    guidance: float | None = GUIDANCE,
    scheduler: str | None = SCHEDULER,
    num_images: int = NUM_IMAGES,
    any_prompt: bool = typer.Option(
        False, "--any-prompt", help="Paint sounds that are none of the adapter's sounds too."
    ),
    device: str = DEVICE,
    dtype: str = DTYPE,
    backend: str = BACKEND,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint what each sound sounds like, with no words in between (a bell rings -> a yellow circle).

    Split a large batch over processes or GPUs with `accelerate launch -m soundsight hear ...`.
    """
    from soundsight.files import check_output_folder
    from soundsight.generate import check_painter
    from soundsight.output import save_generation
    from soundsight.sound_to_image import SoundToImage

    attempt(lambda: check_output_folder(out))
    files, failures = audio_inputs(sounds)
    state, device = process_state(device)
    quiet_libraries()
    s2i = attempt(lambda: SoundToImage.from_pretrained(adapter, asr_model, image_model, device=device,
                                                        dtype=dtype, backend=backend))  # fmt: skip
    _, generate_config = paint_configs(s2i.painter.name, seed, steps, guidance, num_images, scheduler=scheduler)
    attempt(lambda: check_painter(s2i.painter, generate_config, prompt_embeds=True, steps=steps is not None,
                                  guidance=guidance is not None))  # fmt: skip

    def work(path: Path, progress: bool) -> Iterator[str]:
        result = s2i(path, generate_config=generate_config, any_sound=any_prompt, progress=progress)
        for png in save_generation(result.generation, out, path.stem, source=path, extra=result.parameters):
            yield f"{path} -> {png}"

    run_batch(files, failures, work, desc="hear", progress=not no_progress, state=state)


def paint(
    prompt: str = typer.Argument(..., help="What to paint."),
    out: Path = OUT,
    image_model: str | None = IMAGE_MODEL,
    seed: int = SEED,
    steps: int | None = STEPS,
    guidance: float | None = GUIDANCE,
    negative_prompt: str | None = NEGATIVE_PROMPT,
    style: str | None = STYLE,
    scheduler: str | None = SCHEDULER,
    num_images: int = NUM_IMAGES,
    width: int | None = WIDTH,
    height: int | None = HEIGHT,
    lora: Path | None = LORA,
    any_prompt: bool = ANY_PROMPT,
    device: str = DEVICE,
    dtype: str = DTYPE,
    backend: str = BACKEND,
    attention_slicing: bool = ATTENTION_SLICING,
    cpu_offload: bool = CPU_OFFLOAD,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint a text prompt into OUT (no speech involved)."""
    from soundsight.defaults import default_image_model
    from soundsight.files import check_output_folder
    from soundsight.generate import check_painter, generate
    from soundsight.loading import load_painter
    from soundsight.output import save_generation
    from soundsight.prompt import typed_prompt

    attempt(lambda: check_output_folder(out))
    image_name = image_model or default_image_model()
    prompt_config, generate_config = paint_configs(image_name, seed, steps, guidance, num_images, width, height,
                                                   scheduler, style, negative_prompt,
                                                   any_prompt=any_prompt)  # fmt: skip
    text = attempt(lambda: typed_prompt(prompt, prompt_config))
    quiet_libraries()
    painter = attempt(lambda: load_painter(image_name, device=device, dtype=dtype, backend=backend, lora=lora,
                                           attention_slicing=attention_slicing, cpu_offload=cpu_offload))  # fmt: skip
    attempt(lambda: check_painter(painter, generate_config, negative_prompt=bool(negative_prompt),
                                  steps=steps is not None, guidance=guidance is not None))  # fmt: skip
    generation = generate(text, painter, generate_config, progress=not no_progress)
    stem = "-".join(re.findall(r"[a-z0-9]+", prompt.lower())[:6]) or "paint"
    for png in save_generation(generation, out, stem, extra=lora_setting(lora)):
        typer.echo(str(png))
