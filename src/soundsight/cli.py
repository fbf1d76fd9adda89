"""The `soundsight` command: a typer front end over the public API, with no logic of its own."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from soundsight.errors import SoundSightError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="SoundSight: speak, and see.")
shapes_app = typer.Typer(no_args_is_help=True, help="Spoken Shapes: build the data set, score pictures.")
train_app = typer.Typer(no_args_is_help=True, help="Train SoundSight's own models from scratch.")
app.add_typer(shapes_app, name="shapes")
app.add_typer(train_app, name="train")

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
    workers: int = typer.Option(0, "--workers", help="Processes; 0 means one per core."),
    force: bool = typer.Option(False, "--force", help="Replace a build made with another seed."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
) -> None:
    """Build a Spoken Shapes data set: scenes, speech and the DreamBooth subject."""
    from soundsight.shapes.build import BuildConfig, build_dataset

    report = _run(
        lambda: build_dataset(BuildConfig(out, train, val, test, novel, seed, workers, force, not no_progress))
    )
    counts = ", ".join(f"{n} {split}" for split, n in report.counts.items())
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
