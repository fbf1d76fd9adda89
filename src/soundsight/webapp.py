"""The web page: a gradio front end over the public API, recording -> transcript -> prompt -> images, and
sound -> images through the audio adapter."""

from __future__ import annotations

import json
import logging
import math
import re
import signal
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.utils import LRUCache, get_upload_folder
from PIL import Image
from starlette.middleware import Middleware

from soundsight.adapter import check_sound
from soundsight.asr import AsrBackend, Transcript, transcribe
from soundsight.audio import SAMPLE_RATE, check_speech, load_audio
from soundsight.backends.batching import MAX_BATCH_IMAGES, BatchingPainter
from soundsight.compose import ComposeSettings
from soundsight.defaults import (
    AUTO_ASR,
    KEYWORDS,
    SPEECH_TRANSFORMER,
    bundled_asr_dir,
    bundled_keywords_dir,
    bundled_speech_transformer_dir,
    default_asr_model,
    default_generate_config,
    default_image_model,
    paints_spoken_shapes,
)
from soundsight.errors import AudioError, ConfigError, ModelNotFoundError, PromptError, SoundSightError
from soundsight.files import save_png, save_text, save_wav
from soundsight.generate import GenerateConfig, check_painter, generate
from soundsight.images_that_speak import ImagesThatSpeak
from soundsight.loading import MOONSHINE, load_asr, load_painter
from soundsight.memory import freed_memory_released
from soundsight.model_copies import PROCESS_THREADS, ModelCopies, on_every_thread
from soundsight.output import save_generation
from soundsight.prompt import Prompt, PromptConfig, build_prompt, shapes_caption
from soundsight.runtime import check_backends
from soundsight.shapes.spec import SHAPES
from soundsight.shapes.words import WORDS
from soundsight.sound_to_image import SoundToImage, sound_to_image
from soundsight.web_guard import RequestGuard, UploadBudget, served_names

logger = logging.getLogger(__name__)

MAX_STEPS = 100
MAX_NUM_IMAGES = 4
MAX_SEED = 2**32 - 1
API_NAMES = ("transcribe", "paint", "hear", "compose")  # the page's events scripts may call (gradio_client), by name
MODELS_KEPT = 2  # per kind (ASR, image): naming a third model unloads the least recently used
CACHE_AGE_S = 3600  # uploads and painted files are deleted after an hour (checked as often)
# gradio keeps each browser session's page state (about 67 KB of component settings here, and what the page heard)
# until more sessions than this are open, then drops the oldest: its default, 10,000, let memory grow with every
# visitor of a long-running server.
SESSIONS_KEPT = 100  # five times the 20 people at once this 2-core app is sized for (benchmarks/bench_app_load.py)
REQUESTS_RECORDED = 2 * SESSIONS_KEPT  # gradio's record of past requests (timings shown on its monitoring page)
LISTEN_ID = "listen"  # transcribing and painting sounds: up to --concurrency-limit at once
PAINT_ID = "paint"  # painting prompts: up to --paint-batch at once, painted together (BatchingPainter)


