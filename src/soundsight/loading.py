"""The only module that reads model weights: a Hub id or a local folder, safetensors only."""

from __future__ import annotations

import json
import logging
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import torch
from safetensors import safe_open
from safetensors.torch import load_file, load_model

from soundsight.asr import AsrBackend, AsrCapabilities
from soundsight.defaults import (
    ASR_SETTINGS_FILE,
    AUTO_ASR,
    CGAN,
    KEYWORDS,
    SPEECH_TRANSFORMER,
    STACKGAN,
    STACKGAN_STAGE1,
    bundled_adapter_dir,
    bundled_cgan_dir,
    bundled_image_model_dir,
    bundled_keywords_dir,
    bundled_shape_classifier_dir,
    bundled_speech_transformer_dir,
    bundled_stackgan_dir,
    paints_spoken_shapes,
)
from soundsight.devices import resolve_device
from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.generate import Painter
from soundsight.models.shape_classifier import ShapeClassifier, ShapeClassifierConfig
from soundsight.runtime import asr_runtime, dtype_name, image_runtime

if TYPE_CHECKING:
    from diffusers import AutoencoderKL, DiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, PreTrainedModel

    from soundsight.backends.cgan import CganPainter
    from soundsight.backends.ctranslate2_whisper import Ct2Whisper
    from soundsight.backends.keywords import KeywordsAsr
    from soundsight.backends.moonshine import MoonshineAsr, MoonshineScorer
    from soundsight.backends.openvino_whisper import OpenVinoWhisper
    from soundsight.backends.speech_transformer import SpeechTransformerAsr
    from soundsight.backends.stackgan import StackGanPainter
    from soundsight.backends.whisper import WhisperAsr
    from soundsight.models.audio_adapter import AudioAdapter
    from soundsight.models.char_cnn_rnn import CharCnnRnn
    from soundsight.models.sound_gate import SoundGate
    from soundsight.models.stackgan import ClipCaptionEmbedding, StackGanConfig
    from soundsight.models.vocoder import Vocoder
    from soundsight.models.word_classifier import WordClassifier

logger = logging.getLogger(__name__)
T = TypeVar("T")

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
MOONSHINE = "moonshine"  # the name that picks Moonshine, as --asr-model moonshine


@dataclass(frozen=True)
class Encoder:
    """A transformers model and its processor, named: CLIP (load_clip) or a ViT image encoder such as DINO's
    ViTModel or DINOv2's Dinov2Model (load_dino)."""

    model: PreTrainedModel
    processor: Any  # CLIPProcessor, or the image encoder's image processor
    name: str


def load_adapter(folder: Path | str | None = None, *, device: str = "auto") -> AudioAdapter:
    """Return the audio adapter saved in `folder` (default: the bundled one), in eval mode on `device`."""
    from soundsight.models.audio_adapter import AdapterConfig, AudioAdapter

    folder = Path(folder).expanduser() if folder is not None else bundled_adapter_dir()
    weights, config_file = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    if not weights.is_file() or not config_file.is_file():
        raise ModelNotFoundError(f"audio adapter '{folder}': no {WEIGHTS_NAME} and {CONFIG_NAME} there")
    try:
        adapter = AudioAdapter(AdapterConfig.load(folder))
        adapter.load_state_dict(load_file(weights))
    except (TypeError, ValueError, RuntimeError) as e:
        raise ModelNotFoundError(f"audio adapter '{folder}': not an adapter this version reads ({e})") from e
    logger.info("loaded audio adapter '%s'", folder)
    return adapter.to(resolve_device(device)).eval()


def load_sound_gate(folder: Path | str | None = None) -> SoundGate | None:
    """The sound gate saved beside an audio adapter in `folder` (default: the bundled one); None if it has none."""
    from soundsight.models.sound_gate import GATE_CONFIG_NAME, GATE_WEIGHTS_NAME, SoundGate, SoundGateConfig

    folder = Path(folder).expanduser() if folder is not None else bundled_adapter_dir()
    weights, config_file = folder / GATE_WEIGHTS_NAME, folder / GATE_CONFIG_NAME
    if not weights.is_file() or not config_file.is_file():
        return None
    try:
        gate = SoundGate(SoundGateConfig.load(folder))
        gate.load_state_dict(load_file(str(weights)))
    except (ValueError, TypeError, KeyError, RuntimeError) as e:
        raise ModelNotFoundError(f"sound gate '{folder}': unreadable ({e.__class__.__name__}: {e})") from e
    return gate.eval()


def load_shape_classifier(folder: Path | str | None = None) -> ShapeClassifier:
    """Return the shape classifier saved in `folder` (default: the bundled one), in eval mode on CPU."""
    folder = Path(folder) if folder is not None else bundled_shape_classifier_dir()
    weights, config_file = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    if not weights.is_file() or not config_file.is_file():
        raise ModelNotFoundError(f"shape classifier '{folder}': no {WEIGHTS_NAME} and {CONFIG_NAME} there")
    config = ShapeClassifierConfig.from_dict(json.loads(config_file.read_text()))
    model = ShapeClassifier(config)
    model.load_state_dict(load_file(weights))
    return model.eval()


