"""Spoken Shapes captions in voices far wider than the spec's build: training data for an ASR that hears any voice.

The spec's build speaks every caption with espeak-ng's own voices. A model trained on that alone
hears espeak-ng and little else, so this adds clips whose voices no espeak-ng setting makes:

- espeak-ng's training voices, then vocal-tract warping (formants, pitch and tempo moved together),
  an LPC vocoder re-exciting the spectral envelope with a new pitch contour (buzzy, monotone or
  breathy voices), room-free EQ, telephone and low-pass bands, 8 kHz mu-law, noise and rooms;
- SVOX Pico (an HMM synthesiser, Apache 2.0; `pip install ttspico`), its US and British voices at
  random speed and pitch, through the same chain;
- SAM, the Software Automatic Mouth (a 1982 formant synthesiser; `npm install -g sam-js`), with its
  speed, pitch, mouth and throat drawn at random, through the same chain.

The spec's test voices are never used, nor festival or flite: those are held out for evaluation
(benchmarks/eval_heldout_voices.py). Each clip is made again exactly from its seed and index.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import soxr
from scipy.linalg import solve_toeplitz
from scipy.signal import butter, lfilter, sosfilt
from tqdm.auto import tqdm

from soundsight.audio import trim_silence
from soundsight.errors import ConfigError, SpeechSynthesisError
from soundsight.files import read_jsonl, save_wav
from soundsight.shapes.plan import plan_item
from soundsight.shapes.spec import SAMPLE_RATE
from soundsight.shapes.speech import TRAIN_VOICES, room_noise_gain, synthesize
from soundsight.shapes.words import WORDS
from soundsight.spectrogram import SPEC

WORD_WINDOW = SPEC.window_samples

SAM_MODULE = "sam-js"
SAM_RATE = 22_050
SAM_SCRIPT = """
const SamJs = require(process.env.SAM_JS);
const [text, speed, pitch, mouth, throat] = process.argv.slice(1);
const out = new SamJs({speed: +speed, pitch: +pitch, mouth: +mouth, throat: +throat}).buf8(text);
if (!out) { process.exit(3); }
process.stdout.write(Buffer.from(out));
"""
CAPTION_SEED_OFFSET = 1000  # captions drawn as train items of build seed + this: new sentences, same grammar


@dataclass(frozen=True)
class VoiceRecipe:
    """How one widened clip is voiced and degraded."""

    text: str
    caption: str
    source: str  # "espeak" or "sam"
    voice: str  # espeak-ng "language+variant", or "sam"
    speed: int  # espeak-ng words a minute, or SAM's speed (lower is faster)
    pitch: int  # espeak-ng 0-99, or SAM's pitch (lower is higher)
    mouth: int  # SAM only
    throat: int  # SAM only
    word_gap: int  # espeak-ng -g, 10 ms units
    warp: float  # resampling factor: formants, pitch and tempo times this; 1.0 leaves the clip
    vocoder_f0: float | None  # LPC re-excitation at this pitch (Hz); None keeps the voice's own source
    vocoder_drift: float  # relative pitch swing of the re-excited voice
    breath: float  # share of noise in the re-excited voice
    eq: tuple[tuple[float, float, float], ...]  # peaking filters: (centre Hz, gain dB, Q)
    band: str  # "full", "phone" (300-3400 Hz) or "low" (low-pass at lowpass_hz)
    lowpass_hz: float
    mulaw: bool  # 8 kHz, 8-bit mu-law and back
    snr_db: float | None
    noise: str
    reverb_rt60_s: float | None
    reverb_wet: float
    peak: float
    seed: int


PICO_VOICES = ("en-US", "en-GB")


def plan_voice(seed: int, index: int, sam: bool, pico: bool = False, words: bool = False) -> VoiceRecipe:
    """Clip `index` of a widened set seeded with `seed`; SAM and Pico voices only where `sam` and `pico` are set;
    with `words`, the 14 spoken words in turn instead of captions."""
    item = plan_item(seed + CAPTION_SEED_OFFSET, "train", index)
    text, caption = (WORDS[index % len(WORDS)],) * 2 if words else (item.speech.text, item.caption)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7, index]))
    draw = rng.random()
    source = "sam" if sam and draw < 0.1 else "pico" if pico and draw < 0.55 else "espeak"
    if source == "pico":
        voice, speed, pitch = f"pico-{rng.choice(PICO_VOICES)}", int(rng.integers(70, 181)), int(rng.integers(60, 161))
        mouth, throat, gap = 0, 0, 0
    elif source == "sam":
        voice, speed, pitch = "sam", int(rng.integers(55, 95)), int(rng.integers(40, 110))
        mouth, throat, gap = int(rng.integers(90, 200)), int(rng.integers(90, 200)), 0
    else:
        voice, speed, pitch = str(rng.choice(TRAIN_VOICES)), int(rng.integers(105, 236)), int(rng.integers(0, 100))
        mouth, throat, gap = 0, 0, int(rng.integers(0, 8)) if rng.random() < 0.3 else 0
    warp = float(rng.uniform(0.8, 1.25)) if rng.random() < 0.6 else 1.0
    vocoded = rng.random() < 0.35
    f0 = float(np.exp(rng.uniform(np.log(70), np.log(280)))) if vocoded else None
    drift = float(rng.choice([0.0, rng.uniform(0.02, 0.2)])) if vocoded else 0.0
    breath = float(rng.uniform(0.0, 0.5)) if vocoded else 0.0
    eq = tuple(
        (float(np.exp(rng.uniform(np.log(150), np.log(6000)))), float(rng.uniform(-10, 10)), float(rng.uniform(0.5, 3)))
        for _ in range(int(rng.integers(1, 4)) if rng.random() < 0.5 else 0)
    )
    band_draw = rng.random()
    band = "phone" if band_draw < 0.12 else "low" if band_draw < 0.27 else "full"
    snr = float(rng.uniform(3, 30)) if rng.random() < 0.5 else None
    reverb = rng.random() < 0.3
    return VoiceRecipe(
        text=text, caption=caption, source=source, voice=voice, speed=speed, pitch=pitch,
        mouth=mouth, throat=throat, word_gap=gap, warp=warp, vocoder_f0=f0, vocoder_drift=drift, breath=breath,
        eq=eq, band=band, lowpass_hz=float(rng.uniform(2800, 6000)), mulaw=rng.random() < 0.1, snr_db=snr,
        noise="pink" if rng.random() < 0.5 else "white",
        reverb_rt60_s=float(rng.uniform(0.15, 0.9)) if reverb else None,
        reverb_wet=float(rng.uniform(0.1, 0.5)) if reverb else 0.0, peak=float(rng.uniform(0.1, 0.95)),
        seed=int(rng.integers(2**31)),
    )  # fmt: skip


def sam_module() -> str | None:
    """Path of the installed sam-js package (global npm or SOUNDSIGHT_SAM_JS), or None."""
    if os.environ.get("SOUNDSIGHT_SAM_JS"):
        return os.environ["SOUNDSIGHT_SAM_JS"]
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True).stdout.strip()
    module = Path(root) / SAM_MODULE
    return str(module) if (module / "package.json").is_file() else None


def synthesize_sam(text: str, speed: int, pitch: int, mouth: int, throat: int, module: str) -> np.ndarray:
    """SAM speaking `text`: (T,) float32 at 16 kHz."""
    result = subprocess.run(
        ["node", "-e", SAM_SCRIPT, text, str(speed), str(pitch), str(mouth), str(throat)],
        capture_output=True, env={**os.environ, "SAM_JS": module},
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout:
        raise SpeechSynthesisError(f"SAM could not speak {text!r}: {result.stderr.decode(errors='replace').strip()}")
    pcm = (np.frombuffer(result.stdout, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    return np.asarray(soxr.resample(pcm, SAM_RATE, SAMPLE_RATE), dtype=np.float32)


@lru_cache(maxsize=2)
def _pico_engine(language: str) -> Any:
    import ttspico

    return ttspico.TtsEngine(language)


def pico_installed() -> bool:
    return find_spec("ttspico") is not None


def synthesize_pico(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """SVOX Pico speaking `text` in `voice` ("pico-en-US" or "pico-en-GB"): (T,) float32 at 16 kHz."""
    if not pico_installed():
        raise SpeechSynthesisError("Pico voice: ttspico is not installed (pip install ttspico)")
    engine = _pico_engine(voice.removeprefix("pico-"))
    engine.rate, engine.pitch = speed, pitch
    pcm = engine.speak(text)
    if not pcm:
        raise SpeechSynthesisError(f"Pico could not speak {text!r}")
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0  # Pico speaks at 16 kHz


def warp_voice(x: np.ndarray, factor: float) -> np.ndarray:
    """Play the clip `factor` times faster: formants and pitch up by `factor`, duration down."""
    if factor == 1.0:
        return x
    return np.asarray(soxr.resample(x, SAMPLE_RATE, SAMPLE_RATE / factor), dtype=np.float32)


def lpc_vocode(
    x: np.ndarray, f0_hz: float, drift: float, breath: float, rng: np.random.Generator, order: int = 18
) -> np.ndarray:
    """Keep each 25 ms frame's spectral envelope (LPC), replace the voice's source with a new one.

    Voiced frames get a pulse train at a new pitch contour (mixed with `breath` of noise), unvoiced
    ones noise, so the words stay and the voice becomes another.
    """
    frame, hop = 400, 160
    if len(x) < frame:
        return x
    window = np.hanning(frame).astype(np.float64)
    n_frames = 1 + (len(x) - frame) // hop
    out = np.zeros(len(x) + frame)
    norm = np.zeros(len(x) + frame)
    phase = 0.0
    rate = float(rng.uniform(0.3, 1.5))  # pitch swings a second
    for i in range(n_frames):
        seg = x[i * hop : i * hop + frame].astype(np.float64) * window
        r = np.correlate(seg, seg, "full")[frame - 1 : frame + order]
        if r[0] < 1e-8:
            continue
        r[0] *= 1.0 + 1e-6
        a = solve_toeplitz(r[:order], r[1 : order + 1])
        gain = float(np.sqrt(max(r[0] - np.dot(a, r[1 : order + 1]), 1e-12)))
        lag = r[1] / r[0]  # high first autocorrelation: low-frequency energy, so a voiced frame
        f0 = f0_hz * (1.0 + drift * np.sin(2 * np.pi * rate * i * hop / SAMPLE_RATE))
        if lag > 0.5:
            t = phase + np.arange(frame) * f0 / SAMPLE_RATE
            pulses = (np.diff(np.floor(t), prepend=np.floor(phase)) > 0).astype(np.float64)
            pulses *= np.sqrt(SAMPLE_RATE / f0)
            phase = (phase + hop * f0 / SAMPLE_RATE) % 1.0
            excitation = np.sqrt(1 - breath) * pulses + np.sqrt(breath) * rng.standard_normal(frame)
        else:
            excitation = rng.standard_normal(frame)
        excitation /= np.sqrt(np.mean(excitation**2)) + 1e-12
        synth = lfilter([gain / np.sqrt(frame)], np.concatenate([[1.0], -a]), excitation)
        out[i * hop : i * hop + frame] += synth * window
        norm[i * hop : i * hop + frame] += window**2
    y = out[: len(x)] / np.maximum(norm[: len(x)], 1e-3)
    return np.nan_to_num(y).astype(np.float32)


def peaking_eq(x: np.ndarray, centre_hz: float, gain_db: float, q: float) -> np.ndarray:
    """One RBJ peaking biquad."""
    big_a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * min(centre_hz, 0.45 * SAMPLE_RATE) / SAMPLE_RATE
    alpha = np.sin(w0) / (2 * q)
    b = [1 + alpha * big_a, -2 * np.cos(w0), 1 - alpha * big_a]
    a = [1 + alpha / big_a, -2 * np.cos(w0), 1 - alpha / big_a]
    return lfilter(b, a, x).astype(np.float32)


def mulaw_8k(x: np.ndarray) -> np.ndarray:
    """Through an 8 kHz, 8-bit mu-law channel and back to 16 kHz."""
    low = np.clip(soxr.resample(x, SAMPLE_RATE, 8000), -1, 1)
    mu = 255.0
    coded = np.round((np.sign(low) * np.log1p(mu * np.abs(low)) / np.log1p(mu)) * 127) / 127
    decoded = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu
    return np.asarray(soxr.resample(decoded, 8000, SAMPLE_RATE), dtype=np.float32)


def render_voice(recipe: VoiceRecipe, sam_js: str | None = None, *, word_window: bool = False) -> np.ndarray:
    """The clip `recipe` describes: (T,) float32 in [-1, 1] at 16 kHz; with `word_window`, the voice trimmed and
    placed at a random start in the spec's 16,128-sample word window before the room, noise and gain."""
    rng = np.random.default_rng(recipe.seed)
    if recipe.source == "pico":
        x = synthesize_pico(recipe.text, recipe.voice, recipe.speed, recipe.pitch)
    elif recipe.source == "sam":
        if sam_js is None:
            raise SpeechSynthesisError("SAM voice: sam-js not found (npm install -g sam-js)")
        x = synthesize_sam(recipe.text, recipe.speed, recipe.pitch, recipe.mouth, recipe.throat, sam_js)
    else:
        x = synthesize(recipe.text, recipe.voice, speed_wpm=recipe.speed, pitch=recipe.pitch, word_gap=recipe.word_gap)
    x = warp_voice(x, recipe.warp)
    if recipe.vocoder_f0 is not None:
        x = lpc_vocode(x, recipe.vocoder_f0, recipe.vocoder_drift, recipe.breath, rng)
    for centre, gain, q in recipe.eq:
        x = peaking_eq(x, centre, gain, q)
    if recipe.band == "phone":
        x = sosfilt(butter(4, [300, 3400], "bandpass", fs=SAMPLE_RATE, output="sos"), x).astype(np.float32)
    elif recipe.band == "low":
        x = sosfilt(butter(6, recipe.lowpass_hz, "lowpass", fs=SAMPLE_RATE, output="sos"), x).astype(np.float32)
    if recipe.mulaw:
        x = mulaw_8k(x / (np.abs(x).max() + 1e-9))
    if word_window:
        spoken = trim_silence(x, keep_start_s=0.0, keep_end_s=0.05)[:WORD_WINDOW]
        x = np.zeros(WORD_WINDOW, dtype=np.float32)
        start = int(rng.integers(0, WORD_WINDOW - len(spoken) + 1))
        x[start : start + len(spoken)] = spoken
    return room_noise_gain(x, recipe.reverb_rt60_s, recipe.reverb_wet, recipe.snr_db, recipe.noise, recipe.peak, rng)


