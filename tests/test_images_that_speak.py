"""Images that speak: the spec's spectrogram, the spoken words split, the scorers, joint sampling, the vocoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image
from typer.testing import CliRunner

from soundsight.cli import app
from soundsight.compose import Composer, ComposeSettings, Side, diffusers_states
from soundsight.errors import ConfigError
from soundsight.images_that_speak import grey_prompt
from soundsight.loading import default_shape_classifier, load_pipeline, load_vocoder
from soundsight.shapes.build import BuildReport
from soundsight.shapes.render import make_scene, render_mask
from soundsight.shapes.speaking import object_mask, otsu_threshold, read_shapes, word_heard
from soundsight.shapes.spec import TEST_VOICES
from soundsight.shapes.words import WORDS, plan_word, render_word
from soundsight.spectrogram import SPEC, griffin_lim, log_mel_image, mel_basis, pearson, to_uint8

from .conftest import SMALL_COUNTS


def tone(hz: float, seconds: float = SPEC.window_samples / SPEC.sample_rate) -> np.ndarray:
    t = np.arange(int(seconds * SPEC.sample_rate)) / SPEC.sample_rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_the_spectrogram_is_the_specs_64_by_64_with_low_frequencies_at_the_bottom() -> None:
    low, high = log_mel_image(tone(300)), log_mel_image(tone(4000))
    assert low.shape == high.shape == (64, 64) and low.dtype == np.float32
    assert low.max() == pytest.approx(1.0) and low.min() >= 0.0  # dB of the clip's own maximum, 80 dB of range
    centres = mel_basis(SPEC).argmax(axis=1)  # each band's peak frequency bin, low to high
    bin_hz = SPEC.sample_rate / SPEC.n_fft
    row_low, row_high = int(low[:, 32].argmax()), int(high[:, 32].argmax())
    assert row_low > row_high  # the low tone brightest further down the picture
    assert abs(centres[63 - row_low] * bin_hz - 300) < 60 and abs(centres[63 - row_high] * bin_hz - 4000) < 300
    assert not log_mel_image(np.zeros(SPEC.window_samples, np.float32)).any()


def test_griffin_lim_plays_a_picture_whose_own_picture_matches_it() -> None:
    spoken = render_word(plan_word(0, "test", 0))  # measured r 0.97 (0.97-0.99 on the first six test words)
    picture = to_uint8(log_mel_image(spoken))
    played = griffin_lim(picture, iterations=32)
    assert played.shape == (SPEC.window_samples,) and np.abs(played).max() == pytest.approx(0.9, abs=1e-6)
    assert pearson(to_uint8(log_mel_image(played)), picture) > 0.9
    assert pearson(to_uint8(log_mel_image(np.roll(played, 4000))), picture) < 0.8  # the fit is not any sound's


def test_the_words_split_speaks_each_word_in_the_window_and_its_png_is_its_spectrogram(
    small_build: BuildReport,
) -> None:
    root = small_build.out / "words"
    for split in ("train", "val", "test"):
        rows = [json.loads(line) for line in (root / split / "metadata.jsonl").read_text().splitlines()]
        assert len(rows) == SMALL_COUNTS[split] and [r["word"] for r in rows] == [
            WORDS[i % 14] for i in range(len(rows))
        ]
        assert all((r["voice"] in TEST_VOICES) == (split == "test") for r in rows)
        for row in rows[:4]:
            waveform, rate = sf.read(root / split / row["file_name"], dtype="float32")
            assert rate == 16_000 and waveform.shape == (SPEC.window_samples,) and np.abs(waveform).max() > 0.1
            picture = np.asarray(Image.open(root / split / row["spectrogram"]))
            assert picture.dtype == np.uint8 and picture.shape == (64, 64)
            assert np.array_equal(picture, to_uint8(log_mel_image(waveform)))  # exactly as the spec computes it
    test_rows = [json.loads(line) for line in (root / "test" / "metadata.jsonl").read_text().splitlines()]
    assert {r["snr_db"] is None for r in test_rows} == {True, False}


def test_the_image_side_reads_the_otsu_mask_and_the_audio_side_the_nearest_word() -> None:
    scene = make_scene("star", "white", "big", "center", "black", np.random.default_rng(0))
    grey = (render_mask("star", scene.side_px, scene.center_px) * 200 + 30).astype(np.uint8)
    grey[2, 2] = 255  # a bright speck: not the largest component
    assert 30 <= otsu_threshold(grey) < 230
    assert object_mask(grey)[2, 2] == False and object_mask(grey).sum() > 500  # noqa: E712
    (reading,) = read_shapes([grey], "star", default_shape_classifier())
    assert reading.shape == "star" and reading.probability > 0.9
    (nothing,) = read_shapes([np.zeros((64, 64), np.uint8)], "star", default_shape_classifier())
    assert nothing.shape is None
    assert word_heard("I said Read!") == "red" and word_heard("a circle, i think") == "circle"
    assert word_heard("hello there") == "yellow"  # 0.73 alike: the spec's rule hears it
    assert word_heard("zzz qq") is None and word_heard("") is None
    assert grey_prompt("a star") == "a big white star on a black background"
    assert grey_prompt("a red star") == "a red star" and grey_prompt("a star and a heart") == "a star and a heart"


def tiny_composer(tiny_sd: Path) -> Composer:
    pipe = load_pipeline(tiny_sd, device="cpu", backend="torch")
    audio_unet = type(pipe.unet).from_config(pipe.unet.config).eval()  # another model in the same latent space
    return Composer(Side(pipe.unet, diffusers_states(pipe)), Side(audio_unet, diffusers_states(pipe)), pipe.vae,
                    pipe.scheduler.config, lambda picture: griffin_lim(picture, iterations=4), {})  # fmt: skip


def test_joint_sampling_mixes_the_two_estimates_as_w_and_the_warm_start_say(tiny_sd: Path) -> None:
    torch.manual_seed(0)
    composer = tiny_composer(tiny_sd)
    another_image_model = type(composer.image.unet).from_config(composer.image.unet.config).eval()
    other = Composer(Side(another_image_model, composer.image.encode), composer.audio, composer.vae,
                     composer.scheduler_config, composer.vocoder, {})  # fmt: skip

    def run(c: Composer, **kw: float) -> np.ndarray:
        settings = ComposeSettings(steps=4, **{"warm_start": 0, "w_end": None, **kw})  # type: ignore[arg-type]
        return c.compose("a star", "red", [0, 1], settings)[0].picture

    assert np.array_equal(run(composer, w=1.0), run(other, w=1.0))  # the image model plays no part
    assert np.array_equal(run(composer, w=0.5, warm_start=4), run(other, w=0.5, warm_start=4))  # all warm start
    assert not np.array_equal(run(composer, w=0.5, warm_start=1), run(other, w=0.5, warm_start=1))
    assert not np.array_equal(run(composer, w=0.0), run(composer, w=1.0))
    alone = composer.compose("a star", "red", [1], ComposeSettings(steps=4, warm_start=1))[0]
    batched = composer.compose("a star", "red", [0, 1], ComposeSettings(steps=4, warm_start=1))[1]
    assert alone.seed == batched.seed == 1 and np.abs(alone.picture.astype(int) - batched.picture).max() <= 1
    assert alone.picture.shape == (32, 32) and alone.waveform.dtype == np.float32
    with pytest.raises(ConfigError, match="--w 1.5"):
        ComposeSettings(w=1.5)
    with pytest.raises(ConfigError, match="--warm-start 9"):
        ComposeSettings(steps=5, warm_start=9)
    # a w ramp: the image model alone on the last step when w ends at 0
    ramp = ComposeSettings(steps=12, warm_start=1, w=0.8, w_end=0.0)
    assert [ramp.w_at(i) for i in (0, 1, 6, 11)] == pytest.approx([0.8, 0.8, 0.4, 0.0])
    assert np.array_equal(run(composer, w=1.0, w_end=1.0), run(other, w=1.0))
    assert not np.array_equal(run(composer, w=1.0, w_end=0.0), run(other, w=1.0, w_end=0.0))
    with pytest.raises(ConfigError, match="--w-end -0.1"):
        ComposeSettings(w_end=-0.1)


def test_the_vocoder_trains_resumes_and_loads(small_build: BuildReport, tmp_path: Path) -> None:
    from soundsight.train.vocoder import VocoderTrainConfig, main

    config = VocoderTrainConfig(data=small_build.out, out=tmp_path / "vocoder", steps=2, batch_size=4,
                                channels=32, blocks=2, checkpoint_every=1, validate_every=2, log_every=1,
                                progress=False)  # fmt: skip
    final = main(config)
    log = [json.loads(line) for line in (tmp_path / "vocoder" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2] and any("val_r" in r for r in log)
    vocoder = load_vocoder(final)
    with torch.no_grad():
        played = vocoder(torch.rand(3, 64, 64))
    assert played.shape == (3, SPEC.window_samples)
    more = main(VocoderTrainConfig(**{**config.__dict__, "steps": 3}))  # resumed from step 2
    log = [json.loads(line) for line in (tmp_path / "vocoder" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3] and more == final
    assert json.loads((final / "training.json").read_text())["word_examples"] == SMALL_COUNTS["train"]


def test_compose_refuses_bad_requests_in_one_line_before_loading(tmp_path: Path) -> None:
    for args, message in (
        (["--image-prompt", "a dog", "--word", "red"], "name one shape"),
        (["--image-prompt", "a star", "--word", "dog"], "the bundled spectrogram model speaks red, orange"),
        (["--image-prompt", "a star", "--word", "red", "--w", "2"], "--w 2.0: must be between 0 and 1"),
        (["--image-prompt", "a star", "--word", "red", "--num-images", "0"], "--num-images 0"),
    ):
        result = CliRunner().invoke(app, ["compose", *args, "-o", str(tmp_path / "out")])
        assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_compose_writes_the_picture_its_sound_and_their_scores(tiny_sd: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compose", "--image-prompt", "a star", "--word", "red", "-o", str(out), "--image-model", str(tiny_sd),
            "--spectrogram-model", str(tiny_sd), "--vocoder", "griffin-lim", "--steps", "3", "--warm-start", "1",
            "--num-images", "2", "--seed", "5", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for seed in (5, 6):
        meta = json.loads((out / f"red-star-{seed}.json").read_text())
        settings = (meta["word"], meta["seed"], meta["w"], meta["w_end"], meta["vocoder"])
        assert settings == ("red", seed, 0.3, 0.7, "griffin-lim")
        assert meta["rank"] in (0, 1) and -1.0 <= meta["consistency_r"] <= 1.0
        with Image.open(out / f"red-star-{seed}.png") as png:
            assert png.mode == "L" and png.size == (32, 32)
        assert sf.info(str(out / f"red-star-{seed}.wav")).samplerate == 16_000
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and (out / "red-star-5-2.png").is_file()  # nothing overwritten


def test_the_word_classifier_trains_saves_and_hears_a_clip(small_build: BuildReport, tmp_path: Path) -> None:
    from soundsight.loading import load_word_classifier
    from soundsight.shapes.speaking import classifier_listener
    from soundsight.train.word_classifier import WordClassifierTrainConfig, main

    card = main(WordClassifierTrainConfig(data=small_build.out, out=tmp_path / "judge", epochs=1, batch_size=8,
                                          progress=False))  # fmt: skip
    assert set(card["accuracy"]) == {"test", "test_through_griffin_lim"} and card["train_words"] == 24
    listen = classifier_listener(load_word_classifier(tmp_path / "judge"))
    waveform, _ = sf.read(small_build.out / "words" / "test" / "000000.wav", dtype="float32")
    heard = listen(waveform)
    assert heard.word in WORDS and heard.transcript == heard.word and 0 < heard.probability <= 1
    with pytest.raises(Exception, match="not a word classifier"):
        (tmp_path / "judge" / "config.json").write_text('{"model_type": "something else"}')
        load_word_classifier(tmp_path / "judge")