@lru_cache(maxsize=1)
def default_shape_classifier() -> ShapeClassifier:
    """The bundled shape classifier, loaded once per process."""
    return load_shape_classifier()


DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """Return the torch dtype for "float32"/"fp32", "bfloat16"/"bf16" or "float16"/"fp16" on `device`
    ("auto" is decided per model: runtime.py).

    float16 on a CPU falls back to float32 with a warning: CPU kernels for it are slow or missing.
    """
    name = dtype_name(dtype)
    if name == "auto":
        raise ConfigError("dtype 'auto' is decided per model: give float32, bfloat16 or float16 here")
    if name == "float16" and device.type == "cpu":
        warnings.warn("float16 asked for on a CPU: using float32 instead", stacklevel=2)
        return torch.float32
    return DTYPES[name]


def _is_local(name: str | Path) -> bool:
    return Path(name).expanduser().exists() or str(name).startswith((".", "/", "~"))


def _check_folder(name: str | Path, kind: str) -> None:
    """A name that reads as a path must be a folder (a Hub id is looked up later)."""
    if _is_local(name) and not Path(name).expanduser().is_dir():
        raise ModelNotFoundError(f"{kind} '{name}': no such folder")


def _not_found(name: str | Path, kind: str, flag: str, error: Exception) -> ModelNotFoundError:
    if _is_local(name):
        return ModelNotFoundError(
            f"{kind} '{name}': not a model folder ({type(error).__name__}: {error})".split("\n")[0]
        )
    return ModelNotFoundError(
        f"{kind} '{name}' is not on this machine and the Hugging Face Hub cannot be reached: "
        f"download it where there is a network, then pass its folder ({flag} PATH)"
    )


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers at all (one TCP connect), so offline use fails fast."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    host = urlparse(constants.ENDPOINT).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def _from_pretrained(load: Callable[..., T], name: str | Path, **kwargs: Any) -> T:
    """Call a from_pretrained: a local folder or the Hub cache first, the Hub only if it answers."""
    if _is_local(name):
        return load(str(Path(name).expanduser()), **kwargs)
    try:
        return load(str(name), local_files_only=True, **kwargs)
    except (OSError, ValueError):
        if not hub_reachable():
            raise
    return load(str(name), **kwargs)


def asr_backend(name: str | Path) -> str:
    """Which backend reads the ASR model `name`: a name of its own (moonshine), else the backend for the model_type
    a folder's config.json holds, else Whisper (a Hub id)."""
    if str(name) in NAMED_ASR:
        return NAMED_ASR[str(name)]
    config_file = run_model_folder(name) / CONFIG_NAME
    if _is_local(name) and config_file.is_file():
        try:
            model_type = json.loads(config_file.read_text()).get("model_type")
        except (ValueError, AttributeError) as e:
            raise ModelNotFoundError(f"ASR model '{name}': unreadable {CONFIG_NAME} ({e})") from e
        if model_type not in ASR_FOLDER_TYPES:
            raise ModelNotFoundError(f"ASR model '{name}': holds a {model_type} model, which no ASR backend reads "
                                     f"(expected one of {', '.join(ASR_FOLDER_TYPES)})")  # fmt: skip
        return ASR_FOLDER_TYPES[model_type]
    return "whisper"


def load_asr(name: str | Path, *, device: str = "auto", dtype: str = "auto", backend: str = "auto",
             threads: int | None = None) -> AsrBackend:  # fmt: skip
    """Return the ASR backend for `name`, ready on `device`: a Whisper (Hub id or local folder; `backend` and
    `dtype` as runtime.py decides them; `threads`: an OpenVINO engine's share of the CPU, None for all),
    Moonshine tiny English (its own runtime) for the name "moonshine", our Speech-Transformer for the name
    "speech-transformer" or a folder it was saved in; a training run's folder reads the model in its model/."""
    backend_name = asr_backend(name)
    if str(name) not in NAMED_ASR and _is_local(name) and run_model_folder(name) != Path(name).expanduser():
        name = run_model_folder(name)
    return ASR_BACKENDS[backend_name](name, device=device, dtype=dtype, backend=backend, threads=threads)


def run_model_folder(name: str | Path) -> Path:
    """The model a training run saved in its model/ folder when `name` is that run's folder (whose own
    config.json is the run's settings, with no model_type), else `name` itself."""
    folder = Path(name).expanduser()
    inner = folder / "model" / CONFIG_NAME
    if not inner.is_file():
        return folder
    try:
        own = json.loads((folder / CONFIG_NAME).read_text()) if (folder / CONFIG_NAME).is_file() else {}
    except ValueError:
        own = {}
    return folder if isinstance(own, dict) and "model_type" in own else folder / "model"