@dataclass(frozen=True)
class VoicesConfig:
    out: Path  # writes out/speech/train/*.wav and metadata.jsonl, the layout `train asr` reads (words: out/words/train)
    clips: int = 16000
    seed: int = 1
    workers: int = 0  # 0: one per core
    sam: bool = True  # use SAM where sam-js is installed
    pico: bool = True  # use SVOX Pico where ttspico is installed
    progress: bool = True
    words: bool = False  # the 14 spoken words, one a clip in the word window, for `train keywords`

    def __post_init__(self) -> None:
        if self.clips <= 0:
            raise ConfigError(f"clips {self.clips}: must be positive")


def _make_clip(args: tuple[int, int, bool, str | None, str, bool, bool]) -> tuple[int, dict[str, Any] | str]:
    seed, index, sam, sam_js, folder, pico, words = args
    recipe = plan_voice(seed, index, sam, pico, words)
    try:
        waveform = render_voice(recipe, sam_js, word_window=words)
    except SpeechSynthesisError as error:
        return index, str(error)
    name = f"{index:06d}.wav"
    save_wav(waveform, SAMPLE_RATE, Path(folder) / name, overwrite=True)
    row = {"file_name": name, **({"word": recipe.text} if words else {}), **asdict(recipe)}
    row["eq"] = [list(band) for band in recipe.eq]
    return index, row


