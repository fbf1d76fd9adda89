"""Whisper run by CTranslate2 (faster-whisper's engine): one window, greedy, without timestamps, as
transformers' generate() decodes it, with a key-value cache in C++. On a CPU without native bf16 it runs
Whisper-small about twice as fast as torch in float32 (docs/cpu_backends.md), where our OpenVINO graphs,
stateless and re-reading the prefix each step, gain nothing at that width.

The model already in memory is converted (no second read of its files; no pickles), once, into the
conversion cache with the generation config's suppressed tokens written in; the caption scorer stays in torch.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundsight.backends.conversion_cache import cached_entry
from soundsight.runtime import Runtime

FORMAT_VERSION = 1  # bump when what is converted changes


@dataclass(frozen=True)
class Ct2Whisper:
    """A converted Whisper, loaded for the CPU."""

    model: Any  # ctranslate2.models.Whisper
    multilingual: bool

    def encode(self, features: torch.Tensor) -> Any:
        """(1, n_mels, frames) log-mel features -> the encoder's states, kept by CTranslate2."""
        import ctranslate2

        return self.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features.float().numpy())))

    def language(self, encoded: Any) -> str:
        """The likeliest language code, as the first decoding step after start-of-transcript reads it."""
        token, _ = self.model.detect_language(encoded)[0][0]
        return str(token)[2:-2]

    def greedy(self, encoded: Any, prompt: list[int], *, max_new_tokens: int) -> tuple[list[int], float]:
        """Tokens after `prompt`, the likeliest each step until the end of text or `max_new_tokens`, and the
        no-speech probability at the start-of-transcript step."""
        # CTranslate2 decodes at most min(max_length / 2, max_length - len(prompt) + 1) new tokens (whisper.cc)
        length = max(2 * max_new_tokens, max_new_tokens + len(prompt))
        # suppress_tokens=[-1]: the converted config's, which are the generation config's (written in at conversion)
        (result,) = self.model.generate(encoded, [prompt], beam_size=1, max_length=length, suppress_tokens=[-1],
                                        suppress_blank=True, return_no_speech_prob=True)  # fmt: skip
        return list(result.sequences_ids[0][:max_new_tokens]), float(result.no_speech_prob)


def ctranslate2_whisper(model: Any, tokenizer: Any, identity: object, runtime: Runtime, *,
                        threads: int | None = None, root: Path | None = None) -> Ct2Whisper:  # fmt: skip
    """`model` (a transformers Whisper, float32) converted (or read from the cache) and loaded for CTranslate2
    on `threads` of the CPU's threads (None: all)."""
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    config = model.generation_config
    suppress = sorted(int(t) for t in config.suppress_tokens or [])
    begin_suppress = sorted(int(t) for t in config.begin_suppress_tokens or [])

    class InMemory(TransformersConverter):
        """Converts the model already loaded; only its config is read from a folder, written here."""

        def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return model

        def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
            return tokenizer

    def write(folder: Path) -> None:
        with tempfile.TemporaryDirectory() as config_folder:
            model.config.save_pretrained(config_folder)
            InMemory(config_folder).convert(str(folder), force=True)
        settings_file = folder / "config.json"
        settings = json.loads(settings_file.read_text())
        settings.update(suppress_ids=suppress, suppress_ids_begin=begin_suppress)  # as generate() suppresses them
        settings_file.write_text(json.dumps(settings))

    versions = {"ctranslate2": ctranslate2.__version__, "format": str(FORMAT_VERSION)}
    settings: dict[str, object] = {"precision": runtime.dtype, "suppress": suppress, "begin_suppress": begin_suppress}
    folder = cached_entry("ctranslate2", "whisper", identity, settings, versions, write, root=root,
                          reads=lambda f: json.loads((f / "config.json").read_text()))  # fmt: skip
    loaded = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type=runtime.dtype,
                                        intra_threads=threads or torch.get_num_threads())  # fmt: skip
    return Ct2Whisper(loaded, bool(loaded.is_multilingual))
