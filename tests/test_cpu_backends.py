"""The backend and dtype `auto` picks, and the OpenVINO painter against torch's on a tiny Stable Diffusion."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from soundsight.asr import TranscribeOptions
from soundsight.audio import load_audio
from soundsight.backends.ctranslate2_whisper import ctranslate2_whisper
from soundsight.backends.whisper import WhisperAsr
from soundsight.cli import app
from soundsight.errors import AudioError, ConfigError
from soundsight.generate import GenerateConfig
from soundsight.loading import load_painter, load_whisper
from soundsight.runtime import Runtime, asr_runtime, cpu_flags, image_runtime

from .conftest import SHARED_DATA

CPU, AMX, PLAIN = torch.device("cpu"), frozenset({"avx2", "amx_bf16", "amx_tile"}), frozenset({"avx2", "fma"})
PROMPTS = ["a red star on a blue background", "a green circle"]
SPEECH = SHARED_DATA / "speech"


@pytest.fixture(autouse=True)
def auto_as_users_have_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOUNDSIGHT_BACKEND", raising=False)  # the suite's own default is torch (conftest.py)


def test_auto_picks_openvino_and_bf16_only_where_the_cpu_has_it_and_the_model_is_full_size() -> None:
    assert image_runtime("auto", "auto", CPU, side_px=512, converts=True, flags=AMX) == Runtime(
        "openvino", "bfloat16", "cpu"
    )
    assert image_runtime("auto", "auto", CPU, side_px=512, converts=True, flags=PLAIN).dtype == "float32"
    assert image_runtime("auto", "auto", CPU, side_px=64, converts=True, flags=AMX).dtype == "float32"
    assert image_runtime("auto", "auto", CPU, side_px=512, converts=False, flags=AMX) == Runtime(
        "torch", "bfloat16", "cpu"
    )
    with pytest.warns(UserWarning, match="float16 asked for on a CPU"):
        assert image_runtime("torch", "float16", CPU, side_px=512, converts=True).dtype == "float32"
    assert image_runtime("auto", "auto", torch.device("mps"), side_px=512, converts=True) == Runtime(
        "torch", "float16", "mps"
    )
    assert asr_runtime("auto", "auto", CPU, width=768, flags=AMX) == Runtime("torch", "bfloat16", "cpu")
    assert asr_runtime("auto", "auto", CPU, width=128, flags=PLAIN) == Runtime("openvino", "float32", "cpu")
    assert asr_runtime("auto", "auto", CPU, width=128, flags=AMX).dtype == "float32"  # our Whisper: too small
    assert asr_runtime("torch", "bf16", CPU, width=128, flags=PLAIN).dtype == "bfloat16"  # a named dtype is kept


def test_gpus_get_bf16_where_they_have_it_else_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert image_runtime("auto", "auto", cuda, side_px=512, converts=True) == Runtime("torch", "bfloat16", "cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert asr_runtime("auto", "auto", cuda, width=768) == Runtime("torch", "float16", "cuda")


def test_the_environment_can_say_what_auto_means(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOUNDSIGHT_BACKEND", "torch")
    assert image_runtime("auto", "auto", CPU, side_px=64, converts=True).backend == "torch"
    assert image_runtime("openvino", "auto", CPU, side_px=64, converts=True).backend == "openvino"  # named: kept


def test_choices_the_machine_cannot_run_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="--backend openvino runs on the CPU"):
        image_runtime("openvino", "auto", torch.device("cuda"), side_px=512, converts=True)
    with pytest.raises(ConfigError, match="added conditions"):
        image_runtime("openvino", "auto", CPU, side_px=512, converts=False)
    with pytest.raises(ConfigError, match="backend 'tensorrt'"):
        image_runtime("tensorrt", "auto", CPU, side_px=512, converts=True)
    with pytest.raises(ConfigError, match="dtype 'int3'"):
        image_runtime("auto", "int3", CPU, side_px=512, converts=True)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 amx_bf16\nbugs\t\t: none\n")
    assert {"avx2", "amx_bf16"} <= cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_openvino_paints_what_torch_paints_converts_once_and_rebuilds_a_damaged_conversion(
    tiny_sd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOUNDSIGHT_CACHE", str(tmp_path))
    config = GenerateConfig(steps=3, guidance=4.0)
    torch_painter = load_painter(tiny_sd, device="cpu", backend="torch")
    openvino_painter = load_painter(tiny_sd, device="cpu")  # auto, on a CPU
    assert str(torch_painter.runtime) == "torch float32 on cpu"
    assert str(openvino_painter.runtime) == "openvino float32 on cpu"
    kept = sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "openvino").iterdir())
    assert kept == ["unet", "vae-decoder"] and capsys.readouterr().err.count("converted once, kept in") == 2
    ours = openvino_painter.paint(PROMPTS, config, [0, 1], progress=False)
    theirs = torch_painter.paint(PROMPTS, config, [0, 1], progress=False)
    assert ours.shape == theirs.shape == (2, 32, 32, 3)
    assert np.abs(ours - theirs).max() < 1e-4  # float32 both: only the order of sums differs
    wide = GenerateConfig(steps=2, guidance=4.0, width=48, height=32)  # another static shape, compiled on use
    assert np.abs(openvino_painter.paint(PROMPTS[:1], wide, [3], progress=False)
                  - torch_painter.paint(PROMPTS[:1], wide, [3], progress=False)).max() < 1e-4  # fmt: skip

    load_painter(tiny_sd, device="cpu", backend="openvino")  # read back, not converted again
    assert "converted" not in capsys.readouterr().err
    (decoder_entry,) = (tmp_path / "openvino").glob("vae-decoder-*")
    weights = decoder_entry / "model.bin"
    weights.write_bytes(weights.read_bytes()[:100])  # as a full disk or a killed copy leaves it
    again = load_painter(tiny_sd, device="cpu", backend="openvino").paint(PROMPTS, config, [0, 1], progress=False)
    assert capsys.readouterr().err.count("converted once") == 1  # that one, rebuilt: not trusted
    assert np.array_equal(again, ours) and weights.stat().st_size > 100


def test_paint_records_what_ran_in_the_picture_and_its_sidecar(tiny_sd: Path, tmp_path: Path) -> None:
    for backend in ("torch", "openvino"):
        out = tmp_path / backend
        result = CliRunner().invoke(app, ["paint", "a red star", "-o", str(out), "--image-model", str(tiny_sd),
                                          "--steps", "2", "--backend", backend])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert json.loads((out / "a-red-star-0.json").read_text())["runtime"] == f"{backend} float32 on cpu"
        with Image.open(out / "a-red-star-0.png") as png:
            assert f", Runtime: {backend} float32 on cpu" in png.text["parameters"]
    bad = CliRunner().invoke(app, ["paint", "a red star", "-o", str(tmp_path / "bad"), "--image-model", str(tiny_sd),
                                   "--backend", "tensorrt"])  # fmt: skip
    assert bad.exit_code != 0 and "backend 'tensorrt'" in bad.output and "Traceback" not in bad.output


def heard(asr: WhisperAsr, waveform: np.ndarray, options: TranscribeOptions) -> tuple[object, ...]:
    """What a transcription gives, or the one-line error it raises."""
    try:
        t = asr.transcribe(waveform, options)
    except AudioError as e:
        return ("refused", str(e).split("(")[0])
    return t.text, t.language, t.task, round(t.no_speech_prob or 0.0, 4), t.segments


def test_openvino_whisper_hears_and_scores_what_torch_does(
    tiny_whisper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUNDSIGHT_CACHE", str(tmp_path))
    ours, theirs = load_whisper(tiny_whisper, device="cpu"), load_whisper(tiny_whisper, device="cpu", backend="torch")
    assert ours.engine is not None and str(ours.runtime) == "openvino float32 on cpu" and theirs.engine is None
    clips = [load_audio(SPEECH / name) for name in ("en_goforward.wav", "en_jfk.wav")]
    choices = [TranscribeOptions(), TranscribeOptions(language="en", max_new_tokens=7),
               TranscribeOptions(language="fr", task="translate", no_speech_threshold=1.0)]  # fmt: skip
    for waveform in clips:
        window = waveform[: 5 * 16_000]  # the tiny model hears 5 s: one window, decoded by OpenVINO
        for options in choices:
            assert heard(ours, window, options) == heard(theirs, window, options)
        texts = ["a red star on a blue background", "go forward", ""]
        mine, torchs = ours.text_scorer(window), theirs.text_scorer(window)
        assert mine is not None and torchs is not None
        assert np.allclose(mine(texts), torchs(texts), atol=1e-3)
    stamped = TranscribeOptions(language="en", return_timestamps=True, no_speech_threshold=1.0)
    assert heard(ours, clips[1], stamped) == heard(theirs, clips[1], stamped)  # long and timestamped: torch's


def test_ctranslate2_whisper_hears_what_torch_does_converted_once(
    tiny_whisper: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOUNDSIGHT_CACHE", str(tmp_path))
    ours = load_whisper(tiny_whisper, device="cpu", backend="ctranslate2")
    theirs = load_whisper(tiny_whisper, device="cpu", backend="torch")
    assert str(ours.runtime) == "ctranslate2 float32 on cpu" and ours.engine is not None
    assert capsys.readouterr().err.count("converted once, kept in") == 1
    clips = [load_audio(SPEECH / name) for name in ("en_goforward.wav", "en_jfk.wav")]
    choices = [TranscribeOptions(), TranscribeOptions(language="en", max_new_tokens=7),
               TranscribeOptions(language="fr", task="translate", no_speech_threshold=1.0),
               TranscribeOptions(language="en", no_speech_threshold=0.0)]  # fmt: skip
    for waveform in clips:
        window = waveform[: 5 * 16_000]
        for options in choices:
            mine, torchs = heard(ours, window, options), heard(theirs, window, options)
            assert len(mine) == len(torchs) and mine[:3] == torchs[:3] and mine[4:] == torchs[4:]
            if len(mine) > 3:
                assert mine[3] == pytest.approx(torchs[3], abs=1e-3)  # the no-speech probability, summed in C++
        mine_scores, torch_scores = ours.text_scorer(window), theirs.text_scorer(window)
        assert mine_scores is not None and torch_scores is not None  # scored by torch: CTranslate2 scores no texts
        assert mine_scores(["go forward"]) == torch_scores(["go forward"])
    suppressing = load_whisper(tiny_whisper, device="cpu", backend="torch")
    suppressing.model.generation_config.suppress_tokens = list(range(50_000))  # most words: what it says changes
    converted = ctranslate2_whisper(suppressing.model, suppressing.processor.tokenizer, ["tiny, suppressing"],
                                    Runtime("ctranslate2", "float32", "cpu"), root=tmp_path / "elsewhere")  # fmt: skip
    suppressed = dataclasses.replace(suppressing, engine=converted)
    window, options = clips[0][: 5 * 16_000], TranscribeOptions(language="en", max_new_tokens=7)
    assert heard(suppressed, window, options) == heard(suppressing, window, options) != heard(theirs, window, options)
    capsys.readouterr()
    load_whisper(tiny_whisper, device="cpu", backend="ctranslate2")
    assert "converted" not in capsys.readouterr().err  # read back
    (entry,) = (tmp_path / "ctranslate2").glob("whisper-*")
    (entry / "model.bin").write_bytes(b"cut short")
    again = load_whisper(tiny_whisper, device="cpu", backend="ctranslate2")
    assert capsys.readouterr().err.count("converted once") == 1  # damaged: rebuilt, not trusted
    assert heard(again, clips[0][: 5 * 16_000], choices[1]) == heard(theirs, clips[0][: 5 * 16_000], choices[1])


def test_auto_runs_a_full_size_whisper_by_ctranslate2_only_where_bf16_is_emulated() -> None:
    assert asr_runtime("auto", "auto", CPU, width=768, flags=PLAIN) == Runtime("ctranslate2", "float32", "cpu")
    assert asr_runtime("auto", "bf16", CPU, width=768, flags=PLAIN).backend == "torch"  # asked for: torch has it
    assert asr_runtime("auto", "auto", CPU, width=768, flags=AMX) == Runtime("torch", "bfloat16", "cpu")
    with pytest.raises(ConfigError, match="computes in float32"):
        asr_runtime("ctranslate2", "bfloat16", CPU, width=768)
    with pytest.raises(ConfigError, match="runs on the CPU here"):
        asr_runtime("ctranslate2", "auto", torch.device("cuda"), width=768)
    with pytest.raises(ConfigError, match="runs Whisper only, not this image model"):
        image_runtime("ctranslate2", "auto", CPU, side_px=512, converts=True)


def test_speak_runs_whisper_by_ctranslate2_on_asr_backend_and_records_it(
    tiny_whisper: Path, tiny_sd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUNDSIGHT_CACHE", str(tmp_path / "cache"))
    base = ["speak", str(SPEECH / "en_goforward.wav"), "--asr-model", str(tiny_whisper), "--image-model",
            str(tiny_sd), "--steps", "2", "--language", "en", "--no-progress"]  # fmt: skip
    refused = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "refused"), "--backend", "ctranslate2"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "--backend ctranslate2 runs Whisper only: use --asr-backend ctranslate2" in refused.output
    assert not (tmp_path / "cache").exists()  # refused before any model loaded
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [*base, "-o", str(out), "--backend", "torch", "--asr-backend", "ctranslate2"])
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "en_goforward-0.json").read_text())
    assert (meta["asr_runtime"], meta["runtime"]) == ("ctranslate2 float32 on cpu", "torch float32 on cpu")


def test_a_batch_encodes_each_distinct_prompt_once_and_paints_what_diffusers_paints(tiny_sd: Path) -> None:
    painter = load_painter(tiny_sd, device="cpu", backend="torch")
    prompts = [PROMPTS[0], PROMPTS[1], PROMPTS[0], PROMPTS[0]]
    config = GenerateConfig(steps=2, guidance=4.0)
    batches: list[int] = []
    hook = painter.text_encoder.register_forward_hook(lambda _, args, __: batches.append(int(args[0].shape[0])))
    try:
        ours = painter.paint(prompts, config, [0, 1, 2, 3], progress=False)
    finally:
        hook.remove()
    assert batches == [2, 1]  # two distinct prompts, then "" once for all four unconditional rows
    generators = [torch.Generator("cpu").manual_seed(s) for s in range(4)]
    with torch.no_grad():
        plain = painter.pipe(prompt=prompts, num_inference_steps=2, guidance_scale=4.0, generator=generators,
                             output_type="np", width=32, height=32).images  # fmt: skip
    assert np.abs(ours - plain).max() < 1e-5
