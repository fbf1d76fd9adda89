"""What every sub-app of the `soundsight` command shares: its options, one-line errors, the batch runner."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from tqdm.auto import tqdm

from soundsight.errors import SoundSightError

if TYPE_CHECKING:
    from accelerate import PartialState

    from soundsight.evaluate.shapes import ShapesScores
    from soundsight.generate import GenerateConfig
    from soundsight.prompt import PromptConfig

T = TypeVar("T")

# Options shared by several commands (one name for one thing across commands).
ASR_MODEL = typer.Option(
    None,
    "--asr-model",
    help="Whisper: a Hub id or a local folder; moonshine; speech-transformer (ours, or a run folder of `train "
    "speech-transformer`); or auto (Spoken Shapes captions in any voice, other speech as said, by our Whisper and "
    "Moonshine together) \\[default: auto]",
)
IMAGE_MODEL = typer.Option(
    None, "--image-model", help="Stable Diffusion: a Hub id or a local folder \\[default: our Spoken Shapes model]."
)
LANGUAGE = typer.Option(None, "--language", help="Language spoken (ISO code, e.g. en, fr); detected if not given.")
TRANSLATE = typer.Option(False, "--translate", help="Translate the speech to English instead of transcribing it.")
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps.")
DTYPE = typer.Option(
    "auto",
    "--dtype",
    help="auto (the fastest correct on this machine: docs/cpu_backends.md), float32, bfloat16 or float16 (float16 "
    "falls back to float32 on CPU).",
)
BACKEND = typer.Option(
    "auto",
    "--backend",
    help="What runs Stable Diffusion and Whisper: auto (the fastest correct on this machine: docs/cpu_backends.md), "
    "torch, openvino, or ctranslate2 (Whisper only).",
)
ASR_BACKEND = typer.Option(
    None,
    "--asr-backend",
    help="What runs the ASR model where it differs from --backend: auto, torch, openvino or ctranslate2.",
)
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
ANY_PROMPT = typer.Option(
    False, "--any-prompt", help="Paint prompts that are not Spoken Shapes captions with the bundled model too."
)
SUBJECT_WORDS = typer.Option("me,myself", "--subject-words", help="Comma-separated words meaning the subject.")
OUT = typer.Option(..., "--out", "-o", help="Folder for the PNGs and their JSON sidecars.")
NO_PROGRESS = typer.Option(False, "--no-progress", help="Hide progress bars.")
REPORT = typer.Option(None, "--report", help="Also write every picture's verdict to this JSON file.")

stdout = Console()
options = {"debug": False}


def show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    typer.echo(f"warning: {message}", err=True)


def attempt(call: Callable[[], T]) -> T:
    """Run `call`; a SoundSightError becomes one line on stderr and exit 1 (a traceback with --debug)."""
    try:
        return call()
    except SoundSightError as e:
        if options["debug"]:
            raise
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None


def log_progress() -> None:
    """Training and serving commands log what they do (INFO) without -v."""
    logging.getLogger("soundsight").setLevel(logging.INFO)


def quiet_libraries() -> None:
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


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def scores_table(scores: ShapesScores) -> Table:
    """The verifier's scores: per attribute, all attributes, and the DreamBooth scores."""
    table = Table(title=f"Spoken Shapes scores ({scores.num_images} images)")
    table.add_column("score")
    table.add_column("accuracy", justify="right")
    table.add_column("images", justify="right")
    for attribute, value in scores.per_attribute.items():
        table.add_row(attribute, percent(value), str(scores.attribute_counts[attribute]))
    table.add_row(
        "all specified attributes", percent(scores.all_attributes), str(sum(not v.subject for v in scores.verdicts))
    )
    for name in ("subject_fidelity", "prompt_fidelity", "prior_preservation"):
        table.add_row(name.replace("_", " "), percent(getattr(scores, name)), "")
    return table


def paint_configs(
    image_model: str, seed: int, steps: int | None, guidance: float | None, num_images: int, width: int | None = None,
    height: int | None = None, scheduler: str | None = None, style: str | None = None,
    negative_prompt: str | None = None, subject: str | None = None, subject_words: str = "",
    any_prompt: bool = False,
) -> tuple[PromptConfig, GenerateConfig]:  # fmt: skip
    """The prompt and paint settings the flags ask for; steps and guidance not given are the model's own.

    A model that knows only Spoken Shapes gets only Spoken Shapes captions unless `any_prompt`."""
    from soundsight.defaults import default_generate_config, paints_spoken_shapes
    from soundsight.generate import GenerateConfig
    from soundsight.prompt import PromptConfig

    defaults = attempt(lambda: default_generate_config(image_model))
    steps = defaults.steps if steps is None else steps
    guidance = defaults.guidance if guidance is None else guidance
    words = tuple(w.strip() for w in subject_words.split(",") if w.strip())
    shapes_only = not any_prompt and attempt(lambda: paints_spoken_shapes(image_model))
    prompt_config = attempt(lambda: PromptConfig(style, negative_prompt, subject, words, shapes_only=shapes_only))
    generate_config = attempt(lambda: GenerateConfig(steps, guidance, num_images, seed, width, height, scheduler))
    return prompt_config, generate_config


def lora_setting(lora: Path | None) -> dict[str, str] | None:
    """The LoRA weights a picture was painted with, for its parameters and sidecar."""
    return {"LoRA": str(lora)} if lora is not None else None


def finish(failures: list[str]) -> None:
    """One line on stderr per input that failed, then exit 1 if any did."""
    for failure in failures:
        typer.echo(f"error: {failure}", err=True)
    if failures:
        raise typer.Exit(1)


def audio_inputs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The audio files to work on (a folder stands for the audio files in it, sorted) and one failure line for
    each that libsndfile cannot read; exits 1 when none is left. Runs before any model loads."""
    from soundsight.audio import AUDIO_SUFFIXES, check_audio_file
    from soundsight.errors import AudioError

    files: list[Path] = []
    failures: list[str] = []
    for path in paths:
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
        files += found
        if not found:
            failures.append(f"'{path}': a folder holding no audio file ({', '.join(AUDIO_SUFFIXES)})")
    good = []
    for path in files:
        try:
            good.append(check_audio_file(path))
        except AudioError as e:
            failures.append(str(e))
    if not good:
        finish(failures or ["no audio file given"])
    return good, failures


def process_state(device: str) -> tuple[PartialState, str]:
    """The accelerate state of this process and the device it should use (its own under a multi-process launch)."""
    from accelerate import PartialState

    state = PartialState(cpu=device == "cpu")
    if state.num_processes > 1 and device == "auto":
        device = str(state.device)
    return state, device


def run_batch(
    files: list[Path],
    failures: list[str],
    work: Callable[[Path, bool], Iterable[str]],
    *,
    desc: str,
    progress: bool,
    state: PartialState | None = None,
) -> None:
    """Call `work(path, show_inner_progress)` on each file (this process's share under accelerate) and print the
    lines it returns; a file that fails becomes one line `'PATH': problem` at the end, and exit 1 if any did."""
    show = progress and (state is None or state.is_local_main_process)
    with state.split_between_processes(files) if state is not None else nullcontext(files) as mine:
        for path in tqdm(mine, unit="file", desc=desc, disable=not show or len(mine) < 2):
            try:
                lines = list(work(path, show and len(mine) == 1))
            except SoundSightError as e:
                failures.append(str(e) if str(path) in str(e) else f"'{path}': {e}")
                continue
            for line in lines:
                typer.echo(line)
    finish(failures)
