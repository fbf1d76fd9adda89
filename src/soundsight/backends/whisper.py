"""Whisper (transformers) behind the ASR interface: transcribe or translate, long audio whole."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import WhisperForConditionalGeneration, WhisperProcessor

from soundsight.asr import AsrCapabilities, Segment, TextScorer, TranscribeOptions, Transcript
from soundsight.audio import SAMPLE_RATE
from soundsight.backends.ctranslate2_whisper import Ct2Whisper
from soundsight.backends.openvino_whisper import OpenVinoWhisper
from soundsight.errors import AudioError
from soundsight.runtime import Runtime

NO_SPEECH_TOKEN = "<|nocaptions|>"


def whisper_capabilities(generation_config: Any) -> AsrCapabilities:
    """What a Whisper checkpoint can do by its generation config: a multilingual one hears any of its
    languages and translates; one with a no-timestamps token gives timestamps."""
    multilingual = bool(getattr(generation_config, "is_multilingual", False))
    timestamps = getattr(generation_config, "no_timestamps_token_id", None) is not None
    return AsrCapabilities(languages=None if multilingual else ("en",), translate=multilingual, timestamps=timestamps)


@dataclass(frozen=True)
class WhisperAsr:
    """A Whisper model and its processor, as loading.load_asr returns them."""

    model: WhisperForConditionalGeneration
    processor: WhisperProcessor
    name: str
    capabilities: AsrCapabilities  # whisper_capabilities(model.generation_config), or what its folder declares
    runtime: Runtime | None = None  # what runs it (runtime.py); None: torch in the model's dtype
    engine: OpenVinoWhisper | Ct2Whisper | None = None  # runs one window without timestamps; torch the rest

    @property
    def context_s(self) -> float:
        """Audio one forward pass hears, from the model's config (30 s for OpenAI's checkpoints)."""
        extractor = self.processor.feature_extractor
        frames = 2 * self.model.config.max_source_positions  # the encoder's conv halves the mel frames
        return frames * extractor.hop_length / extractor.sampling_rate

    @property
    def runtime_name(self) -> str:
        """What runs it, as transcripts and sidecars record it."""
        if self.runtime is not None:
            return str(self.runtime)
        return str(Runtime("torch", str(self.model.dtype).removeprefix("torch."), self.model.device.type))

    @property
    def multilingual(self) -> bool:
        return bool(getattr(self.model.generation_config, "is_multilingual", False))

    def transcribe(self, waveform: np.ndarray, options: TranscribeOptions) -> Transcript:
        if len(waveform) == 0:
            raise AudioError("no audio to transcribe")
        features, attention_mask = self._features(waveform)
        if self.engine is not None and attention_mask is None and not options.return_timestamps:
            if isinstance(self.engine, Ct2Whisper):
                return self._transcribe_ctranslate2(self.engine, features, options)
            return self._transcribe_openvino(self.engine, features, options)
        language, no_speech_prob = self._first_window_probe(features, options.language)
        if no_speech_prob is not None and no_speech_prob > options.no_speech_threshold:
            raise AudioError(f"Whisper hears no speech (no-speech probability {no_speech_prob:.2f})")
        long = attention_mask is not None
        kwargs: dict[str, object] = {"return_timestamps": options.return_timestamps or long}
        if self.multilingual:
            kwargs.update(language=language, task=options.task)
        if options.max_new_tokens is not None:
            kwargs["max_new_tokens"] = options.max_new_tokens
        with torch.no_grad():
            ids = self.model.generate(features, attention_mask=attention_mask, **kwargs)
        tokenizer = self.processor.tokenizer
        if options.return_timestamps:
            decoded = tokenizer.decode(ids[0], skip_special_tokens=True, output_offsets=True)
            segments = tuple(Segment(float(o["timestamp"][0]), float(o["timestamp"][1]), o["text"].strip())
                             for o in decoded["offsets"])  # fmt: skip
            text = decoded["text"]
        else:
            text, segments = tokenizer.decode(ids[0], skip_special_tokens=True), ()
        return Transcript(" ".join(text.split()), language, options.task, self.name, no_speech_prob, segments,
                          self.runtime_name)  # fmt: skip

    def text_scorer(self, waveform: np.ndarray) -> TextScorer | None:
        """How likely this Whisper finds each text (natural log, end of text included) said in `waveform`,
        decoded as it transcribes English; None for audio longer than one window."""
        if len(waveform) > self.context_s * SAMPLE_RATE:
            return None
        features, _ = self._features(waveform)
        if isinstance(self.engine, OpenVinoWhisper):  # CTranslate2 scores no given texts: torch does
            engine, cross = self.engine, self.engine.encode(features)
            return lambda texts: self._log_likelihoods(lambda ids, _: engine.states(ids, cross), texts)
        with torch.no_grad():
            states = self.model.get_encoder()(features).last_hidden_state

        def decoded(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            expanded = states.expand(len(ids), -1, -1)
            return self.model.get_decoder()(input_ids=ids, attention_mask=mask,
                                            encoder_hidden_states=expanded).last_hidden_state  # fmt: skip

        return lambda texts: self._log_likelihoods(decoded, texts)

    @torch.no_grad()
    def _log_likelihoods(self, decoded: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                         texts: list[str]) -> list[float]:  # fmt: skip
        """Each text's log-likelihood; `decoded(ids, mask)` gives the decoder's (B, L, D) states."""
        device = self.model.device
        tokenizer = self.processor.tokenizer
        if self.multilingual:
            tokenizer.set_prefix_tokens(language="en", task="transcribe", predict_timestamps=False)
        rows = [tokenizer(" " + text.strip()).input_ids for text in texts]  # Whisper's text starts with a space
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), tokenizer.eos_token_id, dtype=torch.long, device=device)
        mask = torch.zeros_like(ids)
        for k, row in enumerate(rows):
            ids[k, : len(row)], mask[k, : len(row)] = torch.tensor(row), 1
        hidden = decoded(ids[:, :-1], mask[:, :-1])
        # The decoder is causal: texts that begin alike share their next-token distributions there, so the
        # vocabulary-wide projection (nearly all of the work) runs once per distinct prefix.
        where, places = shared_prefixes(rows)
        at = torch.tensor(places, dtype=torch.long, device=device)  # (U, 2) row, position
        log_probs = self.model.get_output_embeddings()(hidden[at[:, 0], at[:, 1]]).float().log_softmax(-1)  # (U, V)
        prefix = torch.tensor([u for slots in where for u in slots], device=device)
        token = torch.tensor([i for row in rows for i in row[1:]], device=device)
        owner = torch.tensor([k for k, row in enumerate(rows) for _ in row[1:]], device=device)
        picked = log_probs[prefix, token]
        return torch.zeros(len(rows), device=device).index_add_(0, owner, picked).tolist()

    def _transcribe_openvino(self, engine: OpenVinoWhisper, features: torch.Tensor,
                             options: TranscribeOptions) -> Transcript:  # fmt: skip
        """One window without timestamps, decoded as transformers' generate() decodes it (greedy; its forced,
        suppressed and first-suppressed tokens), each step by OpenVINO."""
        config, tokenizer = self.model.generation_config, self.processor.tokenizer
        cross = engine.encode(features)
        first = engine.next_logits([config.decoder_start_token_id], cross)  # what the probe reads
        language = options.language
        if language is None and self.multilingual:
            language_ids = torch.tensor(sorted(config.lang_to_id.values()))
            token_id = int(language_ids[first[language_ids].argmax()])
            language = tokenizer.convert_ids_to_tokens(token_id)[2:-2]
        no_speech_prob = None
        no_speech_id = tokenizer.convert_tokens_to_ids(NO_SPEECH_TOKEN)
        if isinstance(no_speech_id, int) and no_speech_id != tokenizer.unk_token_id:
            no_speech_prob = float(first.softmax(-1)[no_speech_id])
            if no_speech_prob > options.no_speech_threshold:
                raise AudioError(f"Whisper hears no speech (no-speech probability {no_speech_prob:.2f})")
        prompt = self._prompt(language, options.task)
        tokens = engine.greedy(prompt, cross, max_new_tokens=self._room(prompt, options), eos=config.eos_token_id,
                               suppress=list(config.suppress_tokens or []),
                               begin_suppress=list(config.begin_suppress_tokens or []))  # fmt: skip
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        return Transcript(" ".join(text.split()), language, options.task, self.name, no_speech_prob,
                          runtime=self.runtime_name)  # fmt: skip

    def _transcribe_ctranslate2(self, engine: Ct2Whisper, features: torch.Tensor,
                                options: TranscribeOptions) -> Transcript:  # fmt: skip
        """One window without timestamps, greedy, by CTranslate2 (its suppressed tokens: the generation config's)."""
        tokenizer = self.processor.tokenizer
        encoded = engine.encode(features)
        language = options.language
        if language is None and self.multilingual:
            language = engine.language(encoded)
        prompt = self._prompt(language, options.task)
        tokens, no_speech = engine.greedy(encoded, prompt, max_new_tokens=self._room(prompt, options))
        no_speech_id = tokenizer.convert_tokens_to_ids(NO_SPEECH_TOKEN)
        no_speech_prob = None
        if isinstance(no_speech_id, int) and no_speech_id != tokenizer.unk_token_id:
            no_speech_prob = no_speech
            if no_speech_prob > options.no_speech_threshold:
                raise AudioError(f"Whisper hears no speech (no-speech probability {no_speech_prob:.2f})")
        text = tokenizer.decode(tokens, skip_special_tokens=True)
        return Transcript(" ".join(text.split()), language, options.task, self.name, no_speech_prob,
                          runtime=self.runtime_name)  # fmt: skip

    def _prompt(self, language: str | None, task: str) -> list[int]:
        """The tokens generate() starts one window without timestamps from."""
        config = self.model.generation_config
        prompt = [config.decoder_start_token_id]
        if self.multilingual:
            prompt += [config.lang_to_id[f"<|{language}|>"], config.task_to_id[task]]
        if getattr(config, "no_timestamps_token_id", None) is not None:
            prompt.append(config.no_timestamps_token_id)
        return prompt

    def _room(self, prompt: list[int], options: TranscribeOptions) -> int:
        """How many tokens may follow `prompt`: the decoder's positions left, or fewer if asked."""
        room = int(self.model.config.max_target_positions) - len(prompt)
        return room if options.max_new_tokens is None else min(options.max_new_tokens, room)

    def _features(self, waveform: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(1, n_mels, frames) features; audio longer than the context keeps its full length."""
        long = len(waveform) > self.context_s * SAMPLE_RATE
        kwargs = {"truncation": False, "padding": "longest", "return_attention_mask": True} if long else {}
        inputs = self.processor(waveform, sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs)
        features = inputs.input_features.to(self.model.device, self.model.dtype)
        mask = inputs.get("attention_mask") if long else None
        return features, (mask.to(self.model.device) if mask is not None else None)

    @torch.no_grad()
    def _first_window_probe(self, features: torch.Tensor, language: str | None) -> tuple[str | None, float | None]:
        """Detect the language (if not given) and Whisper's no-speech probability on the first window."""
        tokenizer = self.processor.tokenizer
        window = features[:, :, : 2 * self.model.config.max_source_positions]
        if language is None and self.multilingual:
            token_id = int(self.model.detect_language(window)[0])
            language = tokenizer.convert_ids_to_tokens(token_id)[2:-2]
        no_speech_id = tokenizer.convert_tokens_to_ids(NO_SPEECH_TOKEN)
        if not isinstance(no_speech_id, int) or no_speech_id == tokenizer.unk_token_id:
            return language, None
        start = torch.tensor([[self.model.generation_config.decoder_start_token_id]], device=features.device)
        logits = self.model(input_features=window, decoder_input_ids=start).logits[0, -1].float()
        return language, float(logits.softmax(-1)[no_speech_id])


def shared_prefixes(rows: list[list[int]]) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """For token rows, each next-token prediction's distinct prefix: `where[k][t]` indexes `places`, the
    (row, position) that first ends that prefix (position t predicts row[t + 1])."""
    index: dict[tuple[int, ...], int] = {}
    places: list[tuple[int, int]] = []
    where = []
    for k, row in enumerate(rows):
        slots = []
        for t in range(len(row) - 1):
            key = tuple(row[: t + 1])
            if key not in index:
                index[key] = len(places)
                places.append((k, t))
            slots.append(index[key])
        where.append(slots)
    return where, places
