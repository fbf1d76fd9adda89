"""`soundsight app`: serve the web page (gradio) over the public API."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import typer

from soundsight.cli.common import (
    ASR_BACKEND,
    ASR_MODEL,
    BACKEND,
    DEVICE,
    DTYPE,
    IMAGE_MODEL,
    SUBJECT,
    attempt,
    log_progress,
    quiet_libraries,
)


def own_upload_folder() -> Path:
    """A fresh folder of this server's own for gradio's uploads and the pictures painted (inside GRADIO_TEMP_DIR
    when that is set), removed with all it holds when the server stops: other gradio apps' files are never
    touched. Set before gradio is imported, which reads the variable once."""
    parent = os.environ.get("GRADIO_TEMP_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="soundsight-app-", dir=parent))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def web_app(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 0.0.0.0 lets other machines in."),
    port: int = typer.Option(7860, "--port", help="Port to listen on."),
    asr_model: str | None = ASR_MODEL,
    image_model: str | None = IMAGE_MODEL,
    device: str = DEVICE,
    dtype: str = DTYPE,
    backend: str = BACKEND,
    asr_backend: str | None = ASR_BACKEND,
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest upload accepted, in MB."),
    max_upload_total_mb: float = typer.Option(
        200.0, "--max-upload-total-mb", help="Uploads and pictures kept at once, in MB; the oldest go to make room."
    ),
    allowed_hosts: list[str] = typer.Option(
        [], "--allowed-hosts", help="A host name to serve beside --host and this machine's names (repeat it)."
    ),
    max_seconds: float = typer.Option(60.0, "--max-seconds", help="Longest recording transcribed, in seconds."),
    concurrency_limit: int = typer.Option(
        2, "--concurrency-limit", help="Transcriptions worked on at once, each by a copy of the speech model."
    ),
    max_queue_size: int = typer.Option(24, "--max-queue-size", help="Requests allowed to wait; more are refused."),
    paint_batch: int = typer.Option(
        8, "--paint-batch", help="Paint requests taken at once; those waiting together are painted in one call."
    ),
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
    """Serve the web page: record or upload speech, check the transcript, paint it; or paint a sound (gradio).

    Uploads and pictures go after an hour, and all of them when the server stops (Ctrl-C or SIGTERM). Requests
    for other host names, and from other sites' pages, are refused.
    """
    own_upload_folder()
    from soundsight.webapp import AppConfig, launch

    if custom_models is None:  # other people must not make the server download models or probe its folders
        custom_models = host in ("127.0.0.1", "localhost", "::1")

    config = attempt(lambda: AppConfig(host, port, asr_model, image_model, device, dtype, max_upload_mb, max_seconds,
                                        concurrency_limit, max_queue_size, custom_models, adapter, lora,
                                        subject, max_upload_total_mb, tuple(allowed_hosts), paint_batch,
                                        backend, asr_backend))  # fmt: skip
    log_progress()
    quiet_libraries()
    launch(config)
