"""The web app: its handlers without a browser, then `soundsight app` served and driven in headless Chromium."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from typer.testing import CliRunner

import soundsight
from soundsight.asr import Transcript
from soundsight.cli import app
from soundsight.errors import AudioError, ConfigError, PromptError
from soundsight.shapes.spec import SHAPES
from soundsight.shapes.words import WORDS
from soundsight.webapp import (
    AppConfig,
    build_app,
    check_duration,
    check_lora,
    check_model,
    hear,
    image_choices,
    image_painter,
    lora_choices,
    page_choices,
    page_prompt,
    paint,
    read_recording,
    settings,
)

from .conftest import SHARED_DATA

BELL = Path(__file__).resolve().parents[1] / "examples" / "bell.wav"
JFK = SHARED_DATA / "speech" / "en_jfk.wav"  # "... ask not what your country can do for you ..." (11.0 s)
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright's own browser download is not used
MAX_SECONDS = 20  # the served app's limits, small enough to test
MAX_UPLOAD_MB = 1
TIMEOUT_MS = 60_000
SERVED = re.compile(r"/gradio_api/file=.+\.png$")  # an image the app wrote and gradio serves


def write_wav(path: Path, seconds: float, amplitude: float = 0.0) -> Path:
    """A 16 kHz mono WAV of silence (amplitude 0) or white noise."""
    noise = np.random.default_rng(0).standard_normal(int(seconds * 16_000)) * amplitude
    sf.write(path, noise.astype(np.float32), 16_000)
    return path


# --- the handlers, without a browser ---


def test_app_config_refuses_values_it_cannot_serve() -> None:
    assert AppConfig().host == "127.0.0.1"  # only this machine unless told otherwise
    with pytest.raises(ConfigError, match=r"^max_seconds 0: must be positive$"):
        AppConfig(max_seconds=0)
    with pytest.raises(ConfigError, match=r"^max_queue_size 0: must be at least 1$"):
        AppConfig(max_queue_size=0)
    result = CliRunner().invoke(app, ["app", "--max-upload-mb", "-1"])
    assert result.exit_code == 1 and result.stderr.strip() == "error: max_upload_mb -1.0: must be positive"
    result = CliRunner().invoke(app, ["app", "--max-upload-mb", "20", "--max-upload-total-mb", "10"])
    assert result.stderr.strip() == "error: max_upload_total_mb 10: must be at least max_upload_mb (20)"
    result = CliRunner().invoke(app, ["app", "--backend", "ctranslate2"])
    assert result.stderr.strip() == "error: --backend ctranslate2 runs Whisper only: use --asr-backend ctranslate2"
    assert AppConfig(backend="torch", asr_backend="ctranslate2").speech_backend == "ctranslate2"
    assert AppConfig(backend="openvino").speech_backend == "openvino"


def test_one_bounded_queue_transcriptions_in_turn_and_paints_taken_together() -> None:
    page = build_app(AppConfig(concurrency_limit=2, max_queue_size=5, paint_batch=6))
    queue = page._queue  # gradio's own queue: what `default_concurrency_limit` and `max_size` set
    assert (queue.default_concurrency_limit, queue.max_size) == (2, 5)
    model_work = {fn.name: fn for fn in page.fns.values() if fn.queue}
    assert set(model_work) == {"on_transcribe", "on_paint", "on_sound", "on_compose"}
    assert {fn.name: (fn.concurrency_id, fn.concurrency_limit) for fn in page.fns.values() if fn.queue} == {
        "on_transcribe": ("listen", "default"), "on_sound": ("listen", "default"),  # however they are started
        "on_compose": ("listen", "default"),
        "on_paint": ("paint", 6),  # six at once: their images are painted together (BatchingPainter)
    }  # fmt: skip


def test_the_server_keeps_a_bounded_number_of_sessions_the_oldest_dropped_first() -> None:
    from gradio.state_holder import StateHolder

    from soundsight.webapp import SESSIONS_KEPT, launch

    launched: dict[str, Any] = {}

    def served(page: gr.Blocks, **kwargs: Any) -> None:  # what gradio's launch sets before it serves
        page.state_session_capacity = kwargs["state_session_capacity"]
        launched["page"] = page

    with mock.patch.object(gr.Blocks, "launch", served), mock.patch("soundsight.webapp._stop_on_sigterm"):
        launch(AppConfig())
    holder = StateHolder()
    holder.set_blocks(launched["page"])
    for i in range(SESSIONS_KEPT + 20):
        holder[f"visitor-{i}"]  # what a request of that session does first
    holder["visitor-30"]  # a visitor who came back is kept
    holder["one more"]
    assert len(holder.session_data) == SESSIONS_KEPT
    assert "visitor-0" not in holder and "visitor-20" not in holder and "visitor-21" in holder
    assert "visitor-30" in holder and f"visitor-{SESSIONS_KEPT + 19}" in holder


def test_the_queue_keeps_messages_for_as_many_sessions_and_a_bounded_record_of_requests() -> None:
    from soundsight.webapp import REQUESTS_RECORDED, SESSIONS_KEPT

    queue = build_app(AppConfig())._queue
    queue.pending_event_ids_session["visitor-0"] = {"a request still waiting"}
    for i in range(SESSIONS_KEPT + 20):  # what gradio does for each session's first request
        queue.pending_messages_per_session[f"visitor-{i}"] = object()
    assert len(queue.pending_messages_per_session) == SESSIONS_KEPT
    assert "visitor-0" in queue.pending_messages_per_session  # its request still needs its messages
    assert (
        "visitor-1" not in queue.pending_messages_per_session and "visitor-20" not in queue.pending_messages_per_session
    )
    assert "visitor-21" in queue.pending_messages_per_session
    assert f"visitor-{SESSIONS_KEPT + 19}" in queue.pending_messages_per_session
    assert queue.ANALYTICS_MAX_EVENTS == REQUESTS_RECORDED < 10_000  # gradio's own bound is 10,000 requests


def test_the_four_ways_in_have_stable_api_names_and_nothing_else_is_callable() -> None:
    page = build_app(AppConfig())
    public = {fn.api_name: fn.name for fn in page.fns.values() if fn.api_visibility == "public"}
    assert public == {"transcribe": "on_transcribe", "paint": "on_paint", "hear": "on_sound", "compose": "on_compose"}


def test_a_model_the_page_cannot_load_gets_one_message_whether_or_not_the_path_exists(tmp_path: Path) -> None:
    from soundsight.webapp import _loaded_for_page, image_painter

    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a model")
    messages = set()
    for name in ("/nowhere/model", str(tmp_path / "empty"), str(tmp_path / "notes.txt")):
        with pytest.raises(ConfigError) as refused, _loaded_for_page("image model", name):
            image_painter(name, "cpu")
        messages.add(str(refused.value).replace(name, "NAME"))
    assert messages == {"image model 'NAME': this app cannot load it (a Hub id it can reach, or one of its own model "
                        "folders)"}  # fmt: skip


def test_a_recording_too_long_silent_or_not_audio_is_refused_naming_only_the_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"^'en_jfk.wav': 11.0 s of audio, longer than this app takes \(10 s\)$"):
        read_recording(str(JFK), max_seconds=10)
    check_duration(np.zeros(16_000 * 10, dtype=np.float32), "'x.wav'", 10)  # exactly the limit is fine
    upload = tmp_path / "3f2a9c" / "notes.wav"  # gradio keeps an upload as <cache>/<hash>/<its name>
    upload.parent.mkdir()
    upload.write_text("these are notes, not audio")
    with pytest.raises(AudioError) as bad:
        read_recording(str(upload), max_seconds=60)
    assert str(bad.value) == "cannot read audio 'notes.wav': unsupported format (expected wav, flac, ogg, aiff or mp3)"
    with pytest.raises(AudioError, match=r"^'silence.wav': no speech found in 2.0 s of audio"):
        read_recording(str(write_wav(tmp_path / "silence.wav", 2.0)), max_seconds=60)
    with pytest.raises(AudioError, match="^no recording: record with the microphone or upload a file first$"):
        read_recording(None, max_seconds=60)
    assert len(read_recording(str(JFK), max_seconds=60)) == 11 * 16_000


def test_translate_on_a_model_that_cannot_is_one_line_naming_no_server_folder() -> None:
    from soundsight.defaults import default_asr_model

    with pytest.raises(ConfigError) as refused:
        hear(str(JFK), default_asr_model(), translate=True, config=AppConfig())
    assert str(refused.value) == (
        "speech model 'auto' cannot translate: untick Translate to English or choose another speech model"
    )
    heard = hear(str(JFK), default_asr_model(), translate=False, config=AppConfig())
    assert heard.task == "transcribe" and heard.text


def test_paint_settings_and_models_stay_within_the_app_limits() -> None:
    assert settings(7, 20, 4, 2) == settings(7.0, 20.0, 4.0, 2.0)
    assert (settings(7, 20, 4, 2).seed, settings(7, 20, 4, 2).num_images) == (7, 2)
    with pytest.raises(ConfigError, match=r"^steps 101: this app paints with at most 100$"):
        settings(0, 101, 4, 1)
    with pytest.raises(ConfigError, match=r"^num_images 5: this app paints at most 4 at once$"):
        settings(0, 20, 4, 5)
    for seed in (-1, 1e30, 2.5):
        with pytest.raises(ConfigError) as refused:
            settings(seed, 20, 4, 1)
        assert str(refused.value) == f"seed {seed:g}: must be a whole number from 0 to 4294967295"
    for bad in (float("nan"), float("inf"), None):
        with pytest.raises(ConfigError, match=rf"^guidance {bad}: must be a number$"):
            settings(0, 20, bad, 1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"^steps 0: must be at least 1$"):
        settings(0, 0, 4, 1)
    locked = AppConfig(custom_models=False)
    offered = image_choices(locked)
    assert check_model(offered[0][1], offered, locked) == offered[0][1]
    assert check_model(offered[0][0], offered, locked) == offered[0][1]  # the page sends the label it shows
    assert [value for _, value in page_choices(offered)] == [label for label, _ in offered]  # no server path
    with pytest.raises(ConfigError, match=r"^model 'some/model': this app offers only the models in its list$"):
        check_model("some/model", offered, locked)
    assert check_model(" some/model ", offered, AppConfig()) == "some/model"


def test_paint_saves_pngs_with_their_parameters_and_loads_the_model_once(tiny_sd: Path, tmp_path: Path) -> None:
    config = AppConfig(device="cpu")
    heard = Transcript("please draw a red star", "en", "transcribe", "whisper")
    pngs = paint("  a red star ", str(tiny_sd), settings(3, 2, 7.5, 2), tmp_path, heard=heard, config=config)
    assert [p.name for p in pngs] == ["a-red-star-3.png", "a-red-star-4.png"]
    meta = json.loads(pngs[1].with_suffix(".json").read_text())
    assert (meta["prompt"], meta["transcript"], meta["seed"], meta["steps"]) == ("a red star", heard.text, 4, 2)
    assert meta["image_model"] == tiny_sd.name and str(tiny_sd.parent) not in pngs[1].with_suffix(".json").read_text()
    with Image.open(pngs[0]) as image:
        assert image.text["parameters"].splitlines()[0] == "a red star" and image.size == (32, 32)
    assert image_painter(str(tiny_sd), "cpu") is image_painter(str(tiny_sd), "cpu")
    with pytest.raises(PromptError, match="^the prompt is empty"):
        paint("  ", str(tiny_sd), settings(0, 2, 7.5, 1), tmp_path, config=config)


def test_personalised_weights_and_subject_on_the_page(tiny_sd: Path, tiny_lora: Path, tmp_path: Path) -> None:
    locked = AppConfig(custom_models=False, lora=str(tiny_lora), subject="sks person")
    offered = lora_choices(locked)
    assert offered == [("none", ""), ("lora (default)", str(tiny_lora))]
    assert check_lora(" ", offered, locked) is None and check_lora(str(tiny_lora), offered, locked) == str(tiny_lora)
    assert check_lora("none", offered, locked) is None  # the labels the page sends
    assert check_lora("lora (default)", offered, locked) == str(tiny_lora)
    with pytest.raises(ConfigError, match=r"^LoRA weights 'other/lora': this app offers only the weights in its list$"):
        check_lora("other/lora", offered, locked)
    with pytest.raises(ConfigError, match=r"^LoRA weights '/nowhere/lora': no such file or folder$"):
        AppConfig(lora="/nowhere/lora")
    assert page_prompt("um, draw me on the beach", "sks person") == "a photo of sks person on the beach"
    assert page_prompt("um, draw me on the beach", " ") == "on the beach"

    config = AppConfig(device="cpu")
    plain = paint("a red star", str(tiny_sd), settings(0, 2, 7.5, 1), tmp_path / "plain", config=config)
    tuned = paint("a red star", str(tiny_sd), settings(0, 2, 7.5, 1), tmp_path / "tuned", lora=str(tiny_lora),
                  config=config)  # fmt: skip
    with Image.open(plain[0]) as a, Image.open(tuned[0]) as b:
        assert not np.array_equal(np.asarray(a), np.asarray(b))  # same seed, the weights changed the picture
        assert b.text["parameters"].endswith(", LoRA: lora") and "LoRA" not in a.text["parameters"]
    assert json.loads(tuned[0].with_suffix(".json").read_text())["lora"] == "lora"
    assert image_painter(str(tiny_sd), "cpu") is not image_painter(str(tiny_sd), "cpu", lora=str(tiny_lora))


# --- the whole app in a real browser ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVING: dict[str, Any] = {}  # the served app's process and upload folder, for the last test of this file


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`soundsight app` in a subprocess on a free port, with Moonshine to hear real voices (both offline)."""
    log = tmp_path_factory.mktemp("app") / "app.log"  # a file, not a pipe: nobody reads a pipe while tests run
    port = free_port()
    cmd = [sys.executable, "-m", "soundsight", "app", "--port", str(port), "--asr-model", "moonshine",
           "--device", "cpu", "--max-seconds", str(MAX_SECONDS), "--max-upload-mb", str(MAX_UPLOAD_MB),
           "--subject", "sks heart", "--max-upload-total-mb", "50"]  # fmt: skip
    uploads = log.parent / "gradio"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(uploads)}
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    SERVING.update(process=proc, uploads=uploads)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"soundsight app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"soundsight app did not answer on {url} within 120 s")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright; missing pieces fail the tests rather than skip them."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: run `bash install.sh test` (it installs Debian's chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run `bash install.sh test`")
    expect.set_options(timeout=TIMEOUT_MS)  # painting on a busy CPU can take a while
    with sync_playwright() as playwright:
        # a fake microphone that plays JFK's recording, allowed without asking
        fake_microphone = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                           f"--use-file-for-fake-audio-capture={JFK}"]  # fmt: skip
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=fake_microphone)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, permissions=["microphone"])
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    page.wait_for_selector("#recording input[type=file]", state="attached")
    yield page
    page.close()


