"""Write a Spoken Shapes data set to disk: scenes, speech, sounds, spoken words and the subject, resumable,
on every core."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import soundfile as sf
from PIL import Image
from tqdm.auto import tqdm

from soundsight.errors import ConfigError, OutputExistsError, SoundSightError
from soundsight.files import remove_temporaries, save_jsonl, save_png, save_text, save_wav
from soundsight.shapes.plan import SPLITS, TEST_VOICES, TRAIN_VOICES, ItemPlan, plan_item, plan_subject
from soundsight.shapes.render import render_scene
from soundsight.shapes.sounds import plan_sound, render_sound
from soundsight.shapes.spec import SAMPLE_RATE, SOUND_SPLITS, SPEC_VERSION
from soundsight.shapes.speech import check_voices, speak
from soundsight.shapes.words import WORD_SPLITS, WordPlan, plan_word, render_word
from soundsight.spectrogram import log_mel_image, to_uint8

logger = logging.getLogger(__name__)
T = TypeVar("T")

BUILD_FILE = "build.json"
MANAGED = ("scenes", "speech", "sounds", "words", "subject", BUILD_FILE)  # what a build owns under its folder
IN_PROCESS_WORDS = 200  # fewer words than this are spoken in this process (about 0.13 s each)
SAME_WORLD_VERSIONS = ("1.1", SPEC_VERSION)  # 1.2 added the words: a 1.1 build is resumed, not replaced


@dataclass(frozen=True)
class BuildConfig:
    out: Path
    train: int = 1000
    val: int = 100
    test: int = 120
    novel: int = 120
    seed: int = 0
    # sound clips per split for the audio adapter; None: as many as that split's scenes
    sounds_train: int | None = None
    sounds_val: int | None = None
    sounds_test: int | None = None
    # spoken-word clips per split (images that speak); None: as many as that split's scenes
    words_train: int | None = None
    words_val: int | None = None
    words_test: int | None = None
    workers: int = 0  # 0: one process per core
    force: bool = False  # replace a build made with another seed
    progress: bool = True

    def __post_init__(self) -> None:
        for split in SPLITS:
            if getattr(self, split) < 0:
                raise ConfigError(f"--{split} {getattr(self, split)}: a count cannot be negative")
        for split in SOUND_SPLITS:
            count = getattr(self, f"sounds_{split}")
            if count is not None and count < 0:
                raise ConfigError(f"--sounds-{split} {count}: a count cannot be negative")
        for split in WORD_SPLITS:
            count = getattr(self, f"words_{split}")
            if count is not None and count < 0:
                raise ConfigError(f"--words-{split} {count}: a count cannot be negative")
        if self.workers < 0:
            raise ConfigError(f"--workers {self.workers}: must be 0 (all cores) or more")

    @property
    def counts(self) -> dict[str, int]:
        return {split: int(getattr(self, split)) for split in SPLITS}

    @property
    def sound_counts(self) -> dict[str, int]:
        counts = {split: getattr(self, f"sounds_{split}") for split in SOUND_SPLITS}
        return {split: int(getattr(self, split) if n is None else n) for split, n in counts.items()}

    @property
    def word_counts(self) -> dict[str, int]:
        counts = {split: getattr(self, f"words_{split}") for split in WORD_SPLITS}
        return {split: int(getattr(self, split) if n is None else n) for split, n in counts.items()}


@dataclass(frozen=True)
class BuildReport:
    out: Path
    counts: dict[str, int]
    written: int  # items made in this run
    reused: int  # items an earlier, interrupted run had already made
    elapsed_s: float
    failures: list[str] = field(default_factory=list)


def write_item(plan: ItemPlan, root: Path) -> None:
    """Render and speak one item, skipping any file already made (files appear whole or not at all)."""
    image_path = root / "scenes" / plan.split / f"{plan.stem}.png"
    if not image_path.exists():
        save_png(render_scene(plan.scene), image_path)
    audio_path = root / "speech" / plan.split / f"{plan.stem}.wav"
    if not audio_path.exists():
        save_wav(speak(plan.speech), SAMPLE_RATE, audio_path)


def _is_done(plan: ItemPlan, root: Path) -> bool:
    return (root / "scenes" / plan.split / f"{plan.stem}.png").exists() and (
        root / "speech" / plan.split / f"{plan.stem}.wav"
    ).exists()


def _write_item_safely(job: tuple[ItemPlan, Path]) -> str | None:
    plan, root = job
    try:
        write_item(plan, root)
    except SoundSightError as e:
        return f"{plan.split}/{plan.stem}: {e}"
    return None


def _prepare_folder(config: BuildConfig) -> None:
    """Check `out` holds nothing, or a build of the same seed and spec (which is resumed)."""
    out = config.out
    settings = {"spec_version": SPEC_VERSION, "seed": config.seed}
    build_file = out / BUILD_FILE
    if build_file.is_file():
        earlier = json.loads(build_file.read_text())
        same = earlier.get("seed") == config.seed and earlier.get("spec_version") in SAME_WORLD_VERSIONS
        if not same and not config.force:
            raise OutputExistsError(
                f"'{out}' holds a build with seed {earlier.get('seed')} (spec {earlier.get('spec_version')}): "
                "use --force to replace it, or another --out"
            )
        if not same:
            for name in MANAGED:
                path = out / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    elif out.exists() and any(out.iterdir()):
        raise OutputExistsError(f"'{out}' exists and is not a Spoken Shapes build: choose another --out")
    for kind in ("scenes", "speech"):
        for split in SPLITS:
            folder = out / kind / split
            folder.mkdir(parents=True, exist_ok=True)
            remove_temporaries(folder)
    for split in SOUND_SPLITS:
        (out / "sounds" / split).mkdir(parents=True, exist_ok=True)
        remove_temporaries(out / "sounds" / split)
    for split in WORD_SPLITS:
        (out / "words" / split).mkdir(parents=True, exist_ok=True)
        remove_temporaries(out / "words" / split)
    (out / "subject").mkdir(parents=True, exist_ok=True)
    remove_temporaries(out / "subject")
    record = {**settings, "counts": config.counts, "sound_counts": config.sound_counts,
              "word_counts": config.word_counts}  # fmt: skip
    save_text(json.dumps(record, indent=2) + "\n", build_file, overwrite=True)


def _remove_beyond(config: BuildConfig) -> None:
    """Drop items an earlier build of a larger count made, so folders hold exactly what metadata lists."""
    for kind, suffix in (("scenes", ".png"), ("speech", ".wav")):
        for split, n in config.counts.items():
            for path in (config.out / kind / split).glob(f"*{suffix}"):
                if path.stem.isdigit() and int(path.stem) >= n:
                    path.unlink()
    for split, n in config.sound_counts.items():
        for path in (config.out / "sounds" / split).glob("*.wav"):
            if path.stem.isdigit() and int(path.stem) >= n:
                path.unlink()
    for split, n in config.word_counts.items():
        for path in [*(config.out / "words" / split).glob("*.wav"), *(config.out / "words" / split).glob("*.png")]:
            if path.stem.isdigit() and int(path.stem) >= n:
                path.unlink()


def write_sounds(config: BuildConfig) -> None:
    """Synthesise the sound clips not yet on disk (a few ms each: one process), then each split's metadata."""
    plans = [plan_sound(config.seed, split, i) for split, n in config.sound_counts.items() for i in range(n)]
    todo = [p for p in plans if not (config.out / "sounds" / p.split / f"{p.stem}.wav").exists()]
    for plan in tqdm(todo, unit="clip", desc="sounds", disable=not config.progress):
        save_wav(render_sound(plan), SAMPLE_RATE, config.out / "sounds" / plan.split / f"{plan.stem}.wav")
    for split in SOUND_SPLITS:
        records = [p.record() for p in plans if p.split == split]
        save_jsonl(records, config.out / "sounds" / split / "metadata.jsonl", overwrite=True)


