"""Seed, split and index -> exactly what one Spoken Shapes item shows and says (no rendering here).

Each item draws from its own generator, seeded by (seed, split, index), so any item can be planned
alone: builds run in any order over any number of processes, and a resumed build plans the same.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from soundsight.shapes.captions import caption_scene
from soundsight.shapes.render import Scene, make_scene
from soundsight.shapes.spec import (
    BIG_POSITIONS,
    CANVAS_PX,
    COLORS,
    HELD_OUT,
    LEAD_INS,
    PITCH,
    POSITIONS,
    SHAPES,
    SIZE_FRACTIONS,
    SPEED_WPM,
    SUBJECT_BACKGROUNDS,
    SUBJECT_CLASS_PROMPT,
    SUBJECT_INSTANCE_COUNT,
    SUBJECT_INSTANCE_PROMPT,
    SUBJECT_SHAPE,
    SUBJECT_TOKEN,
    TEST_NOISY_SNR_DB,
    TEST_VOICES,
    TRAIN_SNR_DB,
)
from soundsight.shapes.speech import AMPLITUDE, PEAK_LEVEL, REVERB_RT60_S, REVERB_WET, TRAIN_VOICES, SpeechSettings

SPLITS: tuple[str, ...] = ("train", "val", "test", "novel")
SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}
SUBJECT_STREAM = 99  # the subject's generator: (seed, SUBJECT_STREAM)
SUBJECT_CAPTIONS = 8  # descriptions of each subject render in its metadata "captions"
SEEN_PAIRS: tuple[tuple[str, str], ...] = tuple((c, s) for c in COLORS for s in SHAPES if (c, s) not in HELD_OUT)
HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = tuple(sorted(HELD_OUT))
P_LEAD_IN = 0.3
P_TRAIN_NOISY = 0.7
P_TRAIN_REVERB = 0.3


@dataclass(frozen=True)
class ItemPlan:
    """One scene and the clip that speaks its caption."""

    split: str
    index: int
    scene: Scene
    caption: str
    speech: SpeechSettings

    @property
    def stem(self) -> str:
        return f"{self.index:06d}"

    def scene_record(self) -> dict[str, Any]:
        s = self.scene
        return {"file_name": f"{self.stem}.png", "caption": self.caption, "shape": s.shape, "color": s.color,
                "size": s.size, "position": s.position, "background": s.background}  # fmt: skip

    def speech_record(self) -> dict[str, Any]:
        sp = self.speech
        return {"file_name": f"{self.stem}.wav", "text": sp.text, "caption": self.caption, "voice": sp.voice,
                "snr_db": sp.snr_db, "scene": f"scenes/{self.split}/{self.stem}.png", "speed_wpm": sp.speed_wpm,
                "pitch": sp.pitch, "amplitude": sp.amplitude, "noise": sp.noise if sp.snr_db is not None else None,
                "reverb_rt60_s": sp.reverb_rt60_s}  # fmt: skip


@dataclass(frozen=True)
class Crop:
    """A part of a picture that DreamBooth may also train on, with its own descriptions."""

    box: tuple[int, int, int, int]  # left, top, right, bottom in pixels (right and bottom exclusive)
    captions: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        return {"box": list(self.box), "captions": list(self.captions)}


@dataclass(frozen=True)
class SubjectPlan:
    """One render of the DreamBooth subject."""

    index: int
    scene: Scene
    caption: str
    captions: tuple[str, ...]  # `caption` and more ways the grammar describes the render (DreamBooth draws one)
    crops: tuple[Crop, ...] = ()  # a small render's close-up

    @property
    def stem(self) -> str:
        return f"{self.index:02d}"

    def record(self) -> dict[str, Any]:
        s = self.scene
        return {"file_name": f"{self.stem}.png", "caption": self.caption, "captions": list(self.captions),
                "instance_prompt": SUBJECT_INSTANCE_PROMPT,
                "class_prompt": SUBJECT_CLASS_PROMPT, "shape": s.shape, "color": s.color, "size": s.size,
                "position": s.position, "background": s.background,
                "crops": [c.record() for c in self.crops]}  # fmt: skip


def item_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, SPLIT_IDS[split], index]))


def _draw_scene(rng: np.random.Generator, pairs: tuple[tuple[str, str], ...]) -> Scene:
    color, shape = pairs[int(rng.integers(len(pairs)))]
    background = str(rng.choice([c for c in COLORS if c != color]))
    size = "small" if rng.random() < 0.5 else "big"
    position = str(rng.choice(POSITIONS if size == "small" else BIG_POSITIONS))
    return make_scene(shape, color, size, position, background, rng)


def _draw_speech(rng: np.random.Generator, split: str, index: int, caption: str) -> SpeechSettings:
    lead_in = str(rng.choice(LEAD_INS)) if rng.random() < P_LEAD_IN else None
    text = f"{lead_in} {caption}" if lead_in else caption
    speed, pitch = int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1)), int(rng.integers(PITCH[0], PITCH[1] + 1))
    amplitude = int(rng.integers(AMPLITUDE[0], AMPLITUDE[1] + 1))
    noise = "pink" if rng.random() < 0.5 else "white"
    peak = round(float(rng.uniform(*PEAK_LEVEL)), 3)
    seed = int(rng.integers(2**31))
    if split in ("train", "val"):
        voice = str(rng.choice(TRAIN_VOICES))
        snr = round(float(rng.uniform(*TRAIN_SNR_DB)), 1) if rng.random() < P_TRAIN_NOISY else None
        reverb = rng.random() < P_TRAIN_REVERB
        rt60 = round(float(rng.uniform(*REVERB_RT60_S)), 2) if reverb else None
        wet = round(float(rng.uniform(*REVERB_WET)), 2) if reverb else 0.0
    else:
        # Test voices in turn; each voice speaks alternately three clean and three noisy clips.
        voice = TEST_VOICES[index % len(TEST_VOICES)]
        noisy = (index // len(TEST_VOICES)) % 2 == 1
        snr = round(float(rng.uniform(*TEST_NOISY_SNR_DB)), 1) if noisy else None
        rt60, wet = None, 0.0
    return SpeechSettings(text, voice, speed, pitch, amplitude, snr, noise, rt60, wet, peak, seed)


def plan_item(seed: int, split: str, index: int) -> ItemPlan:
    """Return what item `index` of `split` shows and says, for a build seeded with `seed`."""
    rng = item_rng(seed, split, index)
    scene = _draw_scene(rng, HELD_OUT_PAIRS if split == "novel" else SEEN_PAIRS)
    caption = caption_scene(scene, rng)
    return ItemPlan(split, index, scene, caption, _draw_speech(rng, split, index, caption))


def plan_subject(seed: int) -> list[SubjectPlan]:
    """The subject's instance set: renders big and small, each on a different background."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, SUBJECT_STREAM]))
    backgrounds = rng.choice(SUBJECT_BACKGROUNDS, size=SUBJECT_INSTANCE_COUNT, replace=False)
    sizes = ["big" if i % 2 == 0 else "small" for i in range(SUBJECT_INSTANCE_COUNT)]
    # The extra captions come from their own stream, so renders and captions stay those of earlier builds.
    wording = np.random.default_rng(np.random.SeedSequence([seed, SUBJECT_STREAM, 1]))
    close_up_wording = np.random.default_rng(np.random.SeedSequence([seed, SUBJECT_STREAM, 2]))
    plans = []
    for i, (background, size) in enumerate(zip(backgrounds, sizes, strict=True)):
        position = str(rng.choice(POSITIONS if size == "small" else BIG_POSITIONS))
        scene = make_scene(SUBJECT_SHAPE, SUBJECT_TOKEN, size, position, str(background), rng)
        caption = caption_scene(scene, rng)
        more = [caption_scene(scene, wording) for _ in range(SUBJECT_CAPTIONS - 1)]
        crops = (close_up(scene, close_up_wording),) if size == "small" else ()
        plans.append(SubjectPlan(i, scene, caption, (caption, *more), crops))
    return plans


def close_up(scene: Scene, rng: np.random.Generator) -> Crop:
    """The square around a small object in which it is as big as a big one (moved inside the canvas where it
    would stick out), described as the big centred object it becomes once the crop is scaled to the canvas.

    A small subject is a handful of latent pixels, too few for the image model's VAE to carry its checker,
    so DreamBooth learns the subject's look on that background from the close-up instead.
    """
    side = min(CANVAS_PX, round(scene.side_px / SIZE_FRACTIONS["big"]))
    left, top = (int(min(max(round(c - side / 2), 0), CANVAS_PX - side)) for c in scene.center_px)
    seen_big = replace(scene, size="big", position="center")
    captions = tuple(caption_scene(seen_big, rng) for _ in range(SUBJECT_CAPTIONS))
    return Crop((left, top, left + side, top + side), captions)
