import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from soundsight.cli import app

from .conftest import SHARED_DATA

runner = CliRunner()
SPEECH = SHARED_DATA / "speech"


def test_transcribe_prints_one_line_per_file_and_json(tiny_whisper: Path) -> None:
    files = [str(SPEECH / "en_goforward.wav"), str(SPEECH / "formats" / "en_jfk_lossless.flac")]
    result = runner.invoke(app, ["transcribe", *files, "--asr-model", str(tiny_whisper), "--language", "en"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(": ")[0] for line in lines] == files
    as_json = runner.invoke(app, ["transcribe", files[0], "--asr-model", str(tiny_whisper), "--json", "--language",
                                  "fr", "--translate", "--timestamps"])  # fmt: skip
    row = json.loads(as_json.stdout)
    assert (row["path"], row["language"], row["task"]) == (files[0], "fr", "translate")
    assert row["segments"] and {"start_s", "end_s", "text"} <= set(row["segments"][0])


def test_bad_inputs_are_found_before_any_model_loads(tmp_path: Path) -> None:
    (tmp_path / "notes.m4a").write_bytes(b"not audio")
    result = runner.invoke(app, ["transcribe", str(tmp_path / "notes.m4a"), str(tmp_path / "missing.wav"),
                                 "--asr-model", "/nonexistent/model"])  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: cannot read audio '{tmp_path / 'notes.m4a'}': unsupported format "
        "(expected wav, flac, ogg, aiff or mp3)",
        f"error: cannot read audio '{tmp_path / 'missing.wav'}': no such file",
    ]
    assert "nonexistent/model" not in result.output  # no model was loaded
    bad = runner.invoke(app, ["speak", str(SPEECH / "en_goforward.wav"), "-o", str(tmp_path), "--steps", "0",
                              "--image-model", "/nonexistent/model"])  # fmt: skip
    assert bad.exit_code == 1 and bad.stderr.strip() == "error: steps 0: must be at least 1"


def test_a_folder_without_audio_and_a_nan_recording_are_errors_not_silence(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "x.wav").mkdir()
    (tmp_path / "x.wav" / "notes.txt").write_text("no audio here")
    result = runner.invoke(app, ["transcribe", str(tmp_path / "empty"), str(tmp_path / "x.wav"),
                                 "--asr-model", "/nonexistent/model"])  # fmt: skip
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: '{tmp_path / folder}': a folder holding no audio file (.wav, .flac, .ogg, .oga, .opus, .aiff, "
        ".aif, .mp3)" for folder in ("empty", "x.wav")
    ]  # fmt: skip