def upload(page: Any, path: Path, *, accepted: bool = True, box: str = "#recording") -> None:
    """Put a file into an audio box (Recording, or Sound), replacing what it held; wait until the server has it."""
    clear = page.locator(f"{box} button[aria-label='Clear']")
    if clear.count():
        clear.first.click()
    if not accepted:
        page.locator(f"{box} input[type=file]").set_input_files(str(path))
        return
    with page.expect_response(lambda response: "/gradio_api/upload" in response.url) as uploaded:
        page.locator(f"{box} input[type=file]").set_input_files(str(path))
    assert uploaded.value.ok
    clear.first.wait_for()  # the box holds it


def expect_message(page: Any, text: str) -> None:
    """An error or warning box on the page holds `text`; then close every box."""
    from playwright.sync_api import expect

    expect(page.locator(".toast-body").filter(has_text=text)).to_be_visible()
    for close in page.locator(".toast-close").all():
        close.click()


def test_upload_transcribe_then_paint_in_the_browser(page: Any) -> None:
    from playwright.sync_api import expect

    upload(page, JFK)
    page.click("#transcribe")
    expect(page.locator("#transcript textarea")).to_have_value(
        # Moonshine's own words for the recording (it hears "ask not" as "As not")
        "And so my fellow Americans. As not. What your country can do for you? Ask what you can do for your country."
    )
    assert page.input_value("#language textarea") == "en"
    prompt = page.input_value("#prompt textarea")
    assert prompt.startswith("my fellow Americans") and prompt.endswith("do for your country")
    page.click("#paint")  # people's words are no Spoken Shapes caption: the bundled model says so
    expect_message(page, "is not a Spoken Shapes caption, and the bundled image model paints only those")

    page.fill("#prompt textarea", "a red star on a blue background")  # the prompt is the user's to change
    page.click("#paint")
    image = page.locator("#gallery img").first
    expect(image).to_have_attribute("src", SERVED)
    response = page.request.get(image.get_attribute("src"))
    assert response.ok
    with Image.open(io.BytesIO(response.body())) as png:
        assert png.format == "PNG" and png.size == (64, 64)  # what the bundled model paints
        parameters = png.text["parameters"].splitlines()
    assert parameters[0] == "a red star on a blue background"
    assert parameters[1].startswith("Steps: 20, Sampler: ") and "CFG scale: 4, Seed: 0, Size: 64x64" in parameters[1]
    files = page.locator("#files").inner_text()
    assert "a-red-star-on-a-blue-0" in files and ".png" in files and ".json" in files