def write_word(plan: WordPlan, root: Path) -> None:
    """One spoken word and its spectrogram, computed from the WAV as written (16-bit), each file made whole."""
    folder = root / "words" / plan.split
    wav, png = folder / f"{plan.stem}.wav", folder / f"{plan.stem}.png"
    if not wav.exists():
        save_wav(render_word(plan), SAMPLE_RATE, wav)
    if not png.exists():
        written, _ = sf.read(wav, dtype="float32")
        save_png(Image.fromarray(to_uint8(log_mel_image(written)), mode="L"), png)


def _write_word_safely(job: tuple[WordPlan, Path]) -> str | None:
    plan, root = job
    try:
        write_word(plan, root)
    except SoundSightError as e:
        return f"words/{plan.split}/{plan.stem}: {e}"
    return None


def write_words(config: BuildConfig, workers: int) -> list[str]:
    """The spoken words not yet on disk, then each split's metadata; the failures, one line each."""
    plans = [plan_word(config.seed, split, i) for split, n in config.word_counts.items() for i in range(n)]
    folder = config.out / "words"
    todo = [p for p in plans if not all((folder / p.split / f"{p.stem}{ext}").exists() for ext in (".wav", ".png"))]
    failures: list[str] = []
    jobs = [(p, config.out) for p in todo]
    bar = tqdm(total=len(todo), unit="word", desc="words", disable=not config.progress)
    in_process = workers == 1 or len(jobs) < IN_PROCESS_WORDS  # a few words: cheaper than starting processes
    for failure in _run(_write_word_safely, jobs, 1 if in_process else workers, chunksize=16):
        failures += [failure] if failure else []
        bar.update()
    bar.close()
    for split in WORD_SPLITS:
        done = [p.record() for p in plans if p.split == split and (folder / split / f"{p.stem}.png").exists()]
        save_jsonl(done, folder / split / "metadata.jsonl", overwrite=True)
    return failures


