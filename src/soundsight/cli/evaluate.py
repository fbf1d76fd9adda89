"""`soundsight evaluate`: score models on Spoken Shapes (and personalised models on real photos)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from soundsight.cli.common import (
    ASR_BACKEND,
    ASR_MODEL,
    BACKEND,
    DEVICE,
    IMAGE_MODEL,
    LORA,
    NO_PROGRESS,
    OUT,
    REPORT,
    attempt,
    percent,
    quiet_libraries,
    scores_table,
    stdout,
)  # fmt: skip
from soundsight.defaults import SHAPES_PAINT

if TYPE_CHECKING:
    from soundsight.generate import GenerateConfig, Painter

app = typer.Typer(no_args_is_help=True, help="Score models on Spoken Shapes.")
STEPS = typer.Option(SHAPES_PAINT.steps, "--steps", help="Denoising steps.")
GUIDANCE = typer.Option(SHAPES_PAINT.guidance, "--guidance", help="Classifier-free guidance scale.")
UNCHECKED = typer.Option(
    False, "--unchecked",
    help="Score the image model alone: in the Spoken Shapes world a picture that reads back as other than its "
    "caption is not painted again (as it is for users).",
)  # fmt: skip


@app.command("asr")
def evaluate_asr(
    speech_dir: Path = typer.Argument(..., help="A built speech split, e.g. runs/shapes/speech/test."),
    asr_model: str | None = ASR_MODEL,
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N clips."),
    report: Path | None = typer.Option(None, "--report", help="Write the scores and every error to this JSON file."),
    force: bool = typer.Option(False, "--force", help="Overwrite the --report file."),
    device: str = DEVICE,
    backend: str = BACKEND,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Word error rate against the spoken text: overall, clean, noisy and per voice."""
    from soundsight.defaults import default_asr_model
    from soundsight.evaluate.wer import score_split
    from soundsight.files import check_new_file, save_text
    from soundsight.loading import load_asr

    attempt(lambda: check_new_file(report, force=force))
    quiet_libraries()
    model = attempt(lambda: load_asr(asr_model or default_asr_model(), device=device, backend=backend))
    scores = attempt(lambda: score_split(model, speech_dir, limit=limit, progress=not no_progress))
    table = Table(title=f"WER on '{speech_dir}' ({scores.num_clips} clips, {model.name})")
    table.add_column("part")
    table.add_column("WER", justify="right")
    for name, value in [("all", scores.wer), ("clean", scores.wer_clean), ("noisy", scores.wer_noisy),
                        ("noisy 5-10 dB", scores.wer_low_snr),
                        *((f"voice {v}", w) for v, w in scores.per_voice.items())]:  # fmt: skip
        table.add_row(name, percent(value))
    stdout.print(table)
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report, overwrite=force)


