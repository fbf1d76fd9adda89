"""`python -m soundsight` runs the CLI."""

from soundsight.cli import app

app(prog_name="soundsight")
