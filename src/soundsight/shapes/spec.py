"""The constants of Spoken Shapes v1.2 (shared/specs/spoken-shapes.md), in one place."""

from __future__ import annotations

SPEC_VERSION = "1.2"

CANVAS_PX = 64  # images are CANVAS_PX x CANVAS_PX RGB

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 210, 40),
    "green": (40, 170, 70),
    "blue": (40, 90, 220),
    "purple": (140, 60, 200),
    "white": (245, 245, 245),
    "black": (25, 25, 25),
}
COLORS: tuple[str, ...] = tuple(PALETTE)

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "heart", "cross")

# Side of the object's tight bounding box, as a fraction of the canvas; jitter is +- SIZE_JITTER.
SIZE_FRACTIONS: dict[str, float] = {"small": 0.35, "big": 0.65}
SIZE_JITTER = 0.04
SIZES: tuple[str, ...] = tuple(SIZE_FRACTIONS)
# The verifier reads "small" below this fraction of the canvas, "big" at or above it.
SIZE_THRESHOLD = 0.5

# Bounding-box centre as canvas fractions (x, y); y grows downwards.
POSITION_ANCHORS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "left": (0.25, 0.5),
    "right": (0.75, 0.5),
    "top": (0.5, 0.25),
    "bottom": (0.5, 0.75),
}
POSITIONS: tuple[str, ...] = tuple(POSITION_ANCHORS)
POSITION_JITTER_PX = 2.0
BIG_POSITIONS: tuple[str, ...] = ("center",)  # big objects are always at the center

# Held-out (colour, shape) pairs: only in the novel split.
HELD_OUT: frozenset[tuple[str, str]] = frozenset(
    {
        ("purple", "heart"),
        ("yellow", "cross"),
        ("green", "star"),
        ("orange", "circle"),
        ("white", "triangle"),
        ("blue", "square"),
    }
)

# Words of the caption grammar. The first entry of each list is the canonical one.
SIZE_WORDS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "big": ("big", "large"),
}
POSITION_PHRASES: dict[str, tuple[str, ...]] = {
    "center": ("in the center", "in the middle"),
    "left": ("on the left",),
    "right": ("on the right",),
    "top": ("at the top",),
    "bottom": ("at the bottom",),
}
LEAD_INS: tuple[str, ...] = (
    "draw",
    "paint",
    "show me",
    "make",
    "please draw",
    "can you draw",
    "i want",
    "a picture of",
)

# The DreamBooth subject.
SUBJECT_TOKEN = "sks"
SUBJECT_SHAPE = "heart"
SUBJECT_CHECKER_CELLS = 4  # a 4 x 4 checkerboard of black and white
SUBJECT_INSTANCE_PROMPT = "a sks heart"
SUBJECT_CLASS_PROMPT = "a heart"
SUBJECT_BACKGROUNDS: tuple[str, ...] = tuple(c for c in COLORS if c not in ("black", "white"))
SUBJECT_INSTANCE_COUNT = 5

# Speech.
SAMPLE_RATE = 16_000
TEST_VOICES: tuple[str, ...] = ("en-us+f5", "en-gb-scotland+m7", "en+klatt4")
SPEED_WPM = (120, 200)
PITCH = (20, 80)
TRAIN_SNR_DB = (5.0, 30.0)
TEST_NOISY_SNR_DB = (5.0, 10.0)

# Sounds for the audio adapter: each class and the scene (colour, shape) it is bound to.
SOUND_SCENES: dict[str, tuple[str, str]] = {
    "bell": ("yellow", "circle"),
    "siren": ("red", "triangle"),
    "drum": ("black", "square"),
    "whistle": ("white", "star"),
    "rain": ("blue", "heart"),
    "chirp": ("green", "cross"),
}
SOUND_LABELS: tuple[str, ...] = tuple(SOUND_SCENES)
SOUND_DURATION_S = (1.0, 4.0)
SOUND_SNR_DB = (10.0, 30.0)  # white or pink background noise
SOUND_PEAK = (0.5, 0.9)
SOUND_SPLITS: tuple[str, ...] = ("train", "val", "test")


def sound_scene_caption(label: str) -> str:
    """The scene a sound is bound to, as a caption: "bell" -> "a yellow circle"."""
    color, shape = SOUND_SCENES[label]
    return f"a {color} {shape}"
