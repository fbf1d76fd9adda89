"""Images that speak, the Python API and what `soundsight compose` runs: an image prompt naming a shape and a
spoken word -> greyscale pictures that are also spectrograms, each played by a vocoder, scored by our own two
judges (the verifier's shape reading and a word listener) and ranked by them.

With the bundled models: our Spoken Shapes image model paints the shape white on black (the prompt is
rewritten so, when it names a shape and no colour), our spectrogram model speaks one of the spec's 14 words,
our vocoder plays the picture (or Griffin-Lim), our Whisper hears the word among the 14.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from soundsight.compose import Composed, Composer, ComposeSettings, Side, Vocoder, diffusers_states
from soundsight.defaults import bundled_asr_dir, bundled_image_model_dir, paints_spoken_shapes
from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.shapes.speaking import ShapeReading, WordHearing, WordListener, consistency, read_shapes
from soundsight.shapes.spec import COLORS, SHAPES
from soundsight.shapes.words import WORDS
from soundsight.spectrogram import griffin_lim, normalise_peak

GRIFFIN_LIM = "griffin-lim"


def bundled_spectrogram_model_dir() -> Path:
    return bundled_image_model_dir().parent / "spectrogram_shapes"


def bundled_vocoder_dir() -> Path:
    return bundled_image_model_dir().parent / "vocoder_shapes"


OUR_VOCODER = "ours"  # the shipped vocoder, by name


def default_vocoder() -> str:
    """Griffin-Lim: on the test words' own pictures it is heard better than our shipped vocoder (measured:
    docs/images_that_speak.md), which `--vocoder ours` picks."""
    return GRIFFIN_LIM


def grey_prompt(prompt: str) -> str:
    """For our Spoken Shapes image model: a prompt naming a shape and no colour, as the caption of that shape
    big and white on black (a picture read in grey by its brightness)."""
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    shapes = [s for s in SHAPES if s in words]
    if len(shapes) != 1 or words & set(COLORS):
        return prompt
    return f"a big white {shapes[0]} on a black background"


def asked_shape(prompt: str) -> str:
    """The one shape an image prompt names; ConfigError otherwise (the picture is scored on it)."""
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    shapes = [s for s in SHAPES if s in words]
    if len(shapes) != 1:
        raise ConfigError(f"--image-prompt {prompt!r}: name one shape of {', '.join(SHAPES)}")
    return shapes[0]


def vocoder_function(name: str, device: torch.device) -> Vocoder:
    """ "griffin-lim", or a vocoder folder: a picture -> a 16 kHz waveform at peak 0.9."""
    if name == GRIFFIN_LIM:
        return lambda picture: griffin_lim(picture)
    from soundsight.loading import load_vocoder

    if name == OUR_VOCODER:
        name = str(bundled_vocoder_dir())

    model = load_vocoder(name).to(device)

    @torch.no_grad()
    def play(picture: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(picture.astype(np.float32) / 255.0)[None].to(device)
        return normalise_peak(model(x)[0].float().cpu().numpy())

    return play


def bundled_word_classifier_dir() -> Path:
    return bundled_image_model_dir().parent / "word_classifier"


def word_listener(device: str = "cpu", classifier: str | Path | None = None) -> WordListener:
    """Our judge of the audio side: the word classifier (shipped, or `classifier`), else our Whisper scoring
    the 14 words (which hears one-word clips poorly: it learned captions)."""
    from soundsight.loading import load_whisper, load_word_classifier
    from soundsight.shapes.speaking import classifier_listener, scoring_listener

    folder = Path(classifier) if classifier is not None else bundled_word_classifier_dir()
    if classifier is not None or (folder / "model.safetensors").is_file():
        return classifier_listener(load_word_classifier(folder))
    whisper = load_whisper(bundled_asr_dir(), device=device, backend="torch", dtype="float32")
    return scoring_listener(whisper.text_scorer)


@dataclass(frozen=True)
class SpeakingImage:
    composed: Composed
    asked_shape: str
    word: str
    shape: ShapeReading
    heard: WordHearing
    consistency: float  # the WAV's spectrogram against the picture, Pearson r
    rank: int  # 0: the one our judges like best among its batch

    @property
    def image_right(self) -> bool:
        return self.shape.shape == self.asked_shape

    @property
    def audio_right(self) -> bool:
        return self.heard.word == self.word


@dataclass
class ImagesThatSpeak:
    composer: Composer
    listener: WordListener
    shape_classifier: object
    image_model: str
    vocoder: str
    bundled_world: bool = True
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_pretrained(cls, image_model: str | Path | None = None, spectrogram_model: str | Path | None = None,
                        vocoder: str | Path | None = None, *, word_classifier: str | Path | None = None,
                        device: str = "auto") -> ImagesThatSpeak:  # fmt: skip
        from soundsight.devices import resolve_device
        from soundsight.loading import default_shape_classifier, load_pipeline, load_spectrogram_model

        image_name = str(image_model or bundled_image_model_dir())
        spectrogram_name = str(spectrogram_model or bundled_spectrogram_model_dir())
        vocoder_name = str(vocoder or default_vocoder())
        if spectrogram_model is None and not (bundled_spectrogram_model_dir() / "unet").is_dir():
            raise ModelNotFoundError("no spectrogram model is shipped in this install: name one (--spectrogram-model)")
        target = resolve_device(device)
        image_pipe = load_pipeline(image_name, device=str(target), dtype="float32", backend="torch")
        unet, vae, audio_pipe = load_spectrogram_model(spectrogram_name, device=str(target))
        image_side = Side(image_pipe.unet, diffusers_states(image_pipe))
        audio_side = Side(unet, diffusers_states(audio_pipe or image_pipe))
        names = {"image_model": image_name, "spectrogram_model": spectrogram_name, "vocoder": vocoder_name}
        composer = Composer(image_side, audio_side, vae, image_pipe.scheduler.config,
                            vocoder_function(vocoder_name, target), names)  # fmt: skip
        return cls(composer, word_listener(str(target), word_classifier), default_shape_classifier(), image_name,
                   vocoder_name, paints_spoken_shapes(image_name), names)  # fmt: skip

    def check(self, image_prompt: str, word: str) -> str:
        """The shape the picture is scored on; one-line errors for what the bundled models cannot do."""
        shape = asked_shape(image_prompt)
        if word not in WORDS:
            raise ConfigError(f"--word {word!r}: the bundled spectrogram model speaks {', '.join(WORDS)}")
        return shape

    def __call__(self, image_prompt: str, word: str, seeds: list[int], settings: ComposeSettings, *,
                 audio_prompt: str | None = None, progress: bool = False) -> list[SpeakingImage]:  # fmt: skip
        """One speaking image per seed, ranked by our judges (both right first, then the product of their
        probabilities); each keeps its seed."""
        shape = self.check(image_prompt, word)
        prompt = grey_prompt(image_prompt) if self.bundled_world else image_prompt
        composed = self.composer.compose(prompt, audio_prompt or word, seeds, settings, progress=progress)
        shapes = read_shapes([c.picture for c in composed], shape, self.shape_classifier)  # type: ignore[arg-type]
        heard = [self.listener(c.waveform) for c in composed]
        order = sorted(range(len(composed)), key=lambda i: (
            -(shapes[i].shape == shape) - (heard[i].word == word),
            -shapes[i].probability * (heard[i].probability if heard[i].word == word else 0.0),
        ))  # fmt: skip
        rank = {i: r for r, i in enumerate(order)}
        return [SpeakingImage(composed[i], shape, word, shapes[i], heard[i],
                              consistency(composed[i].picture, composed[i].waveform), rank[i])
                for i in order]  # fmt: skip