@app.command("words")
def evaluate_words(
    folders: list[Path] = typer.Argument(
        ..., help="Folders of spoken words (metadata.jsonl: file_name, word, voice, snr_db), e.g. DIR/words/test."
    ),
    out: Path = OUT,
    asr_model: str | None = ASR_MODEL,
    limit: int | None = typer.Option(None, "--limit", help="Only the first N clips of each folder."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """How often an ASR hears the word said (the spec's rule): OUT/report.json, OUT/report.md and a confusion
    matrix picture per folder."""
    from soundsight.defaults import default_asr_model
    from soundsight.evaluate.words import confusion_picture, score_words
    from soundsight.files import save_text
    from soundsight.loading import load_asr

    attempt(lambda: check_new_outputs(out, None))
    for folder in folders:
        if not (folder / "metadata.jsonl").is_file():
            attempt(lambda f=folder: _refuse(f"'{f}': no metadata.jsonl (a folder of spoken words)"))  # type: ignore[misc]
    quiet_libraries()
    model = attempt(lambda: load_asr(asr_model or default_asr_model(), device=device))
    out.mkdir(parents=True)
    lines = [f"Words heard by {model.name}", "", "| folder | clips | accuracy | clean | noisy |",
             "|---|---:|---:|---:|---:|"]  # fmt: skip
    results = []
    for i, folder in enumerate(folders):
        scores = attempt(lambda f=folder: score_words(model, f, limit=limit, progress=not no_progress))  # type: ignore[misc]
        results.append(scores)
        confusion_picture(scores, f"{model.name} on {folder}", out / f"confusion-{i}-{folder.name}.png")
        lines.append(f"| {folder} | {scores.clips} | {percent(scores.accuracy)} | {percent(scores.clean)} | "
                     f"{percent(scores.noisy)} |")  # fmt: skip
    save_text(json.dumps({"asr": model.name, "folders": [asdict(r) for r in results]}, indent=1) + "\n",
              out / "report.json")  # fmt: skip
    save_text("\n".join(lines) + "\n", out / "report.md")
    stdout.print("\n".join(lines))
    stdout.print(f"written to '{out}'")


def check_new_outputs(out: Path, report: Path | None) -> None:
    """Raise OutputExistsError unless OUT is a new folder and the --report file a new file."""
    from soundsight.files import check_new_file, check_new_folder

    check_new_folder(out)
    check_new_file(report)


def load_shapes_painter(image_model: str | None, device: str, lora: Path | None = None, *,
                        unchecked: bool = False, backend: str = "auto") -> Painter:  # fmt: skip
    from soundsight.backends.shapes_world import ShapesWorldPainter
    from soundsight.defaults import default_image_model
    from soundsight.loading import load_painter

    painter = attempt(lambda: load_painter(image_model or default_image_model(), device=device, lora=lora,
                                           backend=backend))  # fmt: skip
    if unchecked and isinstance(painter, ShapesWorldPainter):
        painter.check_captions = False
    return painter


def paint_config(steps: int, guidance: float, seed: int) -> GenerateConfig:
    from soundsight.generate import GenerateConfig

    return attempt(lambda: GenerateConfig(steps=steps, guidance=guidance, seed=seed))


@app.command("image")
def evaluate_image(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder."),
    out: Path = OUT,
    split: str = typer.Option("test", "--split", help="test, novel, val or train."),
    image_model: str | None = IMAGE_MODEL,
    steps: int = STEPS,
    guidance: float = GUIDANCE,
    seed: int = typer.Option(0, "--seed", help="Caption i is painted from seed + i."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N captions."),
    report: Path | None = REPORT,
    device: str = DEVICE,
    backend: str = BACKEND,
    unchecked: bool = UNCHECKED,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint every caption of a split and score the pictures: OUT/images (PNGs, metadata.jsonl), OUT/grid.png."""
    from soundsight.evaluate.image_model import paint_prompts, save_grid, save_painted, score_painted, split_rows
    from soundsight.files import save_text

    attempt(lambda: check_new_outputs(out, report))
    quiet_libraries()
    scenes = attempt(lambda: split_rows(data, "scenes", split))
    rows = [{"file_name": r["file_name"], "caption": r["caption"]} for r in scenes[:limit]]
    painter = load_shapes_painter(image_model, device, unchecked=unchecked, backend=backend)
    config = paint_config(steps, guidance, seed)
    images = attempt(lambda: paint_prompts(painter, [r["caption"] for r in rows], config, progress=not no_progress))
    scores = score_painted(images, [r["caption"] for r in rows], [r["file_name"] for r in rows])
    save_painted(out / "images", images, rows)
    save_grid(images, scores, [r["caption"] for r in rows], out / "grid.png")
    stdout.print(scores_table(scores))
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report)


@app.command("adapter")
def evaluate_adapter(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder with sounds/."),
    out: Path = OUT,
    adapter: Path | None = typer.Option(None, "--adapter", help="An adapter folder \\[default: the shipped one]."),
    split: str = typer.Option("test", "--split", help="test, val or train."),
    steps: int = STEPS,
    guidance: float = GUIDANCE,
    seed: int = typer.Option(0, "--seed", help="Sound i is painted from seed + i."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N sounds."),
    device: str = DEVICE,
    unchecked: bool = UNCHECKED,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Paint every sound of a split through the adapter, and through classify -> caption -> paint, and score
    both: OUT/scores.json, OUT/adapter_grid.png, OUT/two_stage_grid.png."""
    from soundsight.backends.shapes_world import ShapesWorldPainter
    from soundsight.evaluate.adapter import evaluate_adapter as evaluate
    from soundsight.evaluate.image_model import save_grid
    from soundsight.files import save_jsonl, save_text
    from soundsight.sound_to_image import SoundToImage

    attempt(lambda: check_new_outputs(out, None))
    quiet_libraries()
    s2i = attempt(lambda: SoundToImage.from_pretrained(adapter, device=device))
    if unchecked and isinstance(s2i.painter, ShapesWorldPainter):
        s2i.painter.check_captions = False
    config = paint_config(steps, guidance, seed)
    result = attempt(lambda: evaluate(s2i.asr, s2i.adapter, s2i.painter, data, split=split, config=config, limit=limit,
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
        table.add_row(label, percent(s.painted_per_label[label]), f"{s.cosine_per_label[label]:.3f}",
                      percent(s.two_stage_per_label[label]))  # fmt: skip
    table.add_row("all", percent(s.painted), f"{s.cosine:.3f}", percent(s.two_stage_painted))
    stdout.print(table)
    typer.echo(
        f"two-stage classifier accuracy {percent(s.two_stage_classified)} (caption ceiling: "
        f"{percent(s.caption_painted)} of its right guesses painted right); adapter MSE {s.mse:.4f}"
    )
    if s.snapped is not None:
        typer.echo(f"in the Spoken Shapes world each sound is painted as its nearest scene: {percent(s.snapped)} "
                   "snapped to their own")  # fmt: skip


@app.command("dreambooth")
def evaluate_dreambooth(
    out: Path = OUT,
    image_model: str | None = IMAGE_MODEL,
    lora: Path | None = LORA,
    per_background: int = typer.Option(8, "--per-background", help="Subject pictures per background."),
    repeats: int = typer.Option(1, "--repeats", help="Paint the whole set this many times, each from new seeds."),
    steps: int = STEPS,
    guidance: float = GUIDANCE,
    seed: int = typer.Option(0, "--seed", help="Prompt i is painted from seed + i."),
    report: Path | None = REPORT,
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Score a model personalised on the Spoken Shapes subject ("a sks heart"): subject fidelity, prompt
    fidelity, prior preservation. OUT/images, OUT/subject_grid.png, OUT/prior_grid.png."""
    from soundsight.evaluate.subject import evaluate_subject
    from soundsight.files import save_text

    attempt(lambda: check_new_outputs(out, report))
    quiet_libraries()
    painter = load_shapes_painter(image_model, device, lora, unchecked=True)  # forgetting must show: never repainted
    config = paint_config(steps, guidance, seed)
    scores, _, _ = attempt(lambda: evaluate_subject(painter, config, out, per_background=per_background,
                                                     repeats=repeats, progress=not no_progress))  # fmt: skip
    stdout.print(scores_table(scores))
    if report is not None:
        save_text(json.dumps(asdict(scores), indent=1) + "\n", report)


@app.command("similarity")
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

    quiet_libraries()
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
    scores = attempt(lambda: subject_similarity(pictures, photos, prompts, clip_model, dino_model, device,
                                                 identifier=identifier, progress=False))  # fmt: skip
    if as_json:
        typer.echo(json.dumps(asdict(scores)))
    else:
        typer.echo(f"DINO {scores.dino:.3f}  CLIP-I {scores.clip_i:.3f}  CLIP-T {scores.clip_t:.3f}  "
                   f"({scores.num_generated} pictures, {scores.num_references} photos)")  # fmt: skip


@app.command("loop")
def evaluate_loop(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder."),
    out: Path = OUT,
    split: str = typer.Option("test", "--split", help="test, novel, val or train."),
    asr_model: str | None = ASR_MODEL,
    image_model: str | None = IMAGE_MODEL,
    steps: int = STEPS,
    guidance: float = GUIDANCE,
    seed: int = typer.Option(0, "--seed", help="Clip i is painted from seed + i."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N clips."),
    report: Path | None = REPORT,
    device: str = DEVICE,
    backend: str = BACKEND,
    asr_backend: str | None = ASR_BACKEND,
    unchecked: bool = UNCHECKED,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """The whole loop on a speech split: spoken caption -> transcript -> prompt -> picture -> verifier.
    Writes OUT/images (PNGs, metadata.jsonl with transcript and prompt) and OUT/grid.png."""
    from soundsight.defaults import default_asr_model
    from soundsight.evaluate.image_model import evaluate_loop as run_loop
    from soundsight.evaluate.image_model import save_grid, save_painted
    from soundsight.files import save_text
    from soundsight.loading import load_asr
    from soundsight.runtime import check_backends

    attempt(lambda: check_new_outputs(out, report))
    attempt(lambda: check_backends(backend, asr_backend))
    quiet_libraries()
    asr = attempt(lambda: load_asr(asr_model or default_asr_model(), device=device, backend=asr_backend or backend))
    painter = load_shapes_painter(image_model, device, unchecked=unchecked, backend=backend)
    config = paint_config(steps, guidance, seed)
    scores, items, images = attempt(lambda: run_loop(asr, painter, data, split, config, limit=limit,
                                                      progress=not no_progress))  # fmt: skip
    rows = [{"file_name": Path(i.clip).with_suffix(".png").name, "caption": i.caption, "transcript": i.transcript,
             "prompt": i.prompt} for i in items]  # fmt: skip
    save_painted(out / "images", images, rows)
    save_grid(images, scores, [r["caption"] for r in rows], out / "grid.png")
    stdout.print(scores_table(scores))
    heard = sum(i.caption == i.prompt for i in items)
    stdout.print(f"prompts equal to the spoken caption: {heard} of {len(items)}")
    if report is not None:
        save_text(json.dumps({**asdict(scores), "loop": [asdict(i) for i in items]}, indent=1) + "\n", report)


@app.command("compose")
def evaluate_compose(
    out: Path = OUT,
    data: Path | None = typer.Option(
        None, "--data", help="A `shapes build` folder: its words/test give the vocoders' and listeners' ceilings."
    ),
    num_images: int = typer.Option(4, "--num-images", help="Samples a pair; the best is ranked by our judges."),
    steps: int = typer.Option(25, "--steps"),
    w: float = typer.Option(0.3, "--w"),
    warm_start: int = typer.Option(0, "--warm-start"),
    w_end: float = typer.Option(0.7, "--w-end", help="w goes linearly from --w to this (= --w: constant)."),
    image_guidance: float = typer.Option(4.0, "--image-guidance"),
    audio_guidance: float = typer.Option(8.0, "--audio-guidance"),
    spectrogram_model: str | None = typer.Option(None, "--spectrogram-model", help="\\[default: ours]."),
    vocoder: str | None = typer.Option(
        None, "--vocoder", help="griffin-lim, ours (the shipped one) or a vocoder folder \\[default: griffin-lim]."
    ),
    word_classifier: Path | None = typer.Option(None, "--word-classifier", help="Our audio judge \\[default: ours]."),
    sweep_pairs: int = typer.Option(14, "--sweep-pairs", help="Pairs composed at each w of the sweep."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N pairs (and N test words)."),
    ceiling_clips: int | None = typer.Option(None, "--ceiling-clips", help="Test words for the ceilings \\[all]."),
    device: str = DEVICE,
) -> None:
    """Images that speak, scored on every shape but square x the 14 words, beside ceilings and baselines:
    OUT/report.json, report.md, scatter.png (image against audio score), grid.png."""
    from soundsight.compose import ComposeSettings
    from soundsight.evaluate.compose import evaluate
    from soundsight.images_that_speak import ImagesThatSpeak
    from soundsight.loading import MOONSHINE, load_asr
    from soundsight.shapes.speaking import transcribing_listener
    from soundsight.spectrogram import griffin_lim

    attempt(lambda: check_new_outputs(out, None))
    settings = attempt(lambda: ComposeSettings(steps, w, warm_start, w_end, image_guidance, audio_guidance))
    quiet_libraries()
    speaking = attempt(
        lambda: ImagesThatSpeak.from_pretrained(
            None, spectrogram_model, vocoder, word_classifier=word_classifier, device=device
        )
    )
    moonshine = transcribing_listener(attempt(lambda: load_asr(MOONSHINE, device=device)))
    words = data / "words" / "test" if data is not None else None
    report = attempt(lambda: evaluate(speaking, moonshine, settings, out, words_dir=words, num_images=num_images,
                                      sweep_pairs=sweep_pairs, griffin_lim=griffin_lim, limit=limit,
                                      ceiling_clips=ceiling_clips))  # fmt: skip
    stdout.print((out / "report.md").read_text())
    stdout.print(f"{report['seconds_per_sample']} s a composed picture and sound; written to '{out}'")


@app.command("routes")
def evaluate_routes(
    data: Path = typer.Argument(..., help="A `soundsight shapes build` folder (speech/test, scenes/test, novel)."),
    out: Path = OUT,
    asr_models: list[str] = typer.Option(
        [],
        "--asr-model",
        help="An ASR to benchmark (repeatable) \\[default: our Whisper, moonshine, speech-transformer, keywords].",
    ),
    image_models: list[str] = typer.Option(
        [], "--image-model", help="A painter to benchmark (repeatable) \\[default: our SD, stackgan, stackgan-1, cgan]."
    ),
    route_names: list[str] = typer.Option(
        [], "--route", help="ASR:PAINTER, by the names given (repeatable) \\[default: every ASR with every painter]."
    ),
    heldout: Path | None = typer.Option(
        None, "--heldout", help="A folder of clips in voices never trained on (metadata.jsonl with file_name, text)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N clips and captions of each split."),
    words: Path | None = typer.Option(
        None, "--words", help="A folder of spoken words (DIR/words/test): each route also from a colour word and a "
        "shape word said apart, joined as `speak --join` joins them."
    ),
    word_pairs: int = typer.Option(200, "--word-pairs", help="Colour-shape pairs drawn from --words."),
    seed: int = typer.Option(0, "--seed", help="Caption i is painted from seed + i."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """Every ASR, painter and route from speech to picture on the same clips, captions and seeds: OUT/report.md,
    OUT/report.json, OUT/plot.png (accuracy against seconds an item) and OUT/painters.png (the same test captions
    painted by each painter, one row each). Painters are scored alone: a picture
    that reads back wrong is not painted again."""
    from soundsight.backends.shapes_world import ShapesWorldPainter
    from soundsight.defaults import bundled_asr_dir, default_generate_config, default_image_model
    from soundsight.evaluate import routes
    from soundsight.files import save_text
    from soundsight.loading import load_asr, load_painter

    attempt(lambda: check_new_outputs(out, None))
    asr_names = asr_models or [str(bundled_asr_dir()), "moonshine", *_shipped("speech-transformer"),
                               *_shipped("keywords")]  # fmt: skip
    painter_names = image_models or [default_image_model(), *_shipped("stackgan"), *_shipped("stackgan-1"),
                                     *_shipped("cgan")]  # fmt: skip
    chosen = attempt(lambda: _routes(route_names, asr_names, painter_names))
    for flag, folder in (("--heldout", heldout), ("--words", words)):
        if folder is not None and not (folder / "metadata.jsonl").is_file():
            attempt(lambda f=flag, d=folder: _refuse(f"{f} '{d}': no metadata.jsonl there"))  # type: ignore[misc]
    quiet_libraries()
    asrs = {_label(name): attempt(lambda n=name: load_asr(n, device=device)) for name in asr_names}  # type: ignore[misc]
    painters = {}
    for name in painter_names:
        painter = attempt(lambda n=name: load_painter(n, device=device))  # type: ignore[misc]
        if isinstance(painter, ShapesWorldPainter):
            painter.check_captions = False
        painters[_label(name)] = painter
    configs = {_label(name): default_generate_config(name) for name in painter_names}
    chosen = [routes.Route(_label(r.asr), _label(r.painter)) for r in chosen]
    out.mkdir(parents=True, exist_ok=True)
    report = attempt(lambda: routes.evaluate_routes(
        asrs, painters, chosen, data, heldout=heldout, limit=limit, seed=seed, paint_configs=configs, words=words,
        word_pair_count=word_pairs, grid=out / "painters.png", progress=not no_progress,
    ))  # fmt: skip
    save_text(json.dumps(asdict(report), indent=2) + "\n", out / "report.json")
    save_text(routes.markdown(report), out / "report.md")
    routes.plot(report, out / "plot.png")
    stdout.print(routes.markdown(report))
    stdout.print(f"written to '{out}'")


@app.command("stackgan")
def evaluate_stackgan(
    model: str = typer.Argument("stackgan", help="The shipped StackGAN, a model folder or a training run."),
    data: Path = typer.Option(Path("runs/shapes"), "--data", help="A `soundsight shapes build` folder."),
    out: Path = OUT,
    against: list[str] = typer.Option(
        [], "--against", help="Another painter whose variety is measured beside it (repeatable) \\[default: our SD]."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N captions of the test and novel splits."),
    seeds: int = typer.Option(8, "--seeds", help="Pictures of each caption for the variety."),
    variety_captions: int = typer.Option(12, "--variety-captions", help="Object-only captions for the variety."),
    seed: int = typer.Option(0, "--seed", help="Caption i is painted from seed + i."),
    device: str = DEVICE,
    no_progress: bool = NO_PROGRESS,
) -> None:
    """StackGAN's stages side by side: read at 64 px on test and novel, the object's IoU at full size (Stage I
    upsampled), and variety over seeds beside other painters: OUT/report.md, OUT/report.json, OUT/variety-*.png."""
    from soundsight.defaults import default_generate_config, default_image_model
    from soundsight.evaluate import stackgan
    from soundsight.files import save_text
    from soundsight.loading import load_painter, load_stackgan, resolve_device, stackgan_folder
    from soundsight.models.stackgan import MODEL_TYPE

    attempt(lambda: check_new_outputs(out, None))
    if seeds < 2 or variety_captions < 1:
        attempt(lambda: _refuse(f"--seeds {seeds}, --variety-captions {variety_captions}: need 2 seeds, 1 caption"))
    if not (data / "scenes" / "test" / "metadata.jsonl").is_file():
        attempt(lambda: _refuse(f"--data '{data}': no scenes/test/metadata.jsonl (build it with shapes build)"))
    folder = attempt(lambda: stackgan_folder(model))
    held = json.loads((folder / "config.json").read_text())
    if held.get("model_type") != MODEL_TYPE:
        attempt(lambda: _refuse(f"'{model}': not a StackGAN"))
    quiet_libraries()
    on = str(resolve_device(device))
    stages: dict[str, Painter] = {}
    for stage in held.get("stages", [1]):
        stages[f"{_label(model)} stage {stage}"] = attempt(lambda s=stage: load_stackgan(folder, stage=s, device=on))  # type: ignore[misc]
    others: dict[str, Painter] = {}
    for name in against or [default_image_model()]:
        others[_label(name)] = attempt(lambda n=name: load_painter(n, device=device))  # type: ignore[misc]
    configs = {_label(n): default_generate_config(n) for n in against or [default_image_model()]}
    out.mkdir(parents=True)
    report = attempt(lambda: stackgan.evaluate_stackgan(
        stages, others, data, out, configs=configs, limit=limit, seed=seed, seeds=seeds,
        variety_captions=variety_captions, progress=not no_progress,
    ))  # fmt: skip
    save_text(json.dumps(asdict(report), indent=2) + "\n", out / "report.json")
    save_text(stackgan.markdown(report), out / "report.md")
    stdout.print(stackgan.markdown(report))
    stdout.print(f"written to '{out}'")


def _label(name: str) -> str:
    """How the report names a model: a folder by its own name (our shipped ones: whisper_shapes, sd_shapes)."""
    return Path(name).name if Path(name).expanduser().is_dir() else name


def _shipped(name: str) -> list[str]:
    """[name] where the named model ships in this package, else []."""
    from soundsight.defaults import (
        bundled_cgan_dir,
        bundled_keywords_dir,
        bundled_speech_transformer_dir,
        bundled_stackgan_dir,
    )

    folders = {"speech-transformer": bundled_speech_transformer_dir, "keywords": bundled_keywords_dir,
               "cgan": bundled_cgan_dir}  # fmt: skip
    folder = folders.get(name, bundled_stackgan_dir)()
    return [name] if (folder / "config.json").is_file() else []


def _routes(given: list[str], asrs: list[str], painters: list[str]) -> list:
    from soundsight.evaluate.routes import Route

    if not given:
        return [Route(a, p) for a in asrs for p in painters]
    chosen = []
    for text in given:
        asr, _, painter = text.rpartition(":")
        if asr not in asrs or painter not in painters:
            _refuse(f"--route {text}: expected ASR:PAINTER with an --asr-model and an --image-model given")
        chosen.append(Route(asr, painter))
    return chosen


def _refuse(message: str) -> None:
    from soundsight.errors import ConfigError

    raise ConfigError(message)
