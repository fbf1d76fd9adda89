"""The `soundsight` command: a typer front end over the public API, with no logic of its own."""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from tqdm.auto import tqdm

from soundsight.errors import SoundSightError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="SoundSight: speak, and see.")
shapes_app = typer.Typer(no_args_is_help=True, help="Spoken Shapes: build the data set, score pictures.")
train_app = typer.Typer(no_args_is_help=True, help="Train SoundSight's own models from scratch.")
app.add_typer(shapes_app, name="shapes")
app.add_typer(train_app, name="train")

# Options shared by speak, transcribe and paint (one name for one thing across commands).
ASR_MODEL = typer.Option(
    None, "--asr-model", help="Whisper: a Hub id or a local folder, or moonshine \\[default: our Spoken Shapes Whisper]"
)
IMAGE_MODEL = typer.Option(
    None, "--image-model", help="Stable Diffusion: a Hub id or a local folder \\[default: our Spoken Shapes model]."
)
LANGUAGE = typer.Option(None, "--language", help="Language spoken (ISO code, e.g. en, fr); detected if not given.")
TRANSLATE = typer.Option(False, "--translate", help="Translate the speech to English instead of transcribing it.")
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps.")
DTYPE = typer.Option("float32", "--dtype", help="float32, bfloat16 or float16 (float16 falls back to float32 on CPU).")
SEED = typer.Option(0, "--seed", help="Image i is painted from seed + i.")
STEPS = typer.Option(None, "--steps", help="Denoising steps \\[default: 30; 20 for our bundled model].")
GUIDANCE = typer.Option(
    None, "--guidance", help="Classifier-free guidance scale \\[default: 7.5; 4 for our bundled model]."
)
NEGATIVE_PROMPT = typer.Option(None, "--negative-prompt", help="What the image should not show.")
STYLE = typer.Option(None, "--style", help='A template with "{}" for the prompt, e.g. "a watercolor painting of {}".')
SCHEDULER = typer.Option(None, "--scheduler", help="ddim, ddpm, pndm, lms, euler, euler_a, dpm++ or unipc.")
NUM_IMAGES = typer.Option(1, "--num-images", help="Images per prompt.")
WIDTH = typer.Option(None, "--width", help="Image width in pixels (multiple of 8) \\[default: the model's].")
HEIGHT = typer.Option(None, "--height", help="Image height in pixels (multiple of 8) \\[default: the model's].")
LORA = typer.Option(None, "--lora", help="LoRA weights (folder or .safetensors) to load into the image model.")
ATTENTION_SLICING = typer.Option(False, "--attention-slicing", help="Less memory in attention, a little slower.")
CPU_OFFLOAD = typer.Option(False, "--cpu-offload", help="Keep model parts on the CPU until used (GPU only).")
SUBJECT = typer.Option(None, "--subject", help='Personalised subject phrase for "me", e.g. "sks person".')
SUBJECT_WORDS = typer.Option("me,myself", "--subject-words", help="Comma-separated words meaning the subject.")
OUT = typer.Option(..., "--out", "-o", help="Folder for the PNGs and their JSON sidecars.")
NO_PROGRESS = typer.Option(False, "--no-progress", help="Hide progress bars.")

stdout = Console()
_options = {"debug": False}
T = TypeVar("T")


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    typer.echo(f"warning: {message}", err=True)


def _run(call: Callable[[], T]) -> T:
    """Run `call`; a SoundSightError becomes one line on stderr and exit 1 (a traceback with --debug)."""
    try:
        return call()
    except SoundSightError as e:
        if _options["debug"]:
            raise
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None


def _check_new(path: Path | None, force: bool) -> None:
    """Refuse, before any work, to overwrite an output the user did not allow us to replace."""
    if path is not None and path.exists() and not force:
        typer.echo(f"error: '{path}' exists: not overwriting it (use --force)", err=True)
        raise typer.Exit(1)


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens (INFO) on stderr."),
) -> None:
    _options["debug"] = debug
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    warnings.showwarning = _show_warning