@dataclass(frozen=True)
class AppConfig:
    """How `soundsight app` serves the page. The defaults let in only this machine."""

    host: str = "127.0.0.1"  # 0.0.0.0 lets other machines in
    port: int = 7860
    asr_model: str | None = None  # Hub id or folder; None: default_asr_model()
    image_model: str | None = None  # Hub id or folder; None: default_image_model()
    device: str = "auto"
    dtype: str = "auto"  # runtime.py: the fastest correct on this machine
    max_upload_mb: float = 10.0  # gradio refuses larger uploads
    max_seconds: float = 60.0  # longest recording the app transcribes
    concurrency_limit: int = 2  # transcriptions worked on at once, each by a copy of the speech model; the others wait
    max_queue_size: int = 24  # requests allowed to wait; more are turned away
    custom_models: bool = True  # page users may name any Hub id or folder, not only the two offered
    adapter: str | None = None  # audio adapter folder for the sound tab; None: the bundled one and its models
    lora: str | None = None  # LoRA weights the page offers beside none (e.g. a DreamBooth run's folder)
    subject: str | None = None  # the personalised subject "me" becomes, e.g. "sks person"; editable on the page
    max_upload_total_mb: float = 200.0  # uploads and painted files kept at once; the oldest go to make room
    allowed_hosts: tuple[str, ...] = ()  # host names served beside --host and this machine's own names
    paint_batch: int = MAX_BATCH_IMAGES  # paint requests taken at once, their images painted in one call
    backend: str = "auto"  # what runs the models: auto, torch or openvino (runtime.py)
    asr_backend: str | None = None  # what runs the speech models where it differs: also ctranslate2

    @property
    def speech_backend(self) -> str:
        return self.asr_backend or self.backend

    def __post_init__(self) -> None:
        check_backends(self.backend, self.asr_backend)
        for name in ("max_upload_mb", "max_seconds", "max_upload_total_mb"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)}: must be positive")
        for name in ("concurrency_limit", "max_queue_size", "paint_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} {getattr(self, name)}: must be at least 1")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port}: must be between 0 and 65535")
        if self.max_upload_total_mb < self.max_upload_mb:
            raise ConfigError(f"max_upload_total_mb {self.max_upload_total_mb:g}: must be at least max_upload_mb "
                              f"({self.max_upload_mb:g})")  # fmt: skip
        if self.lora and not Path(self.lora).exists():
            raise ConfigError(f"LoRA weights '{self.lora}': no such file or folder")


# Models are loaded on first use and kept: the speech model in copies lent to one thread at a time
# (model_copies.py), the sound models with a lock, because neither a diffusers pipeline (its scheduler keeps
# per-call state) nor a Whisper generate call may be shared by two threads at once.
_loading = threading.Lock()


