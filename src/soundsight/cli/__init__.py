"""The `soundsight` command: typer sub-apps over the public API, with no logic of their own."""

from __future__ import annotations

import logging
import warnings

import typer

from soundsight.cli import compose, evaluate, run, serve, shapes, train
from soundsight.cli.common import options, show_warning

app = typer.Typer(no_args_is_help=True, add_completion=False, help="SoundSight: speak, and see.")
app.add_typer(shapes.app, name="shapes")
app.add_typer(train.app, name="train")
app.add_typer(evaluate.app, name="evaluate")
for command in (run.transcribe, run.speak, run.hear, run.paint):
    app.command()(command)
app.command()(compose.compose)
app.command("app")(serve.web_app)


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what happens (INFO) on stderr."),
) -> None:
    options["debug"] = debug
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    warnings.showwarning = show_warning