def test_speak_paints_names_and_tags_each_file_and_goes_on_past_bad_ones(
    tiny_whisper: Path, tiny_sd: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    inputs = [str(SPEECH / "en_goforward.wav"), str(SHARED_DATA / "sounds" / "cow.wav"), str(tmp_path / "gone.wav")]
    args = ["speak", *inputs, "-o", str(out), "--asr-model", str(tiny_whisper), "--image-model", str(tiny_sd),
            "--steps", "2", "--seed", "11", "--language", "en", "--negative-prompt", "blurry",
            "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 2
    assert "cow.wav': no speech found" in result.stderr and "gone.wav': no such file" in result.stderr
    png = out / "en_goforward-11.png"
    meta = json.loads(png.with_suffix(".json").read_text())
    assert meta["asr_model"] == str(tiny_whisper) and meta["image_model"] == str(tiny_sd)
    assert meta["asr_runtime"] == meta["runtime"] == "torch float32 on cpu"
    assert meta["language"] == "en" and meta["seed"] == 11 and meta["negative_prompt"] == "blurry"
    with Image.open(png) as image:
        parameters = image.text["parameters"].splitlines()
    assert parameters[0] == meta["prompt"] and parameters[1] == "Negative prompt: blurry"
    assert parameters[2] == (f"Steps: 2, Sampler: DDIM, CFG scale: 7.5, Seed: 11, Size: 32x32, Model: {tiny_sd}, "
                             "Runtime: torch float32 on cpu")  # fmt: skip
    assert runner.invoke(app, args).exit_code == 1 and (out / "en_goforward-11-2.png").exists()  # no overwrite


def test_paint_writes_the_prompt_as_given(tiny_sd: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["paint", "A red star!", "-o", str(tmp_path), "--image-model", str(tiny_sd),
                                 "--steps", "2", "--num-images", "2", "--style", "a drawing of {}"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["a-red-star-0.png", "a-red-star-1.png"]
    assert json.loads((tmp_path / "a-red-star-1.json").read_text())["prompt"] == "a drawing of A red star!"


def test_paint_names_the_lora_weights_it_painted_with(tiny_sd: Path, tiny_lora: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["paint", "a red star", "-o", str(tmp_path), "--image-model", str(tiny_sd),
                                 "--steps", "2", "--lora", str(tiny_lora)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "a-red-star-0.json").read_text())["lora"] == str(tiny_lora)
    with Image.open(tmp_path / "a-red-star-0.png") as png:
        assert png.text["parameters"].endswith(f", LoRA: {tiny_lora}")


def test_speak_splits_a_batch_over_two_processes_with_accelerate(
    tiny_whisper: Path, tiny_sd: Path, tmp_path: Path
) -> None:
    clips = ["en_goforward.wav", "en_jfk.wav", "en_librivox_sense_0880.wav", "en_cards_001.wav"]
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--cpu", "-m", "soundsight", "speak",
           *[str(SPEECH / c) for c in clips], "-o", str(out), "--asr-model", str(tiny_whisper),
           "--image-model", str(tiny_sd), "--steps", "2", "--language", "en", "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{Path(c).stem}-0.png" for c in clips)
    assert len([line for line in result.stdout.splitlines() if " -> " in line]) == 4  # each file painted once


def test_an_output_that_is_a_file_is_refused_before_any_model_loads(tmp_path: Path) -> None:
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"someone's picture")
    clip = str(SPEECH / "en_goforward.wav")
    for args in (["speak", clip, "--image-model", "/nonexistent/model"], ["paint", "a red star", "--image-model",
                 "/nonexistent/model"], ["hear", clip, "--adapter", "/nonexistent/adapter"]):  # fmt: skip
        result = runner.invoke(app, [*args, "-o", str(taken)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # no traceback
        line = f"error: '{taken}' exists and is not a folder: name a folder for the outputs"
        assert result.stderr.splitlines() == [line]
    assert taken.read_bytes() == b"someone's picture"


def test_flags_the_default_asr_cannot_honour_are_refused_in_one_line() -> None:
    clip = str(SPEECH / "en_goforward.wav")
    expected = {
        "--translate": "error: --translate: ASR model 'auto' hears English only and cannot translate",
        "--timestamps": "error: --timestamps: ASR model 'auto' gives no timestamps",
    }
    for flag, line in expected.items():
        result = runner.invoke(app, ["transcribe", clip, flag])
        assert result.exit_code == 1 and result.stdout == "" and result.stderr.splitlines() == [line]
    french = runner.invoke(app, ["speak", clip, "-o", "/tmp/never-written", "--language", "fr"])
    assert french.exit_code == 1
    assert french.stderr.splitlines() == ["error: --language fr: ASR model 'auto' hears English only"]
    assert not Path("/tmp/never-written").exists()


def test_every_batch_command_reports_a_failed_file_the_same_way(tiny_whisper: Path, tmp_path: Path) -> None:
    from soundsight.cli.common import run_batch
    from soundsight.errors import AudioError

    def work(path: Path, _: bool) -> list[str]:
        if path.name == "bad.wav":
            raise AudioError("Whisper hears no speech (no-speech probability 0.90)")
        return [f"{path}: fine"]

    files = [tmp_path / "good.wav", tmp_path / "bad.wav", tmp_path / "also.wav"]
    outcome = CliRunner().invoke(typer_app(lambda: run_batch(files, [], work, desc="x", progress=False)))
    assert outcome.exit_code == 1
    assert outcome.stdout.splitlines() == [f"{tmp_path / 'good.wav'}: fine", f"{tmp_path / 'also.wav'}: fine"]
    assert outcome.stderr.splitlines() == [
        f"error: '{tmp_path / 'bad.wav'}': Whisper hears no speech (no-speech probability 0.90)"
    ]


def typer_app(call: object) -> object:
    import typer

    one = typer.Typer()
    one.command()(call)
    return one
