import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from soundsight.asr import check_asr_options, transcribe
from soundsight.audio import load_audio
from soundsight.errors import ConfigError, ModelNotFoundError
from soundsight.loading import asr_backend, load_asr
from soundsight.models.speech_transformer import (
    SpeechTransformerConfig,
    decode_ids,
    encode_text,
    normalize_characters,
)
from soundsight.shapes.speech import synthesize
from soundsight.train.speech_transformer import SpeechTransformerTrainConfig, main, read_clips

SENTENCES = ["a red star", "two blue moons", "a green square"]
TINY = SpeechTransformerConfig(d_model=48, heads=2, encoder_layers=2, decoder_layers=1, ffn_dim=96,
                               conv_channels=8, max_seconds=3.0, max_chars=24, dropout=0.0)  # fmt: skip


@pytest.fixture(scope="module")
def ljspeech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An LJSpeech-format folder (22.05 kHz WAVs, id|text|normalized text) of three sentences, each said six
    times, and one more clip that lands in its val share."""
    folder = tmp_path_factory.mktemp("ljspeech")
    (folder / "wavs").mkdir()
    rows = []
    for i in range(19):
        sentence = SENTENCES[i % 3]
        waveform = synthesize(sentence, "en-us", speed_wpm=150 + 5 * (i // 3))
        sf.write(folder / "wavs" / f"LJ001-{i:04d}.wav", soxr.resample(waveform, 16_000, 22_050), 22_050)
        rows.append(f"LJ001-{i:04d}|{sentence.capitalize()}.|{sentence.capitalize()}.")
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def trained(ljspeech: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("st") / "run"
    main(SpeechTransformerTrainConfig(data=(ljspeech,), out=out, model=TINY, steps=250, batch_size=6,
                                      learning_rate=2e-3, warmup_steps=10, label_smoothing=0.0, freq_mask=4,
                                      time_mask=0.03, checkpoint_every=50, validate_every=0, log_every=10,
                                      progress=False))  # fmt: skip
    return out


def test_text_is_read_as_the_spec_scores_it() -> None:
    assert normalize_characters("Draw a RED star, on the left!") == "draw a red star on the left"
    ids = encode_text("It's a star.", TINY)
    assert decode_ids([*ids, 2, 7, 7], TINY) == "it's a star"  # stops at the end of text


def test_ljspeech_folders_hold_out_their_last_rows(ljspeech: Path) -> None:
    train, val = read_clips(ljspeech, "train"), read_clips(ljspeech, "val")
    assert len(train) == 18 and len(val) == 1
    assert val[0].audio.name == "LJ001-0018.wav" and val[0].text == "A red star."
    with pytest.raises(ConfigError, match="neither a Spoken Shapes build"):
        read_clips(ljspeech / "wavs", "train")


def test_a_short_run_learns_the_sentences_it_heard(trained: Path, ljspeech: Path) -> None:
    losses = [json.loads(line)["loss"] for line in (trained / "log.jsonl").read_text().splitlines()
              if "loss" in line]  # fmt: skip
    assert len(losses) == 25 and losses[-1] < 0.05 * losses[0]
    assert sorted(p.name for p in trained.glob("checkpoint-*")) == ["checkpoint-200", "checkpoint-250"]
    assert asr_backend(trained) == "speech-transformer"  # a run folder: its model/ is read
    asr = load_asr(trained)
    for i in (0, 1, 2):
        waveform = sf.read(ljspeech / "wavs" / f"LJ001-{i:04d}.wav")[0]
        clip = soxr.resample(waveform, 22_050, 16_000).astype(np.float32)
        assert transcribe(clip, asr).text == SENTENCES[i]
    greedy = asr.model.transcribe([clip])[0]
    assert greedy == asr.model.transcribe([clip], beam=3)[0] == SENTENCES[2]


def test_the_cli_transcribes_with_a_run_folder(trained: Path, ljspeech: Path) -> None:
    clip = str(ljspeech / "wavs" / "LJ001-0001.wav")
    command = [sys.executable, "-m", "soundsight", "transcribe", clip, "--asr-model", str(trained)]
    result = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    heard = json.loads(result.stdout)
    assert heard["text"] == "two blue moons" and heard["model"].endswith("model")
    with pytest.raises(ConfigError, match="hears English only and cannot translate"):
        check_asr_options(load_asr(trained), task="translate")


def test_a_resumed_run_refuses_other_settings(trained: Path, ljspeech: Path) -> None:
    with pytest.raises(ConfigError, match="^steps 0: must be positive$"):
        SpeechTransformerTrainConfig(data=(ljspeech,), steps=0)
    other = SpeechTransformerConfig(d_model=32, heads=2, encoder_layers=1, decoder_layers=1, ffn_dim=64,
                                    conv_channels=8, max_seconds=3.0, max_chars=24)  # fmt: skip
    with pytest.raises(ConfigError, match="d_model"):
        main(SpeechTransformerTrainConfig(data=(ljspeech,), out=trained, model=other, steps=260, batch_size=6,
                                          progress=False))  # fmt: skip


def test_folders_that_hold_no_speech_transformer_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "soundsight-speech-transformer", "d_model": 5}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match="not a Speech-Transformer this version reads"):
        load_asr(tmp_path)


def test_the_shipped_speech_transformer_hears_the_example_recording() -> None:
    asr = load_asr("speech-transformer")
    assert asr_backend("speech-transformer") == "speech-transformer" and asr.name == "speech-transformer"
    waveform = load_audio(Path(__file__).parent.parent / "examples" / "red-star.wav")
    heard = transcribe(waveform, asr)
    assert heard.text == "can you draw a small red star on the left on a blue background"
    assert heard.language == "en" and heard.runtime == "torch float32 on cpu"