@lru_cache(maxsize=MODELS_KEPT)
def _cached_asr(name: str, device: str, dtype: str, backend: str, copies: int) -> ModelCopies[AsrBackend]:
    threads = max(1, PROCESS_THREADS // copies)  # an OpenVINO engine's share: torch's is set as a copy is lent
    return ModelCopies(lambda: load_asr(name, device=device, dtype=dtype, backend=backend, threads=threads), copies)


@lru_cache(maxsize=MODELS_KEPT)
def _cached_painter(name: str, device: str, dtype: str, backend: str, lora: str | None, batch: int) -> BatchingPainter:
    return BatchingPainter(load_painter(name, device=device, dtype=dtype, backend=backend, lora=lora), max_images=batch)


@lru_cache(maxsize=1)
def _cached_sound_to_image(
    adapter: str | None, device: str, dtype: str, backend: str
) -> tuple[SoundToImage, threading.Lock]:
    return SoundToImage.from_pretrained(adapter, device=device, dtype=dtype, backend=backend), threading.Lock()


@lru_cache(maxsize=1)
def _cached_speaking(device: str) -> tuple[ImagesThatSpeak, threading.Lock]:
    return ImagesThatSpeak.from_pretrained(device=device), threading.Lock()


def speaking_models(device: str = "auto") -> tuple[ImagesThatSpeak, threading.Lock]:
    """Return the bundled models of images that speak, and the lock to hold while using them."""
    with _loading:
        return _cached_speaking(device)


def compose_speaking(shape: str, word: str, seed: int, out_dir: Path, *, config: AppConfig) -> list[Path]:
    """Compose one image that speaks into `out_dir`: its PNG, the WAV played from it and their JSON sidecar."""
    if shape not in SHAPES or word not in WORDS:
        raise ConfigError(f"choose one of the shapes and one of the words offered, not {shape!r} and {word!r}")
    speaking, lock = speaking_models(config.device)
    with lock:
        on_every_thread()
        (result,) = speaking(f"a {shape}", word, [seed], ComposeSettings())
    stem = f"{word}-{shape}-{seed}"
    png = save_png(Image.fromarray(result.composed.picture, mode="L"), out_dir / f"{stem}.png")
    wav = save_wav(result.composed.waveform, SAMPLE_RATE, out_dir / f"{stem}.wav")
    sidecar = {"image_prompt": f"a {shape}", "word": word, "seed": seed, **ComposeSettings().__dict__,
               **{k: _label(v) for k, v in speaking.names.items()}, "shape_read": result.shape.shape,
               "word_heard": result.heard.word, "consistency_r": round(result.consistency, 4)}  # fmt: skip
    return [png, wav, save_text(json.dumps(sidecar, indent=2) + "\n", out_dir / f"{stem}.json")]


def sound_models(
    adapter: str | None, device: str = "auto", dtype: str = "auto", backend: str = "auto"
) -> tuple[SoundToImage, threading.Lock]:
    """Return the adapter with the models it was trained for, and the lock to hold while using them."""
    with _loading:
        return _cached_sound_to_image(adapter, device, dtype, backend)


def asr_model(
    name: str, device: str = "auto", dtype: str = "auto", copies: int = 1, backend: str = "auto"
) -> ModelCopies[AsrBackend]:
    """Return the copies of the ASR model called `name` (one loaded at once, up to `copies` as requests come
    together), loading it only once."""
    with _loading:
        return _cached_asr(name, device, dtype, backend, copies)


def image_painter(
    name: str,
    device: str = "auto",
    dtype: str = "auto",
    lora: str | None = None,
    batch: int = MAX_BATCH_IMAGES,
    backend: str = "auto",
) -> BatchingPainter:
    """Return the painter of the image model called `name` (with the LoRA weights `lora` in it), loading it only
    once; any number of threads may paint with it at once (their requests are painted together)."""
    with _loading:
        return _cached_painter(name, device, dtype, backend, lora, batch)


def _label(name: str) -> str:
    """A model's name as the page shows it: a folder's last part, or the Hub id."""
    return Path(name).name if Path(name).exists() else name


AUTO_LABEL = "auto: Spoken Shapes captions in any voice, Moonshine for other speech"


def asr_choices(config: AppConfig) -> list[tuple[str, str]]:
    """(label, model name) pairs the page offers: the app's ASR model, then the others offline."""
    default = config.asr_model or default_asr_model()
    choices = [(f"{AUTO_LABEL if default == AUTO_ASR else _label(default)} (default)", default)]
    if find_spec("moonshine_voice") is None:
        return choices
    offered = [(AUTO_LABEL, AUTO_ASR), ("moonshine (English, offline, real voices)", MOONSHINE)]
    if (bundled_asr_dir() / "model.safetensors").is_file():
        offered.append((f"{bundled_asr_dir().name} (Spoken Shapes captions only)", str(bundled_asr_dir())))
    if (bundled_speech_transformer_dir() / "model.safetensors").is_file():
        offered.append(("speech-transformer (Spoken Shapes captions only, the classic route)", SPEECH_TRANSFORMER))
    if (bundled_keywords_dir() / "model.safetensors").is_file():
        offered.append(("keywords (one Spoken Shapes word a clip, the classic route)", KEYWORDS))
    return choices + [(label, name) for label, name in offered if name != default]


def image_choices(config: AppConfig) -> list[tuple[str, str]]:
    """(label, model name) pairs the page offers: the app's image model."""
    default = config.image_model or default_image_model()
    return [(f"{_label(default)} (default)", default)]


def lora_choices(config: AppConfig) -> list[tuple[str, str]]:
    """(label, weights) pairs the page offers: none, then the app's LoRA weights."""
    choices = [("none", "")]
    if config.lora:
        choices.append((f"{_label(config.lora)} (default)", config.lora))
    return choices


def check_lora(name: str, offered: list[tuple[str, str]], config: AppConfig) -> str | None:
    """Return the LoRA weights `name` names, None for none; raise ConfigError if the page may not use them."""
    name = _offered_name(name.strip(), offered)
    if not name:
        return None
    _check_offered(name, offered, config, "LoRA weights", "weights")
    return name


def page_prompt(text: str, subject: str) -> str:
    """The prompt a transcript makes, "me" becoming `subject` when one is given; raise PromptError."""
    return build_prompt(text, PromptConfig(subject=subject.strip() or None)).text


def check_model(name: str, offered: list[tuple[str, str]], config: AppConfig) -> str:
    """Return `name` if the page may use it, else raise ConfigError."""
    name = _offered_name(name.strip(), offered)
    if not name:
        raise ConfigError("no model chosen: pick one from the list")
    _check_offered(name, offered, config, "model", "models")
    return name


def _offered_name(chosen: str, offered: list[tuple[str, str]]) -> str:
    """The model name behind a choice the page sent: the page holds only labels (never a server path), so a
    label is the model it stands for; anything else is a name as typed."""
    return next((name for label, name in offered if label == chosen), chosen)


def page_choices(offered: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(label, label) pairs for a dropdown: what the page and its config hold is the label alone."""
    return [(label, label) for label, _ in offered]


def _check_offered(name: str, offered: list[tuple[str, str]], config: AppConfig, kind: str, kinds: str) -> None:
    """Raise ConfigError if `name` is not offered and page users may not name their own."""
    if not config.custom_models and name not in [value for _, value in offered]:
        raise ConfigError(f"{kind} {name!r}: this app offers only the {kinds} in its list")


def check_duration(waveform: np.ndarray, name: str, max_seconds: float) -> None:
    """Raise AudioError if a (T,) 16 kHz waveform lasts longer than `max_seconds`."""
    duration_s = len(waveform) / SAMPLE_RATE
    if duration_s > max_seconds:
        raise AudioError(f"{name}: {duration_s:.1f} s of audio, longer than this app takes ({max_seconds:g} s)")


def _read_upload(path: str | None, max_seconds: float, what: str) -> tuple[np.ndarray, str]:
    """Return an uploaded or recorded file as a (T,) 16 kHz waveform and its quoted file name, checking
    that it is there, readable and short enough; else raise AudioError."""
    if not path:
        raise AudioError(f"no {what}: record with the microphone or upload a file first")
    # gradio keeps uploads at <cache>/<hash>/<original name>: name only the file, never the server's folders
    name = Path(path).name
    try:
        waveform = load_audio(path)
    except AudioError as e:
        raise AudioError(str(e).replace(str(path), name)) from e
    check_duration(waveform, f"'{name}'", max_seconds)
    return waveform, f"'{name}'"


def read_recording(path: str | None, max_seconds: float) -> np.ndarray:
    """Return an uploaded or recorded file as a (T,) 16 kHz waveform holding speech, else raise AudioError."""
    waveform, name = _read_upload(path, max_seconds, "recording")
    check_speech(waveform, name)
    return waveform


def read_sound(path: str | None, max_seconds: float) -> np.ndarray:
    """Return an uploaded or recorded sound as a (T,) 16 kHz waveform that is not silent, else raise AudioError."""
    waveform, name = _read_upload(path, max_seconds, "sound")
    check_sound(waveform, name)
    return waveform


def paint_sound(path: str | None, generate_config: GenerateConfig, out_dir: Path, *, config: AppConfig) -> list[Path]:
    """Paint the sound at `path` through the app's audio adapter into `out_dir`; return the PNGs."""
    waveform = read_sound(path, config.max_seconds)
    s2i, lock = sound_models(config.adapter, config.device, config.dtype, config.backend)
    with lock:
        on_every_thread()
        result = sound_to_image(waveform, s2i.asr, s2i.adapter, s2i.painter, adapter_name=s2i.adapter_name,
                                generate_config=generate_config, gate=s2i.gate)  # fmt: skip
    name = Path(str(path)).name
    extra = {**result.parameters, "Sound": name, "Adapter": _label(s2i.adapter_name)}
    generation = replace(result.generation, model=_label(result.generation.model))  # no server folder
    return save_generation(generation, out_dir, Path(name).stem or "sound", extra=extra)


def hear(recording: str | None, model: str, *, translate: bool, config: AppConfig) -> Transcript:
    """Return what the ASR model called `model` hears in the uploaded or recorded file at `recording`."""
    listeners = asr_model(model, config.device, config.dtype, config.concurrency_limit, config.speech_backend)
    if translate and not listeners.first.capabilities.translate:  # said in the page's words, naming no server folder
        raise ConfigError(f"speech model {_label(model)!r} cannot translate: untick Translate to English or choose "
                          "another speech model")  # fmt: skip
    waveform = read_recording(recording, config.max_seconds)
    with listeners.lent() as asr:
        return transcribe(waveform, asr, task="translate" if translate else "transcribe")


def settings(seed: float, steps: float, guidance: float, num_images: float) -> GenerateConfig:
    """Return the paint settings the page's fields ask for; raise ConfigError beyond the app's limits."""
    fields = {"seed": seed, "steps": steps, "guidance": guidance, "num_images": num_images}
    for name, value in fields.items():
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(f"{name} {value}: must be a number")
    if not 0 <= seed <= MAX_SEED or seed != int(seed):
        raise ConfigError(f"seed {seed:g}: must be a whole number from 0 to {MAX_SEED}")
    if steps > MAX_STEPS:
        raise ConfigError(f"steps {steps:g}: this app paints with at most {MAX_STEPS}")
    if num_images > MAX_NUM_IMAGES:
        raise ConfigError(f"num_images {num_images:g}: this app paints at most {MAX_NUM_IMAGES} at once")
    return GenerateConfig(steps=int(steps), guidance=float(guidance), num_images=int(num_images), seed=int(seed))


def paint(
    prompt: str,
    model: str,
    generate_config: GenerateConfig,
    out_dir: Path,
    *,
    heard: Transcript | None = None,
    lora: str | None = None,
    any_prompt: bool = False,
    config: AppConfig,
) -> list[Path]:
    """Paint `prompt` with the image model called `model` (and LoRA weights `lora`) into `out_dir`; return the
    PNGs (JSON sidecars beside).

    `heard`, the transcript the prompt came from, goes into each sidecar. A model that knows only Spoken Shapes
    paints only Spoken Shapes captions unless `any_prompt`.
    """
    text = prompt.strip()
    if not text:
        raise PromptError("the prompt is empty: transcribe a recording or type what to paint")
    if not any_prompt and paints_spoken_shapes(model):
        text = shapes_caption(text, text)
    painter = image_painter(model, config.device, config.dtype, lora, config.paint_batch, config.backend)
    defaults = default_generate_config(model)  # the page's own values are no request: only a changed one is
    check_painter(painter, generate_config, steps=generate_config.steps != defaults.steps,
                  guidance=generate_config.guidance != defaults.guidance)  # fmt: skip
    # the files name the models as the page does: never a server folder
    generation = generate(Prompt(text, None, heard.text if heard else ""), painter, generate_config,
                          model=_label(model), progress=False)  # fmt: skip
    stem = "-".join(re.findall(r"[a-z0-9]+", text.lower())[:6]) or "paint"
    extra = {"LoRA": _label(lora)} if lora else None
    heard = replace(heard, model=_label(heard.model)) if heard else None
    return save_generation(generation, out_dir, stem, transcript=heard, extra=extra)


@contextmanager
def _loaded_for_page(kind: str, shown: str) -> Iterator[None]:
    """Loading a model a page user named: one message whatever is wrong with it (missing, not a model, not
    loadable), naming it as `shown` (see _as_shown), so the page tells nobody which server paths exist."""
    try:
        yield
    except (ModelNotFoundError, OSError) as e:
        logger.info("could not load %s %s: %s", kind, shown, e)
        raise ConfigError(f"{kind} {shown!r}: this app cannot load it (a Hub id it can reach, or one of its "
                          "own model folders)") from None  # fmt: skip


def _as_shown(name: str, offered: list[tuple[str, str]]) -> str:
    """A model's name as the page lists it: an offered one by its label (never the server's path), a typed one
    as typed."""
    return next((label for label, value in offered if value == name), name)


@contextmanager
def _shown_on_page() -> Iterator[None]:
    """Turn a SoundSightError into gradio's error box holding its one line; the app serves on."""
    try:
        yield
    except SoundSightError as e:
        logger.info("refused a request: %s", e)
        raise gr.Error(str(e), print_exception=False) from e


def build_app(config: AppConfig) -> gr.Blocks:
    """Return the page, queued, not yet launched: Transcribe, then Paint, or both in one click."""
    asr_offered, image_offered, lora_offered = asr_choices(config), image_choices(config), lora_choices(config)
    defaults = default_generate_config(image_offered[0][1])

    def on_transcribe(
        recording: str | None, asr_name: str, translate: bool, subject: str
    ) -> tuple[str, str, str, Transcript]:
        with _shown_on_page(), freed_memory_released():
            name = check_model(asr_name, asr_offered, config)
            with _loaded_for_page("speech model", _as_shown(name, asr_offered)):
                asr_model(name, config.device, config.dtype, config.concurrency_limit, config.speech_backend)
            heard = hear(recording, name, translate=translate, config=config)
        try:
            prompt = page_prompt(heard.text, subject)
        except PromptError as e:
            gr.Warning(str(e))
            prompt = ""
        return heard.text, heard.language or "unknown", prompt, heard

    def on_paint(
        prompt: str, image_name: str, lora_name: str, seed: float, steps: float, guidance: float,
        num_images: float, heard: Transcript | None, any_prompt: bool,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> tuple[list[tuple[str, str]], list[str]]:  # fmt: skip
        with _shown_on_page(), freed_memory_released():
            name = check_model(image_name, image_offered, config)
            lora = check_lora(lora_name, lora_offered, config)
            generate_config = settings(seed, steps, guidance, num_images)
            progress(0, desc="loading the image model")
            shown = _as_shown(name, image_offered) + (f" + {_as_shown(lora, lora_offered)}" if lora else "")
            with _loaded_for_page("image model" if lora is None else "image model with LoRA weights", shown):
                image_painter(name, config.device, config.dtype, lora, config.paint_batch, config.backend)
            progress(0, desc="painting")
            # gradio serves and later deletes what is in its own upload folder (Blocks' delete_cache)
            out_dir = Path(tempfile.mkdtemp(prefix="soundsight-", dir=get_upload_folder()))
            pngs = paint(
                prompt, name, generate_config, out_dir, heard=heard, lora=lora, any_prompt=any_prompt, config=config
            )
        gallery = [(str(png), f"seed {generate_config.seed + i}") for i, png in enumerate(pngs)]
        return gallery, [str(f) for png in pngs for f in (png, png.with_suffix(".json"))]

    def on_sound(
        sound: str | None, seed: float, steps: float, guidance: float, num_images: float,
        progress: gr.Progress = gr.Progress(track_tqdm=True),
    ) -> tuple[list[tuple[str, str]], list[str]]:  # fmt: skip
        with _shown_on_page(), freed_memory_released():
            generate_config = settings(seed, steps, guidance, num_images)
            progress(0, desc="loading the adapter and its models")
            sound_models(config.adapter, config.device, config.dtype, config.backend)
            progress(0, desc="painting the sound")
            out_dir = Path(tempfile.mkdtemp(prefix="soundsight-", dir=get_upload_folder()))
            pngs = paint_sound(sound, generate_config, out_dir, config=config)
        gallery = [(str(png), f"seed {generate_config.seed + i}") for i, png in enumerate(pngs)]
        return gallery, [str(f) for png in pngs for f in (png, png.with_suffix(".json"))]

    def on_compose(
        shape: str, word: str, seed: float, progress: gr.Progress = gr.Progress(track_tqdm=True)
    ) -> tuple[str, str, list[str]]:
        with _shown_on_page(), freed_memory_released():
            chosen = settings(seed, 1, 0, 1).seed
            progress(0, desc="loading the image, spectrogram and vocoder models")
            speaking_models(config.device)
            progress(0, desc="composing")
            out_dir = Path(tempfile.mkdtemp(prefix="soundsight-", dir=get_upload_folder()))
            png, wav, sidecar = compose_speaking(shape, word, chosen, out_dir, config=config)
        return str(png), str(wav), [str(png), str(wav), str(sidecar)]

    def on_image_model(image_name: str) -> tuple[int, float]:
        chosen = default_generate_config(_offered_name(image_name.strip(), image_offered) or image_offered[0][1])
        return chosen.steps, chosen.guidance

    def on_transcript(text: str, subject: str) -> str:
        try:
            return page_prompt(text, subject)
        except PromptError:
            return ""

    def on_subject(text: str, subject: str, prompt: str) -> str:
        return on_transcript(text, subject) if text.strip() else prompt  # a typed prompt without speech stays

    with gr.Blocks(title="SoundSight", analytics_enabled=False, delete_cache=(CACHE_AGE_S, CACHE_AGE_S)) as page:
        gr.Markdown(
            "# SoundSight: speak, and see\nRecord or upload speech, check what was heard, then paint it; "
            "or let a sound paint itself, no words in between."
        )
        heard = gr.State(None)  # the Transcript as the model heard it, for the images' sidecars
        with gr.Row():
            with gr.Column():
                # Each way into the painter is a tab
                with gr.Tabs():
                    with gr.Tab("Speech → image", elem_id="speech_tab"):
                        recording = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Recording",
                                             elem_id="recording")  # fmt: skip
                        translate = gr.Checkbox(label="Translate to English", value=False, elem_id="translate")
                        with gr.Row():
                            transcribe_button = gr.Button("Transcribe", elem_id="transcribe")
                            speak_button = gr.Button("Transcribe and paint", variant="primary", elem_id="speak")
                        with gr.Row():
                            transcript = gr.Textbox(label="Transcript (edit it if needed)", lines=2, scale=4,
                                                    elem_id="transcript")  # fmt: skip
                            language = gr.Textbox(label="Language", interactive=False, scale=1, elem_id="language")
                        prompt = gr.Textbox(label="Prompt (edit it, or type your own)", lines=2, elem_id="prompt")
                        any_prompt = gr.Checkbox(label="Paint any prompt, even with a Spoken Shapes model",
                                                 value=False, elem_id="any_prompt")  # fmt: skip
                        paint_button = gr.Button("Paint", variant="primary", elem_id="paint")
                    with gr.Tab("Sound → image", elem_id="sound_tab"):
                        gr.Markdown("A sound, not words: a bell, a siren, a bird. The audio adapter paints what "
                                    "it hears (seed, steps and images from the settings below).")  # fmt: skip
                        sound = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Sound",
                                         elem_id="sound")  # fmt: skip
                        sound_button = gr.Button("Paint the sound", variant="primary", elem_id="hear")
                    with gr.Tab("Image that speaks", elem_id="compose_tab"):
                        gr.Markdown("One picture that is also the spectrogram of a spoken word: see the shape, "
                                    "play the word (the seed from the settings below).")  # fmt: skip
                        with gr.Row():
                            speaking_shape = gr.Dropdown(list(SHAPES), value="star", label="Shape",
                                                         elem_id="speaking_shape")  # fmt: skip
                            speaking_word = gr.Dropdown(list(WORDS), value="red", label="Word",
                                                        elem_id="speaking_word")  # fmt: skip
                        compose_button = gr.Button("Compose", variant="primary", elem_id="compose")
                        speaking_picture = gr.Image(label="The picture (and spectrogram)", type="filepath",
                                                    elem_id="speaking_picture")  # fmt: skip
                        speaking_sound = gr.Audio(label="The picture, played", type="filepath",
                                                  elem_id="speaking_sound")  # fmt: skip
                # Shared by every tab
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    typed = "pick one, or type a Hub id or folder" if config.custom_models else None
                    custom: dict[str, Any] = {"allow_custom_value": config.custom_models, "info": typed}
                    asr_name = gr.Dropdown(page_choices(asr_offered), value=asr_offered[0][0], label="Speech model",
                                           **custom)  # fmt: skip
                    image_name = gr.Dropdown(page_choices(image_offered), value=image_offered[0][0],
                                             label="Image model", **custom)  # fmt: skip
                    with gr.Row():
                        lora_name = gr.Dropdown(page_choices(lora_offered), value=lora_offered[-1][0], elem_id="lora",
                                                label="Personalised weights (LoRA)", **custom)  # fmt: skip
                        subject = gr.Textbox(config.subject or "", label='Subject ("me" in speech becomes it)',
                                             placeholder="e.g. sks person", elem_id="subject")  # fmt: skip
                    seed = gr.Number(0, label="Seed (image i uses seed + i)", precision=0, minimum=0, elem_id="seed")
                    with gr.Row():
                        steps = gr.Slider(1, MAX_STEPS, defaults.steps, step=1, label="Steps", elem_id="steps")
                        guidance = gr.Slider(0, 20, defaults.guidance, step=0.5, label="Guidance", elem_id="guidance")
                    num_images = gr.Slider(1, MAX_NUM_IMAGES, 1, step=1, label="Images", elem_id="num_images")
            with gr.Column():
                gallery = gr.Gallery(label="Images", columns=2, object_fit="contain", elem_id="gallery",
                                     buttons=["download", "fullscreen"])  # fmt: skip
                files = gr.File(label="Download: PNGs (parameters inside) and their JSON sidecars",
                                file_count="multiple", interactive=False, elem_id="files")  # fmt: skip

        listen_io: dict[str, Any] = {"fn": on_transcribe, "inputs": [recording, asr_name, translate, subject],
                                     "outputs": [transcript, language, prompt, heard],
                                     "concurrency_id": LISTEN_ID}  # fmt: skip
        paint_io: dict[str, Any] = {"fn": on_paint, "inputs": [prompt, image_name, lora_name, seed, steps,
                                    guidance, num_images, heard, any_prompt], "outputs": [gallery, files],
                                    "concurrency_id": PAINT_ID, "concurrency_limit": config.paint_batch}  # fmt: skip
        # the four ways in have stable API names (API_NAMES); the page's own helpers are kept out of the API
        private: dict[str, Any] = {"api_visibility": "private"}
        transcribe_button.click(**listen_io, api_name="transcribe")
        paint_button.click(**paint_io, api_name="paint")
        speak_button.click(**listen_io, **private).success(**paint_io, **private)
        sound_button.click(on_sound, [sound, seed, steps, guidance, num_images], [gallery, files],
                           concurrency_id=LISTEN_ID, api_name="hear")  # fmt: skip
        compose_button.click(on_compose, [speaking_shape, speaking_word, seed],
                             [speaking_picture, speaking_sound, files], concurrency_id=LISTEN_ID,
                             api_name="compose")  # fmt: skip
        recording.change(lambda: None, outputs=heard, queue=False, **private)
        transcript.input(on_transcript, [transcript, subject], prompt, queue=False, show_progress="hidden", **private)
        subject.input(on_subject, [transcript, subject, prompt], prompt, queue=False, show_progress="hidden",
                      **private)  # fmt: skip
        image_name.change(on_image_model, image_name, [steps, guidance], queue=False, show_progress="hidden",
                          **private)  # fmt: skip
    return bounded_queue_records(page.queue(default_concurrency_limit=config.concurrency_limit,
                                            max_size=config.max_queue_size))  # fmt: skip


class SessionMessages(LRUCache[str, Any]):
    """gradio's message queues, one a session: past `limit`, the oldest sessions' go, except those of sessions
    with a request still waiting or working (`pending`: session -> its requests, as gradio's queue keeps them)."""

    def __init__(self, limit: int, pending: dict[str, set[str]]) -> None:
        super().__init__(limit)
        self.pending = pending

    def __setitem__(self, session: str, messages: Any) -> None:
        OrderedDict.__setitem__(self, session, messages)  # not LRUCache's, which drops the oldest, pending or not
        idle = [old for old in self if old != session and not self.pending.get(old)]
        for old in idle[: max(0, len(self) - self.max_size)]:
            del self[old]


def bounded_queue_records(page: gr.Blocks) -> gr.Blocks:
    """Hold what gradio's queue keeps of past sessions and requests to what the app keeps of sessions: by itself
    it keeps a message queue for each of the last 2,000 sessions (whether or not their requests are done) and
    a record of each of the last 10,000 requests, so a steady stream of new visitors grows the server's memory
    for hours (bench_app_load --soak)."""
    queue = page._queue  # gradio offers no setting for either
    queue.pending_messages_per_session = SessionMessages(SESSIONS_KEPT, queue.pending_event_ids_session)
    queue.ANALYTICS_MAX_EVENTS = REQUESTS_RECORDED
    return page


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager's stop) ends the server as Ctrl-C does, so gradio removes every upload."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def launch(config: AppConfig) -> None:
    """Serve the page until interrupted (Ctrl-C or SIGTERM), with a bounded queue and gradio's upload size limit."""
    page = build_app(config)
    _stop_on_sigterm()
    max_upload_bytes = int(config.max_upload_mb * 2**20)
    budget = UploadBudget(Path(get_upload_folder()), int(config.max_upload_total_mb * 2**20))
    guard = Middleware(RequestGuard, names=served_names(config.host, config.allowed_hosts), budget=budget,
                       max_upload_bytes=max_upload_bytes)  # fmt: skip
    # run_history off: its page offers to copy runs to a Hugging Face bucket, and our files expire anyway
    page.launch(server_name=config.host, server_port=config.port, max_file_size=max_upload_bytes,
                run_history=False, share=False, app_kwargs={"middleware": [guard]},
                state_session_capacity=SESSIONS_KEPT)  # fmt: skip