def declared_asr_capabilities(folder: Path, found: AsrCapabilities) -> AsrCapabilities:
    """`found` with what a model folder's ASR_SETTINGS_FILE declares in its place (our Spoken Shapes Whisper
    carries OpenAI's multilingual tokenizer but hears only English captions and gives no timestamps)."""
    settings_file = folder / ASR_SETTINGS_FILE
    if not settings_file.is_file():
        return found
    known = {f.name for f in fields(AsrCapabilities)}
    try:
        declared = json.loads(settings_file.read_text())
        unknown = set(declared) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if declared.get("languages") is not None:
            declared["languages"] = tuple(str(code) for code in declared["languages"])
        return AsrCapabilities(**{**{k: getattr(found, k) for k in known}, **declared})
    except (ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f"'{settings_file}': expected {', '.join(sorted(known))} as JSON ({e})") from e


def load_whisper(name: str | Path, *, device: str = "auto", dtype: str = "auto", backend: str = "auto",
                 threads: int | None = None) -> WhisperAsr:  # fmt: skip
    """Return a Whisper model (Hub id or local folder) and its processor, on `device`, in eval mode."""
    from transformers import AutoConfig, WhisperForConditionalGeneration, WhisperProcessor

    from soundsight.backends.whisper import WhisperAsr, whisper_capabilities

    target = resolve_device(device)
    _check_folder(name, "ASR model")
    try:
        config = _from_pretrained(AutoConfig.from_pretrained, name)
        runtime = asr_runtime(backend, dtype, target, width=int(getattr(config, "d_model", 0)),
                              converts=config.model_type == "whisper")  # fmt: skip
        load_dtype = DTYPES[runtime.dtype] if runtime.backend == "torch" else torch.float32
        model = _from_pretrained(
            WhisperForConditionalGeneration.from_pretrained, name, use_safetensors=True, dtype=load_dtype
        )
        processor = _from_pretrained(WhisperProcessor.from_pretrained, name)
    except (OSError, ValueError) as e:
        raise _not_found(name, "ASR model", "--asr-model", e) from e
    capabilities = whisper_capabilities(model.generation_config)
    if _is_local(name):
        capabilities = declared_asr_capabilities(Path(name).expanduser(), capabilities)
    model = model.to(target).eval()
    engine: OpenVinoWhisper | Ct2Whisper | None = None
    if runtime.backend == "openvino":
        from soundsight.backends.conversion_cache import files_identity
        from soundsight.backends.openvino_whisper import openvino_whisper

        engine = openvino_whisper(model, files_identity(hub_snapshot(name, config)), runtime, threads=threads)
    elif runtime.backend == "ctranslate2":
        from soundsight.backends.conversion_cache import files_identity
        from soundsight.backends.ctranslate2_whisper import ctranslate2_whisper

        engine = ctranslate2_whisper(model, processor.tokenizer, files_identity(hub_snapshot(name, config)), runtime,
                                     threads=threads)  # fmt: skip
    logger.info("loaded ASR model '%s': %s", name, runtime)
    return WhisperAsr(model, processor, str(name), capabilities, runtime, engine)


def hub_snapshot(name: str | Path, config: Any) -> Path:
    """The folder a model was read from: itself, or its Hub snapshot (whose folder name is its revision)."""
    if _is_local(name):
        return Path(name).expanduser()
    from transformers.utils import cached_file

    found = cached_file(str(name), "config.json", local_files_only=True)
    return Path(found).parent if found else Path(str(getattr(config, "_name_or_path", name)))


def load_moonshine(
    name: str | Path = MOONSHINE,
    *,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    threads: int | None = None,
) -> MoonshineAsr:
    """Return Moonshine tiny English from the installed wheel (it runs on the CPU in its own runtime)."""
    try:
        from moonshine_voice import ModelArch, Transcriber, get_model_path
    except ImportError as e:
        raise ModelNotFoundError(
            "ASR model 'moonshine': the moonshine-voice package is not installed (pip install moonshine-voice==0.0.73)"
        ) from e
    from soundsight.backends.moonshine import MoonshineAsr

    folder = Path(get_model_path("tiny-en"))
    return MoonshineAsr(Transcriber(str(folder), ModelArch.TINY), load_moonshine_scorer(folder))