def test_me_in_the_transcript_becomes_the_subject_phrase(page: Any) -> None:
    from playwright.sync_api import expect

    page.click("#settings")  # the subject and weights sit in the settings, closed at first
    expect(page.locator("#lora input")).to_have_value("none")  # the app was given no LoRA weights
    # typed by hand: gradio hears key presses, not Playwright's fill; the last press makes one request
    page.fill("#transcript textarea", "um, draw me on a red backgroun")
    page.locator("#transcript textarea").press("d")
    expect(page.locator("#prompt textarea")).to_have_value("a photo of sks heart on a red background")
    page.fill("#subject textarea", "sks perso")  # another subject: the prompt follows
    page.locator("#subject textarea").press("n")
    expect(page.locator("#prompt textarea")).to_have_value("a photo of sks person on a red background")


def test_bad_uploads_get_a_message_and_the_app_serves_on(page: Any, tmp_path: Path) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are notes, not audio")
    cases = [
        (not_audio, "cannot read audio 'notes.wav': unsupported format (expected wav, flac, ogg, aiff or mp3)"),
        (write_wav(tmp_path / "silence.wav", 3.0), "'silence.wav': no speech found in 3.0 s of audio"),
        (write_wav(tmp_path / "long.wav", MAX_SECONDS + 1, 0.01),
         f"'long.wav': {MAX_SECONDS + 1:.1f} s of audio, longer than this app takes ({MAX_SECONDS} s)"),
    ]  # fmt: skip
    for path, message in cases:
        upload(page, path)
        page.click("#transcribe")
        expect_message(page, message)

    too_big = write_wav(tmp_path / "big.wav", 40, 0.01)  # 1.3 MB of 16-bit samples
    upload(page, too_big, accepted=False)
    expect_message(page, f'exceed the maximum allowed size of {MAX_UPLOAD_MB}.0 Mb: "big.wav"')  # gradio's words

    from playwright.sync_api import expect

    upload(page, JFK)  # still serving: one click now transcribes and paints
    page.locator("#any_prompt input").check()  # people's words, painted by the bundled model because asked
    page.click("#speak")
    expect(page.locator("#transcript textarea")).to_have_value(re.compile("do for your country"))
    expect(page.locator("#gallery img").first).to_have_attribute("src", SERVED)