def build_voices(config: VoicesConfig) -> tuple[Path, int, list[str]]:
    """Write the widened clips (resuming a partial set); return (folder, clips written, failures)."""
    folder = config.out / ("words" if config.words else "speech") / "train"
    folder.mkdir(parents=True, exist_ok=True)
    settings_file = config.out / "voices.json"
    sam_js = sam_module() if config.sam else None
    pico = config.pico and pico_installed()
    settings = {"seed": config.seed, "sam": sam_js is not None, "pico": pico}
    settings |= {"words": True} if config.words else {}
    if settings_file.is_file() and json.loads(settings_file.read_text()) != settings:
        raise ConfigError(f"'{config.out}': holds widened voices made with {settings_file.read_text().strip()}")
    settings_file.write_text(json.dumps(settings) + "\n")
    metadata = folder / "metadata.jsonl"
    done = {row["file_name"]: row for row in read_jsonl(metadata)} if metadata.is_file() else {}
    todo = [i for i in range(config.clips) if f"{i:06d}.wav" not in done]
    failures: list[str] = []
    with (
        ProcessPoolExecutor(config.workers or os.cpu_count() or 1) as pool,
        metadata.open("a") as log,
        tqdm(total=config.clips, initial=config.clips - len(todo), unit="clip", desc="voices",
             disable=not config.progress) as bar,
    ):  # fmt: skip
        jobs = [(config.seed, i, sam_js is not None, sam_js, str(folder), pico, config.words) for i in todo]
        for index, result in pool.map(_make_clip, jobs, chunksize=16):
            if isinstance(result, str):
                failures.append(f"clip {index}: {result}")
            else:
                log.write(json.dumps(result) + "\n")
                log.flush()
            bar.update()
    return folder, len(todo) - len(failures), failures
