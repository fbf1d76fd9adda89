"""Sound -> image with no words in between: load the sound, the adapter turns it into prompt embeddings,
the image model paints them. Timed per stage.

In the Spoken Shapes world (the bundled image model, or one personalised from it) a sound means one of
the spec's six scenes: the adapter's embeddings are snapped to the nearest scene's caption, which is
painted (and checked), as a transcript is snapped to the nearest caption of the grammar. Everywhere else
the painter paints the adapter's embeddings as they are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from soundsight.adapter import (
    audio_states,
    check_adapter_fits,
    check_sound,
    gated_states,
    nearest_scenes,
    resolve_model,
    scene_states,
)
from soundsight.audio import load_audio
from soundsight.backends.shapes_world import ShapesWorldPainter
from soundsight.backends.whisper import WhisperAsr
from soundsight.defaults import bundled_adapter_dir, bundled_asr_dir, bundled_image_model_dir, default_generate_config
from soundsight.errors import AudioError, ConfigError
from soundsight.generate import GenerateConfig, Generation, Painter, check_painter, generate
from soundsight.loading import load_adapter, load_asr, load_painter, load_sound_gate
from soundsight.models.audio_adapter import AudioAdapter
from soundsight.models.sound_gate import NONE_LABEL, SoundGate
from soundsight.prompt import Prompt
from soundsight.shapes.spec import SOUND_LABELS, sound_scene_caption


@dataclass(frozen=True)
class SoundToImageResult:
    sound: str  # the file heard, or "audio" for an array
    adapter: str
    generation: Generation
    timings_s: dict[str, float] = field(default_factory=dict)  # per stage: audio, adapter, paint
    scene: str | None = None  # in the Spoken Shapes world, the scene's caption the sound was heard as

    @property
    def parameters(self) -> dict[str, str]:
        """What a saved picture records of how it was heard."""
        return {"Sound": self.sound, "Adapter": self.adapter, **({"Scene": self.scene} if self.scene else {})}

    @property
    def images(self) -> tuple[Image.Image, ...]:
        return self.generation.images


def sound_to_image(
    audio: Path | str | np.ndarray,
    asr: WhisperAsr,
    adapter: AudioAdapter,
    painter: Painter,
    *,
    adapter_name: str = "",
    generate_config: GenerateConfig | None = None,
    gate: SoundGate | None = None,
    progress: bool = True,
) -> SoundToImageResult:
    """Return the images the sound at `audio` (a path, or a (T,) 16 kHz waveform) paints through `adapter`.

    With a `gate`, a sound that is none of the adapter's sounds is refused (AudioError) instead of painted, and
    a recording longer than the spec's clips is heard in the stretch the gate is surest of (gated_states).
    """
    check_painter(painter, generate_config or GenerateConfig(), prompt_embeds=True)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    name = str(audio) if not isinstance(audio, np.ndarray) else "audio"
    waveform = load_audio(audio) if not isinstance(audio, np.ndarray) else audio
    check_sound(waveform, f"'{name}'")
    timings["audio"] = time.perf_counter() - start
    if gate is None:
        states = audio_states([waveform], asr, adapter.config.time_pool)
    else:
        states, [(heard_as, _)] = gated_states([waveform], asr, adapter.config.time_pool, gate)
        if heard_as == NONE_LABEL:
            sounds = ", ".join(label for label in gate.config.labels if label != NONE_LABEL)
            raise AudioError(f"sound '{name}' is none of the sounds the audio adapter paints ({sounds}): "
                             "pass --any-prompt to paint it anyway")  # fmt: skip
    with torch.no_grad():
        weight = next(adapter.parameters())
        embeds = adapter(states.to(weight.device, weight.dtype))
    scene = world_scenes(embeds, painter)[0] if isinstance(painter, ShapesWorldPainter) else None
    timings["adapter"] = time.perf_counter() - start - timings["audio"]
    if scene is not None:
        generation = generate(Prompt(scene, source=name), painter, generate_config, progress=progress)
    else:
        label = Prompt(f"sound: {Path(name).name}", source=name)  # what the images say they were painted from
        generation = generate(label, painter, generate_config, prompt_embeds=embeds, progress=progress)
    timings["paint"] = time.perf_counter() - start - timings["audio"] - timings["adapter"]
    return SoundToImageResult(name, adapter_name, generation, timings, scene)


def world_scenes(embeds: torch.Tensor, painter: Painter) -> list[str]:
    """The spec's sound scene (its caption) nearest to each of (N, S, D) adapter outputs, in `painter`'s
    text space."""
    captions = [sound_scene_caption(label) for label in SOUND_LABELS]
    nearest = nearest_scenes(embeds.float().cpu(), scene_states(painter, captions).cpu())
    return [captions[i] for i in nearest.tolist()]


class SoundToImage:
    """Sound -> image, models loaded once. With no names, the adapter shipped in the package and the
    models it was trained for (offline); an adapter only works with the models it names.

    >>> s2i = SoundToImage.from_pretrained()
    >>> s2i("bell.wav").images[0]
    """

    def __init__(self, asr: WhisperAsr, adapter: AudioAdapter, painter: Painter, *, adapter_name: str,
                 gate: SoundGate | None = None) -> None:  # fmt: skip
        self.asr = asr
        self.adapter = adapter
        self.painter = painter
        self.adapter_name = adapter_name
        self.gate = gate  # refuses sounds that are none of the adapter's (the adapter's folder may hold one)

    @classmethod
    def from_pretrained(
        cls,
        adapter: str | Path | None = None,
        asr_model: str | Path | None = None,
        image_model: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        backend: str = "auto",
    ) -> SoundToImage:
        loaded = load_adapter(adapter, device=device)
        config = loaded.config
        asr_name = str(asr_model or resolve_model(config.audio_encoder, bundled_asr_dir()))
        image_name = str(image_model or resolve_model(config.image_model, bundled_image_model_dir()))
        asr = load_asr(asr_name, device=device, dtype=dtype, backend=backend)
        if not isinstance(asr, WhisperAsr):  # the adapter reads Whisper's encoder states, not a transcript
            raise ConfigError(f"ASR model '{asr_name}': the audio adapter needs a Whisper encoder")
        painter = load_painter(image_name, device=device, dtype=dtype, backend=backend)
        check_painter(painter, GenerateConfig(), prompt_embeds=True)
        if painter.text_encoder is None:
            raise ConfigError(f"image model '{image_name}' has no text encoder for the audio adapter to fit")
        check_adapter_fits(config, asr.model.get_encoder(), painter.text_encoder, audio_name=asr_name,
                           image_name=image_name)  # fmt: skip
        loaded.to(asr.model.dtype)
        gate = load_sound_gate(adapter)
        return cls(asr, loaded, painter, adapter_name=str(adapter or bundled_adapter_dir()), gate=gate)

    def __call__(
        self, audio: Path | str | np.ndarray, *, generate_config: GenerateConfig | None = None,
        any_sound: bool = False, progress: bool = True,
    ) -> SoundToImageResult:  # fmt: skip
        """Paint `audio`; a sound that is none of the adapter's is refused unless `any_sound`."""
        return sound_to_image(
            audio, self.asr, self.adapter, self.painter, adapter_name=self.adapter_name,
            generate_config=generate_config or default_generate_config(self.painter.name),
            gate=None if any_sound else self.gate, progress=progress,
        )  # fmt: skip