def _run(write: Callable[[T], str | None], jobs: list[T], workers: int, chunksize: int = 8) -> Iterator[str | None]:
    """Each job's failure line (or None), in this process when `workers` is 1, else over a pool of processes."""
    if workers == 1:
        yield from map(write, jobs)
        return
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(write, jobs, chunksize=chunksize)


def build_dataset(config: BuildConfig) -> BuildReport:
    """Write the data set `config` asks for under config.out and return what was done.

    Layout: scenes/{split}/NNNNNN.png + metadata.jsonl, speech/{split}/NNNNNN.wav + metadata.jsonl,
    sounds/{train,val,test}/NNNNNN.wav + metadata.jsonl, words/{train,val,test}/NNNNNN.wav + NNNNNN.png
    (its spectrogram) + metadata.jsonl, subject/NN.png + metadata.jsonl,
    build.json. An interrupted build resumes where it stopped.
    """
    start = time.perf_counter()
    voices = [*TRAIN_VOICES] if config.train or config.val else []
    check_voices(voices + ([*TEST_VOICES] if config.test or config.novel else []))
    _prepare_folder(config)
    _remove_beyond(config)
    plans = [plan_item(config.seed, split, i) for split, n in config.counts.items() for i in range(n)]
    todo = [p for p in plans if not _is_done(p, config.out)]
    workers = config.workers or os.cpu_count() or 1
    logger.info("building %d items in '%s' (%d already there) on %d processes", len(plans), config.out,
                len(plans) - len(todo), workers)  # fmt: skip
    failures: list[str] = []
    bar = tqdm(total=len(todo), unit="item", desc="spoken shapes", disable=not config.progress)
    for failure in _run(_write_item_safely, [(p, config.out) for p in todo], workers):
        if failure:
            failures.append(failure)
        bar.update()
    bar.close()
    write_sounds(config)
    failures += write_words(config, workers)
    subject = plan_subject(config.seed)
    for sp in subject:
        path = config.out / "subject" / f"{sp.stem}.png"
        if not path.exists():
            save_png(render_scene(sp.scene), path)
    save_jsonl([sp.record() for sp in subject], config.out / "subject" / "metadata.jsonl", overwrite=True)
    for split in SPLITS:
        done = [p for p in plans if p.split == split and _is_done(p, config.out)]
        save_jsonl([p.scene_record() for p in done], config.out / "scenes" / split / "metadata.jsonl", overwrite=True)
        save_jsonl([p.speech_record() for p in done], config.out / "speech" / split / "metadata.jsonl", overwrite=True)
    return BuildReport(config.out, config.counts, len(todo) - len(failures), len(plans) - len(todo),
                       time.perf_counter() - start, failures)  # fmt: skip