def load_moonshine_scorer(folder: Path) -> MoonshineScorer:
    """Moonshine's ONNX encoder and decoder from the wheel's model folder, run by onnxruntime on the CPU."""
    import onnxruntime

    from soundsight.backends.moonshine import MoonshineScorer, PieceTokenizer, read_vocabulary

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings about unused initialisers are no news to users
    # idle threads sleep instead of spinning: the web app runs copies side by side (benchmarks/bench_listeners.py)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")

    def session(name: str) -> Any:
        return onnxruntime.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])

    decoder = session("decoder_model_merged.ort")
    past = [i for i in decoder.get_inputs() if i.name.startswith("past_key_values.")]
    _, heads, _, head_dim = past[0].shape
    tokenizer = PieceTokenizer(read_vocabulary(folder / "tokenizer.bin"))
    return MoonshineScorer(session("encoder_model.ort"), decoder, tokenizer, len(past) // 4, heads, head_dim)


def load_auto_asr(
    name: str | Path = AUTO_ASR,
    *,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    threads: int | None = None,
) -> AsrBackend:
    """Our Spoken Shapes Whisper and Moonshine behind one backend (backends/routed.py): captions in any voice
    are heard by the first, anything else people say by the second."""
    from soundsight.backends.routed import RoutedAsr
    from soundsight.defaults import bundled_asr_dir

    world = load_whisper(bundled_asr_dir(), device=device, dtype=dtype, backend=backend, threads=threads)
    return RoutedAsr(world, load_moonshine(device=device), AUTO_ASR)


def load_speech_transformer(
    name: str | Path = SPEECH_TRANSFORMER,
    *,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    threads: int | None = None,
) -> SpeechTransformerAsr:
    """Return a Speech-Transformer saved by `soundsight train speech-transformer`: the shipped one for the name
    "speech-transformer", else a model folder (config.json, model.safetensors) or a run folder holding model/;
    float32 on `device` in torch (`dtype` and `backend` "auto" or those)."""
    from soundsight.backends.speech_transformer import SpeechTransformerAsr
    from soundsight.models.speech_transformer import MODEL_TYPE, SpeechTransformer, SpeechTransformerConfig

    if dtype_name(dtype) not in ("auto", "float32") or backend not in ("auto", "torch"):
        raise ConfigError(f"ASR model '{name}': the Speech-Transformer runs in torch float32 only")
    folder = bundled_speech_transformer_dir() if str(name) == SPEECH_TRANSFORMER else run_model_folder(name)
    weights, config_file = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    if not weights.is_file() or not config_file.is_file():
        raise ModelNotFoundError(f"ASR model '{name}': no {WEIGHTS_NAME} and {CONFIG_NAME} there")
    try:
        settings = json.loads(config_file.read_text())
        if settings.get("model_type") != MODEL_TYPE:
            raise ValueError(f"model_type {settings.get('model_type')!r}")
        model = SpeechTransformer(SpeechTransformerConfig.from_dict(settings))
        load_weights_into(model, weights)
    except (ConfigError, ValueError, TypeError, RuntimeError) as e:
        raise ModelNotFoundError(f"ASR model '{name}': not a Speech-Transformer this version reads ({e})") from e
    logger.info("loaded ASR model '%s': the Speech-Transformer", name)
    return SpeechTransformerAsr(model.to(resolve_device(device)).eval(), str(name))


def load_keywords(name: str | Path = KEYWORDS, *, device: str = "auto", dtype: str = "auto", backend: str = "auto",
                  threads: int | None = None) -> KeywordsAsr:  # fmt: skip
    """Return a keyword recogniser saved by `soundsight train keywords`: the shipped one for the name "keywords",
    else a model folder (config.json, model.safetensors) or a run folder holding model/; torch float32."""
    from soundsight.backends.keywords import KeywordsAsr
    from soundsight.models import keyword_cnn, keyword_mlp

    if dtype_name(dtype) not in ("auto", "float32") or backend not in ("auto", "torch"):
        raise ConfigError(f"ASR model '{name}': the keyword recogniser runs in torch float32 only")
    folder = bundled_keywords_dir() if str(name) == KEYWORDS else run_model_folder(name)
    weights, config_file = folder / WEIGHTS_NAME, folder / CONFIG_NAME
    if not weights.is_file() or not config_file.is_file():
        raise ModelNotFoundError(f"ASR model '{name}': no {WEIGHTS_NAME} and {CONFIG_NAME} there")
    model: keyword_mlp.KeywordMlp | keyword_cnn.KeywordCnn
    try:
        settings = json.loads(config_file.read_text())
        if settings.get("model_type") == keyword_mlp.MODEL_TYPE:
            model = keyword_mlp.KeywordMlp(keyword_mlp.KeywordMlpConfig.from_dict(settings))
        elif settings.get("model_type") == keyword_cnn.MODEL_TYPE:
            model = keyword_cnn.KeywordCnn(keyword_cnn.KeywordCnnConfig.from_dict(settings))
        else:
            raise ValueError(f"model_type {settings.get('model_type')!r}")
        load_weights_into(model, weights)
    except (ConfigError, ValueError, TypeError, KeyError, RuntimeError) as e:
        raise ModelNotFoundError(f"ASR model '{name}': not a keyword recogniser this version reads ({e})") from e
    logger.info("loaded ASR model '%s': a keyword recogniser", name)
    return KeywordsAsr(model.to(resolve_device(device)).eval(), str(name))


ASR_BACKENDS: dict[str, Callable[..., AsrBackend]] = {
    "whisper": load_whisper,
    "moonshine": load_moonshine,
    "auto": load_auto_asr,
    "speech-transformer": load_speech_transformer,
    "keywords": load_keywords,
}
NAMED_ASR = {  # picked by a name of their own, not a Hub id or a folder
    MOONSHINE: "moonshine",
    AUTO_ASR: "auto",
    SPEECH_TRANSFORMER: "speech-transformer",
    KEYWORDS: "keywords",
}
ASR_FOLDER_TYPES = {  # a folder's config.json model_type -> the backend that reads it
    "whisper": "whisper",
    "soundsight-speech-transformer": "speech-transformer",
    "soundsight-keyword-mlp": "keywords",
    "soundsight-keyword-cnn": "keywords",
}


def load_tensors(path: Path | str, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (checkpoints of our own runs among them); never a pickle."""
    return load_file(str(path), device=str(device))


def tensor_shapes(path: Path | str) -> dict[str, tuple[int, ...]]:
    """The name and shape of every tensor in a safetensors file, read from its header alone."""
    with safe_open(str(path), "pt") as f:
        return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)


def load_weights_into(model: torch.nn.Module, path: Path | str) -> None:
    """Load a safetensors file written by safetensors.torch.save_model into `model` (tied weights restored)."""
    load_model(model, str(path))


def check_lora_weights(lora: Path | str) -> None:
    """Raise ModelNotFoundError unless `lora` is a .safetensors file or a folder holding one (nothing else is
    read: another format could be a pickle)."""
    lora_path = Path(lora)
    if not lora_path.exists():
        raise ModelNotFoundError(f"LoRA weights '{lora}': no such file or folder")
    found = [lora_path] if lora_path.is_file() else list(lora_path.glob("*.safetensors"))
    if not found or any(p.suffix != ".safetensors" for p in found):
        raise ModelNotFoundError(f"LoRA weights '{lora}': no .safetensors file (only safetensors are read)")


def load_pipeline(
    name: str | Path,
    *,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    lora: Path | str | None = None,
    attention_slicing: bool = False,
    cpu_offload: bool = False,
) -> DiffusionPipeline:
    """Return a diffusers text-to-image pipeline (Hub id or local folder), ready on `device`; what runs it
    (`pipe.soundsight_runtime`, a runtime.Runtime) follows `backend` and `dtype` ("auto": runtime.py's rule).

    Args:
        backend: torch, openvino (the UNet and VAE decoder converted once and cached: backends/openvino.py),
            or auto.
        lora: LoRA weights (a folder or .safetensors file) loaded with load_lora_weights.
        attention_slicing: trade speed for memory in attention.
        cpu_offload: keep submodules on the CPU until used (needs accelerate and a GPU).
    """
    from diffusers import AutoPipelineForText2Image

    target = resolve_device(device)
    dtype = dtype_name(dtype)
    _check_folder(name, "image model")
    if lora is not None:
        check_lora_weights(lora)
    # decided once the model is loaded (its size, its UNet): until then float32, unless a dtype was named for torch
    named = dtype != "auto" and backend == "torch" and not (dtype == "float16" and target.type == "cpu")
    load_dtype = DTYPES[dtype] if named else torch.float32
    try:
        pipe = _from_pretrained(AutoPipelineForText2Image.from_pretrained, name, dtype=load_dtype, use_safetensors=True)
    except (OSError, ValueError) as e:
        raise _not_found(name, "image model", "--image-model", e) from e
    from soundsight.backends.openvino import unet_converts

    side = int(pipe.unet.config.sample_size if isinstance(pipe.unet.config.sample_size, int)
               else max(pipe.unet.config.sample_size)) * int(pipe.vae_scale_factor)  # fmt: skip
    runtime = image_runtime(backend, dtype, target, side_px=side, converts=unet_converts(pipe.unet))
    if lora is not None:
        try:
            pipe.load_lora_weights(str(lora), use_safetensors=True)  # never a pickle
        except (OSError, ValueError, KeyError) as e:
            raise ModelNotFoundError(f"LoRA weights '{lora}': cannot load them into '{name}' ({e})") from e
    if runtime.backend == "openvino":
        from soundsight.backends.openvino import to_openvino

        if lora is not None:
            pipe.fuse_lora()  # converted with the LoRA in its weights; the cache key names the LoRA's files
        to_openvino(pipe, model_identity(pipe, name, lora), runtime)
    elif DTYPES[runtime.dtype] != load_dtype:
        pipe.to(dtype=DTYPES[runtime.dtype])
    if runtime.backend == "torch" and target.type == "cpu" and runtime.dtype == "bfloat16":
        pipe.unet.to(memory_format=torch.channels_last)  # measured faster with bf16 on CPUs with AMX (issue 21)
    if attention_slicing:
        pipe.enable_attention_slicing()
    if cpu_offload and target.type != "cpu":
        pipe.enable_model_cpu_offload(device=target)
    else:
        pipe.to(target)
    pipe.soundsight_runtime = runtime
    logger.info("loaded image model '%s': %s", name, runtime)
    return pipe


def model_identity(pipe: DiffusionPipeline, name: str | Path, lora: Path | str | None) -> object:
    """What identifies the weights a converted model is made from: the UNet's and VAE's files (a Hub model's
    snapshot folder names its revision) and the LoRA's."""
    from soundsight.backends.conversion_cache import files_identity

    folder = hub_snapshot(name, pipe.config)
    return files_identity(folder / "unet", folder / "vae", lora)


def painter_backend(name: str | Path) -> str:
    """Which backend paints with the image model `name`: StackGAN (the name "stackgan" or "stackgan-1", or a
    folder, or a run folder, holding one), else a diffusers pipeline (a folder with model_index.json, or a Hub
    id)."""
    if str(name) in NAMED_PAINTERS:
        return "stackgan"
    if str(name) == CGAN:
        return "cgan"
    config_file = run_model_folder(name) / CONFIG_NAME
    if _is_local(name) and config_file.is_file() and not (Path(name).expanduser() / "model_index.json").is_file():
        try:
            model_type = json.loads(config_file.read_text()).get("model_type")
        except (ValueError, AttributeError):
            model_type = None
        if model_type == "soundsight-stackgan":
            return "stackgan"
        if model_type == "soundsight-cgan":
            return "cgan"
    return "diffusers"


def load_stackgan_painter(name: str | Path, *, device: str = "auto", lora: Path | str | None = None,
                          **options: Any) -> Painter:  # fmt: skip
    """StackGAN behind the painter interface: the shipped one ("stackgan": Stage II; "stackgan-1": its Stage I)
    or a folder saved by `soundsight train stackgan` (its last stage), in torch float32 on `device`."""
    if dtype_name(options.get("dtype", "auto")) not in ("auto", "float32") or options.get("backend", "auto") not in (
        "auto",
        "torch",
    ):
        raise ConfigError(f"image model '{name}': StackGAN paints in torch float32 only")
    stage = NAMED_PAINTERS.get(str(name))
    return load_stackgan(stackgan_folder(name), stage=stage, name=str(name), device=str(resolve_device(device)))


def stackgan_folder(name: str | Path) -> Path:
    """The folder of the StackGAN `name` names: the shipped one, a model folder, or a training run's model."""
    folder = bundled_stackgan_dir() if str(name) in NAMED_PAINTERS else run_model_folder(name)
    if not (folder / CONFIG_NAME).is_file():
        raise ModelNotFoundError(f"image model '{name}': no StackGAN there ({folder} holds no {CONFIG_NAME})")
    return folder


STACKGAN_WEIGHTS = {1: "stage1.safetensors", 2: "stage2.safetensors"}


def load_stackgan(folder: Path, *, stage: int | None = None, name: str | None = None,
                  device: str = "cpu") -> StackGanPainter:  # fmt: skip
    """The generators `soundsight train stackgan` saved in `folder` (config.json, stage1.safetensors,
    stage2.safetensors), painting with its last stage or `stage`; prompts embedded by the bundled image
    model's text encoder, as in training."""
    from soundsight.backends.stackgan import StackGanPainter
    from soundsight.models.stackgan import CHAR_CNN_RNN, MODEL_TYPE, StackGanConfig, Stage1Generator, Stage2Generator

    label = name or str(folder)
    try:
        settings = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"image model '{label}': no readable {CONFIG_NAME} ({e})") from e
    if settings.get("model_type") != MODEL_TYPE:
        raise ModelNotFoundError(f"image model '{label}': its {CONFIG_NAME} is not a StackGAN's")
    stages = [int(s) for s in settings.get("stages", [1])]
    stage = max(stages) if stage is None else stage
    if stage not in stages:
        raise ConfigError(f"image model '{label}': holds stage {', '.join(map(str, stages))}, not {stage}")
    try:
        config = StackGanConfig.from_dict(settings)
        stage1 = Stage1Generator(config)
        load_weights_into(stage1, folder / STACKGAN_WEIGHTS[1])
        stage2 = None
        if stage == 2:
            stage2 = Stage2Generator(config)
            load_weights_into(stage2, folder / STACKGAN_WEIGHTS[2])
    except (ConfigError, OSError, ValueError, RuntimeError) as e:
        raise ModelNotFoundError(f"image model '{label}': not a StackGAN this version reads ({e})") from e
    target = torch.device(device)
    captions = load_caption_embedding(config, folder / CHAR_CNN_RNN, label).to(target)
    return StackGanPainter(label, config, stage1.to(target), stage2.to(target) if stage2 else None, captions)


def load_caption_embedding(config: StackGanConfig, char_cnn_rnn: Path, label: str) -> ClipCaptionEmbedding | CharCnnRnn:
    """What embeds a StackGAN's captions: the char-CNN-RNN in `char_cnn_rnn` when `config` reads one, else the
    bundled image model's text encoder pooled as `config` says."""
    from soundsight.models.image_model import MAX_TOKENS
    from soundsight.models.stackgan import ClipCaptionEmbedding

    if config.text_pooling == "char-cnn-rnn":
        return load_char_cnn_rnn(char_cnn_rnn, label).eval()
    text_model = bundled_image_model_dir()
    text_encoder = load_denoiser(text_model)[0].eval().requires_grad_(False)
    tokenizer = load_tokenizer_folder(text_model / "tokenizer")
    return ClipCaptionEmbedding(text_encoder, tokenizer, config.text_pooling, MAX_TOKENS)


def load_char_cnn_rnn(folder: Path, label: str | None = None) -> CharCnnRnn:
    """The char-CNN-RNN text encoder `soundsight train char-cnn-rnn` saved in `folder` (its model/ for a run)."""
    from soundsight.models.char_cnn_rnn import TEXT_WEIGHTS, CharCnnRnn, CharCnnRnnConfig

    folder = folder / "model" if not (folder / TEXT_WEIGHTS).is_file() and (folder / "model").is_dir() else folder
    name = label or str(folder)
    try:
        model = CharCnnRnn(CharCnnRnnConfig.from_dict(json.loads((folder / CONFIG_NAME).read_text())))
        load_weights_into(model, folder / TEXT_WEIGHTS)
    except (ConfigError, OSError, ValueError, RuntimeError) as e:
        raise ModelNotFoundError(f"char-CNN-RNN '{name}': not one this version reads ({e})") from e
    return model


def load_cgan_painter(name: str | Path, *, device: str = "auto", lora: Path | str | None = None,
                      **options: Any) -> Painter:  # fmt: skip
    """The conditional GAN behind the painter interface: the shipped one ("cgan") or a folder (or run) saved by
    `soundsight train cgan`, in torch float32 on `device`."""
    if dtype_name(options.get("dtype", "auto")) not in ("auto", "float32") or options.get("backend", "auto") not in (
        "auto",
        "torch",
    ):
        raise ConfigError(f"image model '{name}': the cGAN paints in torch float32 only")
    folder = bundled_cgan_dir() if str(name) == CGAN else run_model_folder(name)
    return load_cgan(folder, name=str(name), device=str(resolve_device(device)))


def load_cgan(folder: Path, *, name: str | None = None, device: str = "cpu") -> CganPainter:
    """The generator `soundsight train cgan` saved in `folder` (config.json, generator.safetensors) with the word
    vectors it reads (vectors.bin, word2vec format)."""
    from soundsight.backends.cgan import CganPainter
    from soundsight.models.cgan import MODEL_TYPE, CganConfig, CganGenerator
    from soundsight.word_vectors import load_word_vectors

    label = name or str(folder)
    try:
        settings = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"image model '{label}': no readable {CONFIG_NAME} ({e})") from e
    if settings.get("model_type") != MODEL_TYPE:
        raise ModelNotFoundError(f"image model '{label}': its {CONFIG_NAME} is not a cGAN's")
    try:
        generator = CganGenerator(CganConfig.from_dict(settings))
        load_weights_into(generator, folder / "generator.safetensors")
        vectors = load_word_vectors(folder / "vectors.bin")
    except (ConfigError, OSError, ValueError, RuntimeError) as e:
        raise ModelNotFoundError(f"image model '{label}': not a cGAN this version reads ({e})") from e
    return CganPainter(label, generator.to(torch.device(device)), vectors)


def load_diffusers_painter(name: str | Path, **options: Any) -> Painter:
    """A diffusers pipeline behind the painter interface; `options` as load_pipeline takes them."""
    from soundsight.backends.diffusers import DiffusersPainter

    pipe = load_pipeline(name, **options)
    return DiffusersPainter(pipe, str(name), runtime=pipe.soundsight_runtime)


PAINTER_BACKENDS: dict[str, Callable[..., Painter]] = {
    "diffusers": load_diffusers_painter,
    "stackgan": load_stackgan_painter,
    "cgan": load_cgan_painter,
}
NAMED_PAINTERS = {STACKGAN: None, STACKGAN_STAGE1: 1}  # picked by a name of their own -> the stage painted


def load_painter(name: str | Path, *, lora: Path | str | None = None, **options: Any) -> Painter:
    """Return the painter for the image model `name` (Hub id or local folder) with the LoRA weights `lora` in it;
    `options` (device, dtype, attention_slicing, cpu_offload) as load_pipeline takes them. LoRA weights a painter
    cannot take are refused."""
    painter = PAINTER_BACKENDS[painter_backend(name)](name, lora=lora, **options)
    if lora is not None and not painter.capabilities.lora:
        raise ConfigError(f"--lora: image model '{name}' takes no LoRA weights")
    if paints_spoken_shapes(name):
        from soundsight.backends.shapes_world import ShapesWorldPainter

        return ShapesWorldPainter(painter, shape_classifier=default_shape_classifier)
    return painter


def load_vocoder(folder: Path | str) -> Vocoder:
    """Return the vocoder saved in `folder` by `soundsight train vocoder` (config.json, model.safetensors),
    in eval mode on the CPU."""
    from soundsight.models.vocoder import Vocoder, VocoderConfig

    folder = Path(folder)
    config_file, weights = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not config_file.is_file() or not weights.is_file():
        raise ModelNotFoundError(f"vocoder '{folder}': no {CONFIG_NAME} and {WEIGHTS_NAME} there")
    settings = json.loads(config_file.read_text())
    if settings.pop("model_type", None) != "soundsight-vocoder":
        raise ModelNotFoundError(f"vocoder '{folder}': its {CONFIG_NAME} is not a soundsight vocoder's")
    try:
        vocoder = Vocoder(VocoderConfig(**settings))
    except TypeError as e:
        raise ModelNotFoundError(f"vocoder '{folder}': {CONFIG_NAME} does not describe one ({e})") from e
    load_weights_into(vocoder, weights)
    return vocoder.eval()


def load_tokenizer_folder(folder: Path | str) -> Any:
    """The CLIP tokenizer saved in a pipeline's tokenizer/ folder (vocabulary files, no weights)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder))


def load_word_classifier(folder: Path | str) -> WordClassifier:
    """Return the word classifier saved in `folder` by `soundsight train word-classifier`, in eval mode on CPU."""
    from soundsight.models.word_classifier import WordClassifier, WordClassifierConfig

    folder = Path(folder)
    config_file, weights = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not config_file.is_file() or not weights.is_file():
        raise ModelNotFoundError(f"word classifier '{folder}': no {CONFIG_NAME} and {WEIGHTS_NAME} there")
    settings = json.loads(config_file.read_text())
    if settings.get("model_type") != "soundsight-word-classifier":
        raise ModelNotFoundError(f"word classifier '{folder}': its {CONFIG_NAME} is not a word classifier's")
    classifier = WordClassifier(WordClassifierConfig.from_dict(settings))
    load_weights_into(classifier, weights)
    return classifier.eval()


def load_spectrogram_model(name: str | Path, *, device: str = "auto") -> tuple[Any, AutoencoderKL, Any]:
    """A spectrogram diffusion model: (UNet, VAE, its pipeline or None). A diffusers pipeline (Hub id or folder,
    e.g. `soundsight train spectrogram`'s model/) brings its own text encoder; a folder of unet/ and vae/ alone
    (the shipped one) reads the prompts of the image model it was fine-tuned from (pipeline None)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    folder = Path(name).expanduser()
    if _is_local(name) and not (folder / "model_index.json").is_file():
        if not (folder / "unet").is_dir() or not (folder / "vae").is_dir():
            raise ModelNotFoundError(f"spectrogram model '{name}': neither a pipeline nor a folder of unet/ and vae/")
        try:
            unet = UNet2DConditionModel.from_pretrained(folder / "unet", use_safetensors=True)
            vae = AutoencoderKL.from_pretrained(folder / "vae", use_safetensors=True)
        except (OSError, ValueError) as e:
            raise _not_found(name, "spectrogram model", "--spectrogram-model", e) from e
        target = resolve_device(device)
        return unet.eval().to(target), vae.eval().to(target), None
    pipe = load_pipeline(name, device=device, dtype="float32", backend="torch")
    return pipe.unet, pipe.vae, pipe


def load_vae(folder: Path | str) -> AutoencoderKL:
    """Return the AutoencoderKL saved in `folder` (a trained VAE or a pipeline's vae/), in float32 on the CPU."""
    from diffusers import AutoencoderKL

    try:
        return AutoencoderKL.from_pretrained(str(folder), use_safetensors=True)
    except (OSError, ValueError) as e:
        raise _not_found(folder, "VAE", "--vae", e) from e


def load_denoiser(folder: Path | str) -> tuple[CLIPTextModel, UNet2DConditionModel]:
    """Return the text encoder and UNet of the pipeline folder `folder`, in float32 on the CPU."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel

    folder = Path(folder)
    try:
        text_encoder = CLIPTextModel.from_pretrained(folder / "text_encoder", use_safetensors=True)
        unet = UNet2DConditionModel.from_pretrained(folder / "unet", use_safetensors=True)
    except (OSError, ValueError) as e:
        raise _not_found(folder, "image model", "--init-from", e) from e
    return text_encoder, unet


def load_clip(name: str | Path, *, device: str = "auto") -> Encoder:
    """Return a CLIP model (Hub id or local folder) and its processor, in float32 on `device`, in eval mode."""
    from transformers import AutoConfig, AutoProcessor, CLIPModel

    target = resolve_device(device)
    _check_folder(name, "CLIP model")
    try:
        config = _from_pretrained(AutoConfig.from_pretrained, name)
        # CLIPModel would load any checkpoint, filling what it lacks with random weights: check first
        if config.model_type != "clip":
            raise ModelNotFoundError(f"CLIP model '{name}': holds a {config.model_type} model, not CLIP")
        model = _from_pretrained(CLIPModel.from_pretrained, name, config=config, use_safetensors=True)
        processor = _from_pretrained(AutoProcessor.from_pretrained, name)
    except (OSError, ValueError) as e:
        raise _not_found(name, "CLIP model", "--clip-model", e) from e
    logger.info("loaded CLIP model '%s' on %s", name, target)
    return Encoder(model.to(target).eval(), processor, str(name))


def load_dino(name: str | Path, *, device: str = "auto") -> Encoder:
    """Return a ViT image encoder (DINO, DINOv2, ...; Hub id or local folder) and its image processor,
    in float32 on `device`, in eval mode."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel

    target = resolve_device(device)
    _check_folder(name, "DINO model")
    try:
        config = _from_pretrained(AutoConfig.from_pretrained, name)
        # DINO's ViT checkpoints carry no pooler; without this, ViTModel adds a random one and reports it
        extra = {"add_pooling_layer": False} if config.model_type == "vit" else {}
        model = _from_pretrained(AutoModel.from_pretrained, name, config=config, use_safetensors=True, **extra)
        processor = _from_pretrained(AutoImageProcessor.from_pretrained, name)
    except (OSError, ValueError) as e:
        raise _not_found(name, "DINO model", "--dino-model", e) from e
    if model.main_input_name != "pixel_values":
        raise ModelNotFoundError(f"DINO model '{name}': holds a {config.model_type} model, not an image encoder")
    logger.info("loaded DINO model '%s' on %s", name, target)
    return Encoder(model.to(target).eval(), processor, str(name))
