"""Make docs/webapp.png: serve `soundsight app` with its default (bundled, offline) models, upload the
example recording in headless Chromium, press "Transcribe and paint" and photograph the page.

    python docs/make_webapp_screenshot.py [--recording examples/red-star.wav] [--out docs/webapp.png]

Needs Debian's chromium at /usr/bin/chromium and the playwright package (`bash install.sh test`).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 120_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            sys.exit(f"soundsight app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"soundsight app did not answer on {url} within {timeout_s:.0f} s")
            time.sleep(0.5)


def photograph(url: str, recording: Path, out: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.locator("#recording input[type=file]").set_input_files(str(recording))
        page.locator("#recording button[aria-label='Clear']").wait_for()
        page.click("#speak")
        expect(page.locator("#gallery img").first).to_have_attribute("src", re.compile(r"\.png$"), timeout=TIMEOUT_MS)
        page.locator("#settings").get_by_text("Settings").click()  # show the models and paint settings too
        page.wait_for_timeout(1000)  # let the gallery and the accordion finish their animations
        page.screenshot(path=str(out), full_page=True)
        print(f"transcript: {page.input_value('#transcript textarea')!r}")
        print(f"prompt: {page.input_value('#prompt textarea')!r}")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", type=Path, default=ROOT / "examples" / "red-star.wav")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "webapp.png")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = Path(tempfile.mkdtemp(prefix="soundsight-app-")) / "app.log"
    with log.open("w") as server_out:
        proc = subprocess.Popen([sys.executable, "-m", "soundsight", "app", "--port", str(port), "--device", "cpu"],
                                env=env, stdout=server_out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until_serving(url, proc, log)
        photograph(url, args.recording.resolve(), args.out)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"saved '{args.out}'")


if __name__ == "__main__":
    main()