def test_record_from_the_microphone_then_transcribe(page: Any) -> None:
    from playwright.sync_api import expect

    page.click("#recording button[aria-label='Record audio']")
    page.locator("#recording button", has_text="Record").first.click()
    page.wait_for_timeout(6000)  # the fake microphone plays the recording from its start
    # the Clear button shows before the recording is uploaded: wait for the upload itself
    with page.expect_response(lambda response: "/gradio_api/upload" in response.url) as uploaded:
        page.locator("#recording button", has_text="Stop").first.click()
    assert uploaded.value.ok
    page.click("#transcribe")
    expect(page.locator("#transcript textarea")).not_to_have_value("")
    heard = set(re.findall(r"[a-z]+", page.input_value("#transcript textarea").lower()))
    assert len(heard & {"and", "so", "my", "fellow", "americans", "ask", "not", "what", "your", "country"}) >= 4


def test_a_sound_paints_its_scene_in_the_sound_tab(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from soundsight.evaluate.image_model import score_painted

    page.click("#sound_tab-button")
    upload(page, write_wav(tmp_path / "quiet.wav", 2.0), box="#sound")
    page.click("#hear")
    expect_message(page, "'quiet.wav': silent (peak below -60 dBFS), nothing to hear")
    upload(page, BELL, box="#sound")  # a synthetic bell: its scene is a yellow circle
    page.click("#hear")
    image = page.locator("#gallery img").first
    expect(image).to_have_attribute("src", SERVED)
    with Image.open(io.BytesIO(page.request.get(image.get_attribute("src")).body())) as png:
        picture = np.asarray(png.convert("RGB"))
        assert "Sound: bell.wav, Adapter: sound_adapter" in png.text["parameters"]
    verdict = score_painted(picture[None], ["a yellow circle"], ["bell"]).verdicts[0]
    assert verdict.correct, verdict.read


def test_scripts_drive_the_app_by_its_api_names(server: str) -> None:
    from gradio_client import Client, handle_file

    from soundsight.evaluate.image_model import score_painted

    client = Client(server, verbose=False)
    gallery, files = client.predict(sound=handle_file(str(BELL)), seed=3, api_name="/hear")
    meta = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert (meta["scene"], meta["seed"]) == ("a yellow circle", 3)
    with Image.open(gallery[0]["image"]) as png:
        picture = np.asarray(png.convert("RGB"))
    assert score_painted(picture[None], ["a yellow circle"], ["bell"]).verdicts[0].correct
    _, files = client.predict(prompt="a red star on a blue background", api_name="/paint")  # the rest: the page's
    meta = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
    assert meta["prompt"] == "a red star on a blue background"
    text, language, prompt = client.predict(recording=handle_file(str(JFK)), api_name="/transcribe")
    assert "what you can do for your country" in text.lower() and language == "en" and prompt


def test_people_painting_at_once_are_all_served_each_with_their_own_seed(server: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    def paint_one(seed: int) -> tuple[dict[str, Any], np.ndarray]:
        _, files = Client(server, verbose=False).predict(prompt="a red star on a blue background", seed=seed,
                                                        api_name="/paint")  # fmt: skip
        meta = json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())
        with Image.open(next(f for f in files if f.endswith(".png"))) as png:
            return meta, np.asarray(png.convert("RGB"), np.int16)

    with ThreadPoolExecutor(6) as pool:  # six people at once: their requests are painted together
        together = list(pool.map(paint_one, range(40, 46)))
    assert [meta["seed"] for meta, _ in together] == list(range(40, 46))
    _, alone = paint_one(43)  # the same seed on its own: the same picture (within 1/255)
    assert np.abs(together[3][1] - alone).max() <= 1
    assert not np.array_equal(together[0][1], together[1][1])  # other seeds, other pictures


def test_the_server_refuses_other_names_and_other_sites_and_shows_no_server_path(server: str) -> None:
    port = urllib.parse.urlsplit(server).port

    def status(path: str, headers: dict[str, str], data: bytes | None = None) -> tuple[int, str]:
        request = urllib.request.Request(server + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    code, config = status("config", {})
    assert code == 200 and "sd_shapes (default)" in config
    install = str(Path(soundsight.__file__).parent)
    assert install not in config and str(SERVING["uploads"]) not in config  # no folder of the server's
    rebound = status("config", {"Host": f"rebound.attacker.test:{port}"})
    assert rebound[0] == 400 and rebound[1].startswith("host 'rebound.attacker.test': not a name this server")
    foreign = status("gradio_api/upload", {"Origin": "https://evil.test", "Content-Type": "text/plain"}, b"x")
    assert foreign == (403, "origin 'https://evil.test': this server takes requests only from its own pages\n")
    assert status("config", {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})[0] == 200


def test_sigterm_stops_the_server_and_removes_every_upload(server: str) -> None:
    # the last test here: it stops the module's server (every test above used it, uploads included)
    proc, uploads = SERVING["process"], SERVING["uploads"]
    assert [p for p in uploads.rglob("*") if p.suffix == ".wav"], "uploads are kept while serving"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert not [p for p in uploads.rglob("*") if p.is_file()], sorted(uploads.rglob("*"))


def test_the_compose_tab_writes_the_picture_its_sound_and_a_sidecar_naming_no_server_folder(tmp_path: Path) -> None:
    from soundsight.webapp import compose_speaking

    png, wav, sidecar = compose_speaking("star", "red", 3, tmp_path, config=AppConfig(device="cpu"))
    meta = json.loads(sidecar.read_text())
    assert (meta["word"], meta["seed"], meta["image_prompt"]) == ("red", 3, "a star")
    assert meta["spectrogram_model"] == "spectrogram_shapes" and meta["vocoder"] == "griffin-lim"
    assert meta["shape_read"] in (*SHAPES, None) and meta["word_heard"] in WORDS
    with Image.open(png) as picture:
        assert picture.mode == "L" and picture.size == (64, 64)
    assert sf.info(str(wav)).samplerate == 16_000
    with pytest.raises(ConfigError, match="choose one of the shapes"):
        compose_speaking("dog", "red", 3, tmp_path, config=AppConfig(device="cpu"))
