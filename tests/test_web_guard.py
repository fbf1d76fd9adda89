"""The web app's request guard: host names, origins and the upload budget, on a small Starlette app."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from soundsight.web_guard import UploadBudget, check_request, served_names

NAMES = served_names("127.0.0.1", ["soundsight.example.org"])


def _client(folder: Path, limit_bytes: int) -> TestClient:
    from soundsight.web_guard import RequestGuard

    async def upload(request: Request) -> PlainTextResponse:
        body = await request.body()
        (folder / f"upload-{time.monotonic_ns()}").write_bytes(body)
        return PlainTextResponse("kept")

    async def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("the page")

    guard = Middleware(RequestGuard, names=NAMES, budget=UploadBudget(folder, limit_bytes), max_upload_bytes=100)
    app = Starlette(routes=[Route("/", page), Route("/gradio_api/upload", upload, methods=["POST"])],
                    middleware=[guard])  # fmt: skip
    return TestClient(app, base_url="http://127.0.0.1:7860")


def test_requests_for_other_names_are_refused_and_addresses_let_in() -> None:
    assert check_request({"host": "127.0.0.1:7860"}, NAMES) is None
    assert check_request({"host": "SoundSight.example.org"}, NAMES) is None  # --allowed-hosts, any case
    assert check_request({"host": "192.168.1.20:7860"}, NAMES) is None  # an address: no rebinding needed
    assert check_request({"host": "[::1]:7860"}, NAMES) is None
    refusal = check_request({"host": "rebound.attacker.test:7860"}, NAMES)
    assert refusal is not None and refusal.status == 400
    assert refusal.message == ("host 'rebound.attacker.test': not a name this server answers to (start it with "
                               "--allowed-hosts NAME to serve that name)")  # fmt: skip
    assert check_request({}, NAMES) is not None  # no Host at all


def test_only_the_servers_own_pages_may_send_requests() -> None:
    own = {"host": "127.0.0.1:7860"}
    assert check_request({**own, "origin": "http://127.0.0.1:7860"}, NAMES) is None
    assert check_request({**own, "origin": "http://localhost:7860"}, NAMES) is None  # another of its names
    for foreign in ("https://evil.test", "http://localhost:8080", "null", "http://127.0.0.1:x"):
        refusal = check_request({**own, "origin": foreign}, NAMES)
        assert refusal is not None and refusal.status == 403, foreign
        assert refusal.message == f"origin {foreign!r}: this server takes requests only from its own pages"


def test_served_names_hold_this_machine_and_not_the_any_address() -> None:
    import socket

    names = served_names("0.0.0.0", ["Photos.Example.org"])
    assert {"localhost", "127.0.0.1", "::1", socket.gethostname().lower(), "photos.example.org"} <= names
    assert "0.0.0.0" not in names


def test_uploads_beyond_the_budget_remove_the_oldest_first(tmp_path: Path) -> None:
    client = _client(tmp_path, limit_bytes=250)
    old, newer = tmp_path / "old", tmp_path / "newer"
    old.mkdir()
    (old / "a.wav").write_bytes(b"x" * 100)
    newer.write_bytes(b"y" * 100)
    os.utime(old, (1, 1))  # the oldest entry
    response = client.post("/gradio_api/upload", content=b"z" * 80)
    assert (response.status_code, response.text) == (200, "kept")
    assert not old.exists() and newer.exists()  # 100 + 100 + 80 > 250: only the oldest had to go
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) == 180

    too_big = client.post("/gradio_api/upload", content=b"w" * 300)
    assert too_big.status_code == 413
    assert too_big.text == "upload of 300 bytes: more than this server keeps for uploads (250 bytes)\n"
    assert newer.exists()  # a refused upload removes nothing


def test_the_guard_answers_in_one_line_and_lets_the_page_through(tmp_path: Path) -> None:
    client = _client(tmp_path, limit_bytes=1000)
    assert client.get("/").text == "the page"
    forged = client.get("/", headers={"host": "rebound.attacker.test"})
    assert forged.status_code == 400 and forged.text.count("\n") == 1
    foreign = client.post("/gradio_api/upload", content=b"z", headers={"origin": "https://evil.test"})
    assert foreign.status_code == 403 and not list(tmp_path.iterdir())  # nothing was kept


@pytest.mark.parametrize("limit", [0, 99])
def test_an_upload_larger_than_the_whole_budget_never_fits(tmp_path: Path, limit: int) -> None:
    assert not UploadBudget(tmp_path, limit).make_room(100)