@shapes_app.command("build")
def shapes_build(
    out: Path = typer.Option(..., "--out", help="Folder to write the data set into (resumed if it holds one)."),
    train: int = typer.Option(1000, "--train", help="Items in the train split."),
    val: int = typer.Option(100, "--val", help="Items in the val split."),
    test: int = typer.Option(120, "--test", help="Items in the test split (test voices, half noisy)."),
    novel: int = typer.Option(120, "--novel", help="Items in the novel split (held-out colour-shape pairs)."),
    seed: int = typer.Option(0, "--seed"),
    sounds_train: int | None = typer.Option(None, "--sounds-train", help="Sound clips in train; default: --train."),
    sounds_val: int | None = typer.Option(None, "--sounds-val", help="Sound clips in val; default: --val."),
    sounds_test: int | None = typer.Option(None, "--sounds-test", help="Sound clips in test; default: --test."),
    workers: int = typer.Option(0, "--workers", help="Processes; 0 means one per core."),
    force: bool = typer.Option(False, "--force", help="Replace a build made with another seed."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Build a Spoken Shapes data set: scenes, speech, sounds and the DreamBooth subject."""
    from soundsight.shapes.build import BuildConfig, build_dataset

    config = _run(lambda: BuildConfig(out, train, val, test, novel, seed, sounds_train, sounds_val, sounds_test,
                                      workers, force, not no_progress))  # fmt: skip
    report = _run(lambda: build_dataset(config))
    counts = ", ".join(f"{n} {split}" for split, n in report.counts.items())
    counts += "; sounds " + ", ".join(f"{n} {split}" for split, n in config.sound_counts.items())
    made = f"{report.written} made, {report.reused} already there"
    typer.echo(f"built '{report.out}': {counts} ({made}) in {report.elapsed_s:.1f} s")
    if report.failures:
        for failure in report.failures:
            typer.echo(f"failed: {failure}", err=True)
        raise typer.Exit(1)


def _format(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _scores_table(scores: Any) -> Table:
    table = Table(title=f"Spoken Shapes scores ({scores.num_images} images)")
    table.add_column("score")
    table.add_column("accuracy", justify="right")
    table.add_column("images", justify="right")
    for attribute, value in scores.per_attribute.items():
        table.add_row(attribute, _format(value), str(scores.attribute_counts[attribute]))
    table.add_row(
        "all specified attributes", _format(scores.all_attributes), str(sum(not v.subject for v in scores.verdicts))
    )
    for name in ("subject_fidelity", "prompt_fidelity", "prior_preservation"):
        table.add_row(name.replace("_", " "), _format(getattr(scores, name)), "")
    return table


@shapes_app.command("score")
def shapes_score(
    folder: Path = typer.Argument(..., help="Folder of PNGs with metadata.jsonl or a JSON sidecar per PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON instead of a table."),
    report: Path | None = typer.Option(None, "--report", help="Also write every picture's verdict to this JSON file."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --report file."),
) -> None:
    """Read pictures back and score them against their captions."""
    from soundsight.evaluate.shapes import score_folder
    from soundsight.files import save_text

    _check_new(report, force)
    scores = _run(lambda: score_folder(folder))
    summary = {k: v for k, v in asdict(scores).items() if k != "verdicts"}
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        stdout.print(_scores_table(scores))
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report, overwrite=force)
    if scores.failures:
        typer.echo(f"{len(scores.failures)} of {scores.num_images} images could not be scored:", err=True)
        for failure in scores.failures:
            typer.echo(f"  {failure}", err=True)
        raise typer.Exit(1)


@train_app.command("shape-classifier")
def train_shape_classifier(
    out: Path = typer.Option(Path("runs/shape-classifier"), "--out", help="Folder for model.safetensors and its card."),
    num_train: int = typer.Option(40_000, "--num-train", help="Training renders."),
    num_eval: int = typer.Option(3_000, "--num-eval", help="Renders in each evaluation set."),
    epochs: int = typer.Option(8, "--epochs"),
    batch_size: int = typer.Option(256, "--batch-size"),
    learning_rate: float = typer.Option(3e-3, "--learning-rate"),
    p_augment: float = typer.Option(0.5, "--p-augment", help="Share of renders blurred, noised or turned."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    workers: int = typer.Option(0, "--workers", help="Render processes; 0 means one per core."),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Train the verifier's shape classifier on renders of masks."""
    from soundsight.train.shape_classifier import ShapeClassifierTrainConfig
    from soundsight.train.shape_classifier import main as train

    logging.getLogger("soundsight").setLevel(logging.INFO)
    config = _run(lambda: ShapeClassifierTrainConfig(out, num_train, num_eval, epochs, batch_size, learning_rate,
                                                     p_augment, seed, device, workers, not no_progress))  # fmt: skip
    card = _run(lambda: train(config))
    accuracy = ", ".join(f"{k} {_format(v)}" for k, v in card["accuracy"].items())
    typer.echo(f"saved '{out}': accuracy {accuracy}")


def _quiet_libraries() -> None:
    """Keep transformers' and diffusers' own notices and loading bars off the user's terminal (unless -v)."""
    if logging.getLogger().level <= logging.INFO:
        return
    import diffusers
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    diffusers.logging.set_verbosity_error()
    diffusers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")


def _audio_inputs(paths: list[Path]) -> list[Path]:
    """Files as given; a folder stands for the audio files in it (sorted)."""
    from soundsight.audio import AUDIO_SUFFIXES

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
        else:
            files.append(path)
    return files


def _readable(files: list[Path]) -> tuple[list[Path], list[str]]:
    """Split files into those libsndfile can read and one failure line for each of the rest."""
    from soundsight.audio import check_audio_file
    from soundsight.errors import AudioError

    good, failures = [], []
    for path in files:
        try:
            good.append(check_audio_file(path))
        except AudioError as e:
            failures.append(str(e))
    return good, failures


def _finish(failures: list[str]) -> None:
    """One line on stderr per input that failed, then exit 1 if any did."""
    for failure in failures:
        typer.echo(f"error: {failure}", err=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def transcribe(
    audio: list[Path] = typer.Argument(..., help="Audio files or folders of them."),
    asr_model: str | None = ASR_MODEL,
    language: str | None = LANGUAGE,
    translate: bool = TRANSLATE,
    timestamps: bool = typer.Option(False, "--timestamps", help="Also give segments with start and end times."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file instead of PATH: transcript."),
    device: str = DEVICE,
    dtype: str = DTYPE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Print what is said in each file, one line per file: PATH: transcript."""
    from soundsight import asr as asr_stage
    from soundsight.audio import check_speech, load_audio
    from soundsight.loading import load_asr
    from soundsight.speech_to_image import default_asr_model

    files = _audio_inputs(audio)
    good, failures = _readable(files)
    if not good:
        _finish(failures)
    _quiet_libraries()
    model = _run(lambda: load_asr(asr_model or default_asr_model(), device=device, dtype=dtype))
    task = "translate" if translate else "transcribe"
    for path in tqdm(good, unit="file", desc="transcribe", disable=no_progress or len(good) < 2):
        try:
            waveform = load_audio(path)
            check_speech(waveform, f"'{path}'")
            heard = asr_stage.transcribe(waveform, model, task=task, language=language, return_timestamps=timestamps)
        except SoundSightError as e:
            failures.append(f"{path}: {e}" if str(path) not in str(e) else str(e))
            continue
        if as_json:
            typer.echo(json.dumps({"path": str(path), **asdict(heard)}))
        else:
            typer.echo(f"{path}: {heard.text}")
    _finish(failures)


def _configs(
    image_model: str, seed: int, steps: int | None, guidance: float | None, num_images: int, width: int | None,
    height: int | None, scheduler: str | None, style: str | None, negative_prompt: str | None, subject: str | None,
    subject_words: str,
) -> tuple[Any, Any]:  # fmt: skip
    from soundsight.generate import GenerateConfig
    from soundsight.prompt import PromptConfig
    from soundsight.speech_to_image import default_generate_config

    defaults = default_generate_config(image_model)
    steps = defaults.steps if steps is None else steps
    guidance = defaults.guidance if guidance is None else guidance

    words = tuple(w.strip() for w in subject_words.split(",") if w.strip())
    prompt_config = _run(lambda: PromptConfig(style, negative_prompt, subject, words))
    generate_config = _run(lambda: GenerateConfig(steps, guidance, num_images, seed, width, height, scheduler))
    return prompt_config, generate_config


@app.command()
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
    device: str = DEVICE,
    dtype: str = DTYPE,
    attention_slicing: bool = ATTENTION_SLICING,
    cpu_offload: bool = CPU_OFFLOAD,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Speak, and see: transcribe each recording, build a prompt, paint it into OUT.

    Split a large batch over processes or GPUs with `accelerate launch -m soundsight speak ...`.
    """
    from accelerate import PartialState

    from soundsight.loading import load_asr, load_pipeline
    from soundsight.output import save_generation
    from soundsight.speech_to_image import default_asr_model, default_image_model, speech_to_image

    image_name = image_model or default_image_model()
    prompt_config, generate_config = _configs(image_name, seed, steps, guidance, num_images, width, height,
                                              scheduler, style, negative_prompt, subject, subject_words)  # fmt: skip
    files = _audio_inputs(audio)
    good, failures = _readable(files)
    if not good:
        _finish(failures)
    state = PartialState(cpu=device == "cpu")
    if state.num_processes > 1 and device == "auto":
        device = str(state.device)
    _quiet_libraries()
    asr = _run(lambda: load_asr(asr_model or default_asr_model(), device=device, dtype=dtype))
    pipe = _run(lambda: load_pipeline(image_name, device=device, dtype=dtype, lora=lora,
                                      attention_slicing=attention_slicing, cpu_offload=cpu_offload))  # fmt: skip
    show = not no_progress and state.is_local_main_process
    with state.split_between_processes(good) as mine:
        for path in tqdm(mine, unit="file", desc="speak", disable=not show):
            try:
                result = speech_to_image(path, asr, pipe, image_model=image_name,
                                         task="translate" if translate else "transcribe", language=language,
                                         prompt_config=prompt_config, generate_config=generate_config,
                                         progress=show and len(mine) == 1)  # fmt: skip
            except SoundSightError as e:
                failures.append(str(e) if str(path) in str(e) else f"'{path}': {e}")
                continue
            saved = save_generation(result.generation, out, path.stem, transcript=result.transcript, source=path,
                                    extra=_lora_setting(lora))  # fmt: skip
            for png in saved:
                typer.echo(f"{path}: {result.transcript.text!r} -> {result.prompt.text!r} -> {png}")
    _finish(failures)


@app.command()
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
    device: str = DEVICE,
    dtype: str = DTYPE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint what each sound sounds like, with no words in between (a bell rings -> a yellow circle).

    Split a large batch over processes or GPUs with `accelerate launch -m soundsight hear ...`.
    """
    from accelerate import PartialState

    from soundsight.output import save_generation
    from soundsight.sound_to_image import SoundToImage

    files = _audio_inputs(sounds)
    good, failures = _readable(files)
    if not good:
        _finish(failures)
    state = PartialState(cpu=device == "cpu")
    if state.num_processes > 1 and device == "auto":
        device = str(state.device)
    _quiet_libraries()
    s2i = _run(lambda: SoundToImage.from_pretrained(adapter, asr_model, image_model, device=device, dtype=dtype))
    _, generate_config = _configs(s2i.image_model, seed, steps, guidance, num_images, None, None, scheduler, None,
                                  None, None, "")  # fmt: skip
    show = not no_progress and state.is_local_main_process
    with state.split_between_processes(good) as mine:
        for path in tqdm(mine, unit="file", desc="hear", disable=not show):
            try:
                result = s2i(path, generate_config=generate_config, progress=show and len(mine) == 1)
            except SoundSightError as e:
                failures.append(str(e) if str(path) in str(e) else f"'{path}': {e}")
                continue
            extra = {"Sound": str(path), "Adapter": result.adapter}
            for png in save_generation(result.generation, out, path.stem, source=path, extra=extra):
                typer.echo(f"{path} -> {png}")
    _finish(failures)


@app.command()
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
    device: str = DEVICE,
    dtype: str = DTYPE,
    attention_slicing: bool = ATTENTION_SLICING,
    cpu_offload: bool = CPU_OFFLOAD,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint a text prompt into OUT (no speech involved)."""
    from soundsight.generate import generate
    from soundsight.loading import load_pipeline
    from soundsight.output import save_generation
    from soundsight.prompt import Prompt
    from soundsight.speech_to_image import default_image_model

    image_name = image_model or default_image_model()
    prompt_config, generate_config = _configs(image_name, seed, steps, guidance, num_images, width, height,
                                              scheduler, style, negative_prompt, None, "")  # fmt: skip
    if not prompt.strip():
        typer.echo("error: the prompt is empty", err=True)
        raise typer.Exit(1)
    text = style.format(prompt.strip()) if style else prompt.strip()
    _quiet_libraries()
    pipe = _run(lambda: load_pipeline(image_name, device=device, dtype=dtype, lora=lora,
                                      attention_slicing=attention_slicing, cpu_offload=cpu_offload))  # fmt: skip
    generation = generate(Prompt(text, negative_prompt, prompt), pipe, generate_config, model=image_name,
                          progress=not no_progress)  # fmt: skip
    stem = "-".join(re.findall(r"[a-z0-9]+", prompt.lower())[:6]) or "paint"
    for png in save_generation(generation, out, stem, extra=_lora_setting(lora)):
        typer.echo(str(png))


@train_app.command("asr")
def train_asr(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `soundsight shapes build` folder."),
    out: Path = typer.Option(Path("runs/asr"), "--out", help="Run folder: checkpoints, log, final model in out/model."),
    tokenizer: Path = typer.Option(
        Path("../shared/data/tokenizers/multilingual.tiktoken"), "--tokenizer", help="OpenAI's multilingual.tiktoken."
    ),
    context_s: int = typer.Option(8, "--context-s", help="Audio window in seconds (OpenAI's models: 30)."),
    d_model: int = typer.Option(128, "--d-model"),
    encoder_layers: int = typer.Option(3, "--encoder-layers"),
    decoder_layers: int = typer.Option(2, "--decoder-layers"),
    attention_heads: int = typer.Option(4, "--attention-heads"),
    ffn_dim: int = typer.Option(512, "--ffn-dim"),
    steps: int = typer.Option(3000, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Global batch, split over processes."),
    learning_rate: float = typer.Option(1.5e-3, "--learning-rate"),
    warmup_steps: int = typer.Option(200, "--warmup-steps"),
    checkpoint_every: int = typer.Option(200, "--checkpoint-every"),
    keep_checkpoints: int = typer.Option(2, "--keep-checkpoints"),
    validate_every: int = typer.Option(500, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every", help="Steps between lines of out/log.jsonl."),
    seed: int = typer.Option(0, "--seed"),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no, bf16 or fp16."),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train a Whisper from scratch on Spoken Shapes speech; run again to resume after a stop."""
    from soundsight.train.asr import AsrTrainConfig
    from soundsight.train.asr import main as train

    logging.getLogger("soundsight").setLevel(logging.INFO)
    _quiet_libraries()
    config = _run(lambda: AsrTrainConfig(
        data=data, out=out, tokenizer=tokenizer, context_s=context_s, d_model=d_model, encoder_layers=encoder_layers,
        decoder_layers=decoder_layers, attention_heads=attention_heads, ffn_dim=ffn_dim, steps=steps,
        batch_size=batch_size, learning_rate=learning_rate, warmup_steps=warmup_steps,
        checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, validate_every=validate_every,
        log_every=log_every, seed=seed,
        mixed_precision=mixed_precision, progress=not no_progress,
    ))  # fmt: skip
    final = _run(lambda: train(config))
    typer.echo(f"saved '{final}'")


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected comma-separated integers", param_hint=name) from None
    return values


@train_app.command("image")
def train_image(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `soundsight shapes build` folder."),
    out: Path = typer.Option(Path("runs/image"), "--out", help="Run folder: vae/, diffusion/, the pipeline in model/."),
    stage: str = typer.Option("all", "--stage", help="vae, diffusion, or all (vae then diffusion)."),
    tokenizer: Path = typer.Option(
        Path("../shared/data/tokenizers/bpe_simple_vocab_16e6.txt.gz"), "--tokenizer", help="OpenAI's CLIP BPE file."
    ),
    vae_channels: str = typer.Option(
        "16,32,64", "--vae-channels", help="Per level; each level after the first halves the side."
    ),
    unet_channels: str = typer.Option("64,128,128", "--unet-channels"),
    text_width: int = typer.Option(128, "--text-width"),
    text_layers: int = typer.Option(3, "--text-layers"),
    vae_steps: int = typer.Option(3000, "--vae-steps"),
    vae_batch_size: int = typer.Option(32, "--vae-batch-size"),
    steps: int = typer.Option(20_000, "--steps", help="Diffusion steps (text encoder and UNet)."),
    batch_size: int = typer.Option(64, "--batch-size", help="Global diffusion batch, split over processes."),
    learning_rate: float = typer.Option(8e-4, "--learning-rate", help="Diffusion learning rate."),
    guidance: float = typer.Option(4.0, "--guidance", help="Classifier-free guidance of the validation images."),
    ema_decay: float = typer.Option(
        0.999, "--ema-decay", help="EMA of the diffusion weights (about 1/(1-decay) steps averaged); 0 turns it off."
    ),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(1000, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    vae: Path | None = typer.Option(None, "--vae", help="Diffusion stage: this trained VAE instead of OUT/vae/model."),
    init_from: Path | None = typer.Option(
        None,
        "--init-from",
        help="Diffusion stage: start from this pipeline's text encoder and UNet (e.g. the shipped one).",
    ),
    vae_mixed_precision: str = typer.Option(
        "no", "--vae-mixed-precision", help="no, bf16 or fp16: bf16 pays only on GPUs and CPUs with AMX (measure)."
    ),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="Diffusion: no, bf16 or fp16 (measure)."),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train a Stable Diffusion from scratch on Spoken Shapes: the VAE, then text encoder and UNet.
    Run again to resume after a stop."""
    from soundsight.models.image_model import ImageModelConfig
    from soundsight.train import diffusion
    from soundsight.train import vae as vae_stage

    if stage not in ("vae", "diffusion", "all"):
        typer.echo(f"error: --stage {stage!r}: expected vae, diffusion or all", err=True)
        raise typer.Exit(1)
    logging.getLogger("soundsight").setLevel(logging.INFO)
    _quiet_libraries()
    model = _run(lambda: ImageModelConfig(vae_channels=_ints(vae_channels, "--vae-channels"),
                                          unet_channels=_ints(unet_channels, "--unet-channels"),
                                          text_width=text_width, text_layers=text_layers))  # fmt: skip
    if stage in ("vae", "all"):
        vae_config = _run(lambda: vae_stage.VaeTrainConfig(
            data=data, out=out / "vae", model=model, steps=vae_steps, batch_size=vae_batch_size,
            checkpoint_every=checkpoint_every, log_every=log_every, seed=seed,
            mixed_precision=vae_mixed_precision, progress=not no_progress,
        ))  # fmt: skip
        typer.echo(f"saved '{_run(lambda: vae_stage.main(vae_config))}'")
        from accelerate.state import AcceleratorState

        # The two stages may ask for different mixed precision; accelerate keeps one per process otherwise.
        AcceleratorState._reset_state()
    if stage in ("diffusion", "all"):
        diffusion_config = _run(lambda: diffusion.DiffusionTrainConfig(
            data=data, out=out / "diffusion", vae=vae or out / "vae" / "model", tokenizer=tokenizer, model=model,
            init_from=init_from,
            steps=steps, batch_size=batch_size, learning_rate=learning_rate, guidance=guidance, ema_decay=ema_decay,
            checkpoint_every=checkpoint_every, validate_every=validate_every, log_every=log_every, seed=seed,
            mixed_precision=mixed_precision, progress=not no_progress,
        ))  # fmt: skip
        typer.echo(f"saved '{_run(lambda: diffusion.main(diffusion_config))}'")


@train_app.command("vae-decoder")
def train_vae_decoder(
    vae: Path = typer.Option(..., "--vae", help="A trained VAE folder, e.g. the shipped model's vae/."),
    out: Path = typer.Option(Path("runs/vae-decoder"), "--out", help="Checkpoints, log.jsonl, the VAE in model/."),
    data: Path | None = typer.Option(None, "--data", help="A `shapes build` folder: checks its val scenes still read."),
    steps: int = typer.Option(1500, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Half plain scenes, half checkered objects."),
    learning_rate: float = typer.Option(3e-4, "--learning-rate"),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(250, "--validate-every", help="0: never."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Teach a trained VAE's decoder patterned objects (checkerboards), its encoder and latents unchanged.
    Run again to resume after a stop."""
    from soundsight.train import vae_decoder

    logging.getLogger("soundsight").setLevel(logging.INFO)
    _quiet_libraries()
    config = _run(lambda: vae_decoder.DecoderTrainConfig(
        vae=vae, out=out, data=data, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
        checkpoint_every=checkpoint_every, validate_every=validate_every, log_every=log_every, seed=seed,
        progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{_run(lambda: vae_decoder.main(config))}'")


@train_app.command("adapter")
def train_adapter(
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `shapes build` folder with sounds/."),
    out: Path = typer.Option(Path("runs/adapter"), "--out", help="Checkpoints, log.jsonl, the adapter in model/."),
    asr_model: str | None = typer.Option(None, "--asr-model", help="Whisper whose encoder hears \\[default: ours]."),
    image_model: str | None = IMAGE_MODEL,
    width: int = typer.Option(192, "--width", help="The adapter's width."),
    layers: int = typer.Option(2, "--layers", help="Cross-attention blocks."),
    heads: int = typer.Option(4, "--heads"),
    steps: int = typer.Option(2000, "--steps"),
    batch_size: int = typer.Option(32, "--batch-size", help="Global batch, split over processes."),
    learning_rate: float = typer.Option(3e-4, "--learning-rate"),
    cosine_weight: float = typer.Option(1.0, "--cosine-weight", help="Loss = MSE + this x (1 - cosine)."),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every"),
    validate_every: int = typer.Option(250, "--validate-every", help="0: only at the end."),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Train the audio adapter: sounds -> the text-encoder states of the scenes they are bound to.
    Run again to resume after a stop; `accelerate launch -m soundsight train adapter ...` for several processes."""
    from soundsight.train import adapter

    logging.getLogger("soundsight").setLevel(logging.INFO)
    _quiet_libraries()
    config = _run(lambda: adapter.AdapterTrainConfig(
        data=data, out=out, asr_model=asr_model, image_model=image_model, width=width, layers=layers, heads=heads,
        steps=steps, batch_size=batch_size, learning_rate=learning_rate, cosine_weight=cosine_weight,
        checkpoint_every=checkpoint_every, validate_every=validate_every, log_every=log_every, seed=seed,
        device=device, progress=not no_progress,
    ))  # fmt: skip
    typer.echo(f"saved '{_run(lambda: adapter.main(config))}'")


@train_app.command("dreambooth")
def train_dreambooth(
    instance_dir: Path = typer.Option(..., "--instance-dir", help="3-20 JPEG/PNG pictures of the subject, any size."),
    instance_prompt: str = typer.Option(..., "--instance-prompt", help='E.g. "a photo of sks person".'),
    output_dir: Path = typer.Option(..., "--output-dir", help="Checkpoints, class images, then the result."),
    pretrained_model: str | None = typer.Option(
        None, "--pretrained-model", help="Base Stable Diffusion (Hub id or folder); default: the bundled model."
    ),
    class_dir: Path | None = typer.Option(None, "--class-dir", help="Class pictures; default OUTPUT_DIR/class_images."),
    class_prompt: list[str] = typer.Option(
        [], "--class-prompt", help='E.g. "a photo of a person"; repeat it and the class pictures cycle through them.'
    ),
    with_prior_preservation: bool = typer.Option(False, "--with-prior-preservation"),
    prior_loss_weight: float = typer.Option(1.0, "--prior-loss-weight"),
    num_class_images: int = typer.Option(
        100, "--num-class-images", help="Painted with the base model when the class folder holds fewer."
    ),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters instead of the whole UNet."),
    rank: int = typer.Option(4, "--rank", help="LoRA rank."),
    lora_alpha: int | None = typer.Option(None, "--lora-alpha", help="LoRA alpha; default: the rank."),
    lora_modules: str | None = typer.Option(
        None,
        "--lora-modules",
        help="UNet layers given LoRA adapters, comma-separated names; add conv1,conv2 for the ResNet convolutions "
        "\\[default: the attention projections, to_q,to_k,to_v,to_out.0].",
    ),
    train_text_encoder: bool = typer.Option(False, "--train-text-encoder", help="Also the text encoder (or its LoRA)."),
    resolution: int | None = typer.Option(None, "--resolution", help="Default: what the model paints."),
    pad: bool = typer.Option(False, "--pad", help="Pad pictures to a square instead of centre-cropping."),
    use_captions: bool = typer.Option(
        False,
        "--use-captions",
        help="Each instance picture with its caption (or one of its captions, drawn each step) from "
        "INSTANCE_DIR/metadata.jsonl.",
    ),
    use_crops: bool = typer.Option(
        False,
        "--use-crops",
        help='Also train on the crops a picture\'s row in INSTANCE_DIR/metadata.jsonl lists ("crops": each a "box" '
        '(left, top, right, bottom) and its "captions"), e.g. close-ups of a small subject.',
    ),
    batch_size: int = typer.Option(1, "--train-batch-size", help="Instance pictures per step and process."),
    gradient_accumulation_steps: int = typer.Option(1, "--gradient-accumulation-steps"),
    max_train_steps: int = typer.Option(400, "--max-train-steps"),
    learning_rate: float = typer.Option(5e-6, "--learning-rate"),
    lr_scheduler: str = typer.Option("constant", "--lr-scheduler", help="constant, cosine, linear, ..."),
    lr_warmup_steps: int = typer.Option(0, "--lr-warmup-steps"),
    use_8bit_adam: bool = typer.Option(False, "--use-8bit-adam", help="Where bitsandbytes is installed."),
    mixed_precision: str = typer.Option("no", "--mixed-precision", help="no, bf16 or fp16 (fp16 needs a GPU)."),
    gradient_checkpointing: bool = typer.Option(False, "--gradient-checkpointing"),
    checkpointing_steps: int = typer.Option(100, "--checkpointing-steps"),
    checkpoints_total_limit: int = typer.Option(2, "--checkpoints-total-limit", help="Older checkpoints are deleted."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the newest checkpoint in OUTPUT_DIR."),
    validation_prompt: list[str] = typer.Option([], "--validation-prompt", help="Repeat for several."),
    validation_steps: int = typer.Option(100, "--validation-steps"),
    log_every: int = typer.Option(10, "--log-every"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Teach an image model a subject from a few pictures (DreamBooth), full or LoRA, with prior preservation."""
    from soundsight.speech_to_image import default_image_model
    from soundsight.train import dreambooth

    logging.getLogger("soundsight").setLevel(logging.INFO)
    _quiet_libraries()
    modules = tuple(m.strip() for m in lora_modules.split(",")) if lora_modules else dreambooth.LORA_UNET_MODULES
    config = _run(lambda: dreambooth.DreamBoothConfig(
        pretrained_model=pretrained_model or default_image_model(), instance_dir=instance_dir,
        instance_prompt=instance_prompt, output_dir=output_dir, class_dir=class_dir, class_prompts=tuple(class_prompt),
        with_prior_preservation=with_prior_preservation, prior_loss_weight=prior_loss_weight,
        num_class_images=num_class_images, lora=lora, rank=rank, lora_alpha=lora_alpha,
        train_text_encoder=train_text_encoder, resolution=resolution, fit="pad" if pad else "crop",
        use_captions=use_captions, use_crops=use_crops, batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        max_train_steps=max_train_steps, learning_rate=learning_rate, lr_scheduler=lr_scheduler,
        lr_warmup_steps=lr_warmup_steps, use_8bit_adam=use_8bit_adam, mixed_precision=mixed_precision,
        gradient_checkpointing=gradient_checkpointing, checkpointing_steps=checkpointing_steps, resume=resume,
        keep_checkpoints=checkpoints_total_limit, validation_prompts=tuple(validation_prompt),
        validation_steps=validation_steps, log_every=log_every,
        seed=seed, device=device,
        progress=not no_progress,
        lora_modules=modules,
    ))  # fmt: skip
    typer.echo(f"saved '{_run(lambda: dreambooth.main(config))}'")


evaluate_app = typer.Typer(no_args_is_help=True, help="Score models on Spoken Shapes.")
app.add_typer(evaluate_app, name="evaluate")


@evaluate_app.command("asr")
def evaluate_asr(
    speech_dir: Path = typer.Argument(..., help="A built speech split, e.g. runs/shapes/speech/test."),
    asr_model: str | None = ASR_MODEL,
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N clips."),
    report: Path | None = typer.Option(None, "--report", help="Write the scores and every error to this JSON file."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --report file."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Word error rate against the spoken text: overall, clean, noisy and per voice."""
    from soundsight.evaluate.wer import score_split
    from soundsight.files import save_text
    from soundsight.loading import load_asr
    from soundsight.speech_to_image import default_asr_model

    _check_new(report, force)
    _quiet_libraries()
    model = _run(lambda: load_asr(asr_model or default_asr_model(), device=device))
    scores = _run(lambda: score_split(model, speech_dir, limit=limit, progress=not no_progress))
    table = Table(title=f"WER on '{speech_dir}' ({scores.num_clips} clips, {model.name})")
    table.add_column("part")
    table.add_column("WER", justify="right")
    for name, value in [("all", scores.wer), ("clean", scores.wer_clean), ("noisy", scores.wer_noisy),
                        ("noisy 5-10 dB", scores.wer_low_snr),
                        *((f"voice {v}", w) for v, w in scores.per_voice.items())]:  # fmt: skip
        table.add_row(name, _format(value))
    stdout.print(table)
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report, overwrite=force)


def _lora_setting(lora: Path | None) -> dict[str, str] | None:
    """The LoRA weights a picture was painted with, for its parameters and sidecar."""
    return {"LoRA": str(lora)} if lora is not None else None


def _painter(image_model: str | None, device: str, lora: Path | None = None) -> Any:
    from soundsight.loading import load_pipeline
    from soundsight.speech_to_image import default_image_model

    pipe = _run(lambda: load_pipeline(image_model or default_image_model(), device=device, lora=lora))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@evaluate_app.command("image")
def evaluate_image(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder."),
    out: Path = OUT,
    split: str = typer.Option("test", "--split", help="test, novel, val or train."),
    image_model: str | None = IMAGE_MODEL,
    steps: int = typer.Option(20, "--steps", help="Denoising steps."),
    guidance: float = typer.Option(4.0, "--guidance", help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, "--seed", help="Caption i is painted from seed + i."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N captions."),
    report: Path | None = typer.Option(None, "--report", help="Also write every picture's verdict to this JSON file."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint every caption of a split and score the pictures: OUT/images (PNGs, metadata.jsonl), OUT/grid.png."""
    from soundsight.evaluate.image_model import PaintSettings, paint_prompts, save_grid, save_painted, score_painted
    from soundsight.files import read_jsonl, save_text

    if out.exists():
        typer.echo(f"error: '{out}' exists: name a new folder", err=True)
        raise typer.Exit(1)
    _check_new(report, False)
    _quiet_libraries()
    metadata = data / "scenes" / split / "metadata.jsonl"
    if not metadata.is_file():
        typer.echo(f"error: '{metadata.parent}': no metadata.jsonl (build it with soundsight shapes build)", err=True)
        raise typer.Exit(1)
    rows = [{"file_name": r["file_name"], "caption": r["caption"]} for r in read_jsonl(metadata)[:limit]]
    pipe = _painter(image_model, device)
    settings = PaintSettings(steps=steps, guidance=guidance, seed=seed)
    images = _run(lambda: paint_prompts(pipe, [r["caption"] for r in rows], settings, progress=not no_progress))
    scores = score_painted(images, [r["caption"] for r in rows], [r["file_name"] for r in rows])
    save_painted(out / "images", images, rows)
    save_grid(images, scores, [r["caption"] for r in rows], out / "grid.png")
    stdout.print(_scores_table(scores))
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report)


@evaluate_app.command("adapter")
def evaluate_adapter(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder with sounds/."),
    out: Path = OUT,
    adapter: Path | None = typer.Option(None, "--adapter", help="An adapter folder \\[default: the shipped one]."),
    split: str = typer.Option("test", "--split", help="test, val or train."),
    steps: int = typer.Option(20, "--steps", help="Denoising steps."),
    guidance: float = typer.Option(4.0, "--guidance", help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, "--seed", help="Sound i is painted from seed + i."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N sounds."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint every sound of a split through the adapter, and through classify -> caption -> paint, and score
    both: OUT/scores.json, OUT/adapter_grid.png, OUT/two_stage_grid.png."""
    from soundsight.evaluate.adapter import evaluate_adapter as evaluate
    from soundsight.evaluate.image_model import PaintSettings, save_grid
    from soundsight.files import save_jsonl, save_text
    from soundsight.sound_to_image import SoundToImage

    if out.exists():
        typer.echo(f"error: '{out}' exists: name a new folder", err=True)
        raise typer.Exit(1)
    _quiet_libraries()
    s2i = _run(lambda: SoundToImage.from_pretrained(adapter, device=device))
    settings = PaintSettings(steps=steps, guidance=guidance, seed=seed)
    result = _run(lambda: evaluate(s2i.asr, s2i.adapter, s2i.pipe, data, split=split, settings=settings, limit=limit,
                                   progress=not no_progress))  # fmt: skip
    scenes = [c.scene for c in result.clips]
    labels = [f"{c.label} -> {c.scene}" for c in result.clips]
    save_grid(result.adapter_images, result.adapter_verdicts, labels, out / "adapter_grid.png")
    heard = [f"{c.label} as {p}" for c, p in zip(result.clips, result.predicted_labels, strict=True)]
    save_grid(result.two_stage_images, result.two_stage_verdicts, heard, out / "two_stage_grid.png")
    save_text(json.dumps(asdict(result.scores), indent=1) + "\n", out / "scores.json")
    adapter_right = {v.name: v.correct for v in result.adapter_verdicts.verdicts}
    two_stage_right = {v.name: v.correct for v in result.two_stage_verdicts.verdicts}
    rows = [{"file": str(c.path), "label": c.label, "scene": c.scene, "adapter_right": adapter_right[c.path.name],
             "cosine": round(cosine, 4), "classified_as": predicted, "two_stage_right": two_stage_right[c.path.name]}
            for c, predicted, cosine in zip(result.clips, result.predicted_labels, result.cosines,
                                            strict=True)]  # fmt: skip
    save_jsonl(rows, out / "verdicts.jsonl")
    table = Table(title=f"Sound -> image on {result.scores.num_sounds} {split} sounds ({len(set(scenes))} scenes)")
    for column in ("sound", "adapter: painted right", "adapter: cosine", "two-stage: painted right"):
        table.add_column(column)
    s = result.scores
    for label in s.painted_per_label:
        table.add_row(label, _format(s.painted_per_label[label]), f"{s.cosine_per_label[label]:.3f}",
                      _format(s.two_stage_per_label[label]))  # fmt: skip
    table.add_row("all", _format(s.painted), f"{s.cosine:.3f}", _format(s.two_stage_painted))
    stdout.print(table)
    typer.echo(
        f"two-stage classifier accuracy {_format(s.two_stage_classified)} (caption ceiling: "
        f"{_format(s.caption_painted)} of its right guesses painted right); adapter MSE {s.mse:.4f}"
    )


@evaluate_app.command("dreambooth")
def evaluate_dreambooth(
    out: Path = OUT,
    image_model: str | None = IMAGE_MODEL,
    lora: Path | None = LORA,
    per_background: int = typer.Option(8, "--per-background", help="Subject pictures per background."),
    repeats: int = typer.Option(1, "--repeats", help="Paint the whole set this many times, each from new seeds."),
    steps: int = typer.Option(20, "--steps", help="Denoising steps."),
    guidance: float = typer.Option(4.0, "--guidance", help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, "--seed", help="Prompt i is painted from seed + i."),
    report: Path | None = typer.Option(None, "--report", help="Also write every picture's verdict to this JSON file."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Score a model personalised on the Spoken Shapes subject ("a sks heart"): subject fidelity, prompt
    fidelity, prior preservation. OUT/images, OUT/subject_grid.png, OUT/prior_grid.png."""
    from soundsight.evaluate.image_model import PaintSettings
    from soundsight.evaluate.subject import evaluate_subject
    from soundsight.files import save_text

    if out.exists():
        typer.echo(f"error: '{out}' exists: name a new folder", err=True)
        raise typer.Exit(1)
    _check_new(report, False)
    _quiet_libraries()
    pipe = _painter(image_model, device, lora)
    settings = PaintSettings(steps=steps, guidance=guidance, seed=seed)
    scores, _, _ = _run(lambda: evaluate_subject(pipe, settings, out, per_background=per_background,
                                                 repeats=repeats, progress=not no_progress))  # fmt: skip
    stdout.print(_scores_table(scores))
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report)


@evaluate_app.command("similarity")
def evaluate_similarity(
    generated: Path = typer.Argument(..., help="Pictures a personalised model painted, with their JSON sidecars."),
    references: Path = typer.Argument(..., help="Real photos of the subject."),
    clip_model: str = typer.Option("openai/clip-vit-base-patch32", "--clip-model", help="Hub id or local folder."),
    dino_model: str = typer.Option("facebook/dino-vits16", "--dino-model", help="Hub id or local folder."),
    identifier: str | None = typer.Option(None, "--identifier", help='Dropped from prompts for CLIP-T, e.g. "sks".'),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
    device: str = DEVICE,
) -> None:
    """DreamBooth's subject-fidelity scores for real models: DINO and CLIP-I against the real photos, CLIP-T
    against each picture's prompt (from its sidecar)."""
    from PIL import Image

    from soundsight.evaluate.subject_similarity import subject_similarity
    from soundsight.train.subject_images import image_files

    _quiet_libraries()
    for folder in (generated, references):
        if not folder.is_dir():
            typer.echo(f"error: '{folder}': no such folder", err=True)
            raise typer.Exit(1)
    pictures, prompts = [], []
    for path in image_files(generated):
        sidecar = path.with_suffix(".json")
        if not sidecar.is_file():
            typer.echo(f"warning: '{path}': no JSON sidecar with its prompt, left out", err=True)
            continue
        pictures.append(Image.open(path))
        prompts.append(str(json.loads(sidecar.read_text())["prompt"]))
    photos = [Image.open(path) for path in image_files(references)]
    scores = _run(lambda: subject_similarity(pictures, photos, prompts, clip_model, dino_model, device,
                                             identifier=identifier, progress=False))  # fmt: skip
    if as_json:
        typer.echo(json.dumps(asdict(scores)))
    else:
        typer.echo(f"DINO {scores.dino:.3f}  CLIP-I {scores.clip_i:.3f}  CLIP-T {scores.clip_t:.3f}  "
                   f"({scores.num_generated} pictures, {scores.num_references} photos)")  # fmt: skip


@evaluate_app.command("loop")
def evaluate_loop(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder."),
    out: Path = OUT,
    split: str = typer.Option("test", "--split", help="test, novel, val or train."),
    asr_model: str | None = ASR_MODEL,
    image_model: str | None = IMAGE_MODEL,
    steps: int = typer.Option(20, "--steps", help="Denoising steps."),
    guidance: float = typer.Option(4.0, "--guidance", help="Classifier-free guidance scale."),
    seed: int = typer.Option(0, "--seed", help="Clip i is painted from seed + i."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N clips."),
    report: Path | None = typer.Option(None, "--report", help="Also write every picture's verdict to this JSON file."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """The whole loop on a speech split: spoken caption -> transcript -> prompt -> picture -> verifier.
    Writes OUT/images (PNGs, metadata.jsonl with transcript and prompt) and OUT/grid.png."""
    from soundsight.evaluate.image_model import PaintSettings, save_grid, save_painted
    from soundsight.evaluate.image_model import evaluate_loop as run_loop
    from soundsight.files import save_text
    from soundsight.loading import load_asr
    from soundsight.speech_to_image import default_asr_model

    if out.exists():
        typer.echo(f"error: '{out}' exists: name a new folder", err=True)
        raise typer.Exit(1)
    _check_new(report, False)
    _quiet_libraries()
    asr = _run(lambda: load_asr(asr_model or default_asr_model(), device=device))
    pipe = _painter(image_model, device)
    settings = PaintSettings(steps=steps, guidance=guidance, seed=seed)
    scores, items, images = _run(lambda: run_loop(asr, pipe, data, split, settings, limit=limit,
                                                  progress=not no_progress))  # fmt: skip
    rows = [{"file_name": Path(i.clip).with_suffix(".png").name, "caption": i.caption, "transcript": i.transcript,
             "prompt": i.prompt} for i in items]  # fmt: skip
    save_painted(out / "images", images, rows)
    save_grid(images, scores, [r["caption"] for r in rows], out / "grid.png")
    stdout.print(_scores_table(scores))
    heard = sum(i.caption == i.prompt for i in items)
    stdout.print(f"prompts equal to the spoken caption: {heard} of {len(items)}")
    if report is not None:
        save_text(json.dumps({**asdict(scores), "loop": [asdict(i) for i in items]}, indent=1) + "\n", report)


@app.command("app")
def web_app(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 lets other machines in."),
    port: int = typer.Option(7860, "--port", help="Port to listen on."),
    asr_model: str | None = ASR_MODEL,
    image_model: str | None = IMAGE_MODEL,
    device: str = DEVICE,
    dtype: str = DTYPE,
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest upload accepted, in MB."),
    max_seconds: float = typer.Option(60.0, "--max-seconds", help="Longest recording transcribed, in seconds."),
    concurrency_limit: int = typer.Option(1, "--concurrency-limit", help="Requests worked on at once."),
    max_queue_size: int = typer.Option(16, "--max-queue-size", help="Requests allowed to wait; more are refused."),
    custom_models: bool | None = typer.Option(
        None,
        "--custom-models/--no-custom-models",
        help="Let page users name any Hub id or folder as a model (default: only when serving this machine).",
    ),
    adapter: str | None = typer.Option(
        None, "--adapter", help="Audio adapter for the sound tab \\[default: the shipped one, with its models]."
    ),
    lora: str | None = typer.Option(
        None, "--lora", help="LoRA weights the page offers (chosen at first) beside none, e.g. a DreamBooth run."
    ),
    subject: str | None = SUBJECT,
) -> None:
    """Serve the web page: record or upload speech, check the transcript, paint it; or paint a sound (gradio)."""
    from soundsight.webapp import AppConfig, launch

    if custom_models is None:  # other people must not make the server download models or probe its folders
        custom_models = host in ("127.0.0.1", "localhost", "::1")

    config = _run(lambda: AppConfig(host, port, asr_model, image_model, device, dtype, max_upload_mb, max_seconds,
                                    concurrency_limit, max_queue_size, custom_models, adapter, lora,
                                    subject))  # fmt: skip
    logging.getLogger("soundsight").setLevel(logging.INFO)
    _quiet_libraries()
    launch(config)
