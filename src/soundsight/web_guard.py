"""What the web app's server lets in: requests for its own names from its own pages, and uploads within a
disk budget.

DNS rebinding points a name the attacker owns at this server, so a request's Host must be one of the names
the server answers to (an IP address needs no rebinding and is let in). A browser says where a request comes
from in Origin: one from another site's page is refused, so no other site can upload or queue work. Scripts
(gradio_client, curl) send no Origin and are let in.
"""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")
UPLOAD_PATH_END = "/upload"  # gradio's upload route, /gradio_api/upload


def served_names(host: str, allowed_hosts: Iterable[str] = ()) -> frozenset[str]:
    """The host names requests may name: the served address, this machine's own names and `allowed_hosts`
    (lower case, no port)."""
    names = {*LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn(), *allowed_hosts}
    if host not in ANY_ADDRESS:
        names.add(host)
    return frozenset(name.strip().lower().strip("[]") for name in names if name.strip())


def _host_name(authority: str) -> str:
    """'Example.org:7860' -> 'example.org', '[::1]:7860' -> '::1'."""
    return (urlsplit(f"//{authority}").hostname or "").lower()


def _is_address(name: str) -> bool:
    try:
        ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def check_request(headers: dict[str, str], names: frozenset[str]) -> Refusal | None:
    """Why a request with these (lower-case) headers is refused, or None to let it in."""
    host = headers.get("host", "")
    host_name = _host_name(host)
    if not host_name or not (host_name in names or _is_address(host_name)):
        return Refusal(400, f"host {host_name or '(none)'!r}: not a name this server answers to "
                            "(start it with --allowed-hosts NAME to serve that name)")  # fmt: skip
    origin = headers.get("origin")
    if origin is None:
        return None
    if not _same_server(origin, host, names):
        return Refusal(403, f"origin {origin!r}: this server takes requests only from its own pages")
    return None


def _same_server(origin: str, host: str, names: frozenset[str]) -> bool:
    """Whether a page at `origin` is this server's own: the Host it asked for, or another of the server's
    names on the same port (a page of another program on this machine is not)."""
    parts, served = urlsplit(origin), urlsplit(f"//{host}")
    if parts.netloc.lower() == host.lower():
        return True
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        served_port = served.port
    except ValueError:  # a port that is no number
        return False
    return (parts.hostname or "").lower() in names and served_port is not None and port == served_port


class UploadBudget:
    """Keeps what a folder holds within `limit_bytes`: before an upload, the oldest entries go until it fits."""

    def __init__(self, folder: Path, limit_bytes: int) -> None:
        self.folder, self.limit_bytes = folder, limit_bytes
        self._lock = threading.Lock()

    def make_room(self, incoming_bytes: int) -> bool:
        """Remove the folder's oldest entries until `incoming_bytes` more fit; False if they never can."""
        if incoming_bytes > self.limit_bytes:
            return False
        with self._lock:
            entries = sorted(_sized(self.folder), key=lambda e: e[1])
            total = sum(size for size, _, _ in entries)
            for size, _, path in entries:
                if total + incoming_bytes <= self.limit_bytes:
                    break
                logger.info("upload budget: removing %s (%d bytes) to make room", path.name, size)
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                total -= size
            return total + incoming_bytes <= self.limit_bytes


def _sized(folder: Path) -> list[tuple[int, float, Path]]:
    """(bytes, modification time, path) of each entry in `folder`; one removed meanwhile (gradio's hourly
    clean-up, another request's room-making) is left out."""
    entries = []
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            size = path.stat().st_size if path.is_file() else sum(
                p.stat().st_size for p in path.rglob("*") if p.is_file())  # fmt: skip
            entries.append((size, path.stat().st_mtime, path))
        except FileNotFoundError:
            continue
    return entries


class RequestGuard:
    """ASGI middleware: refuses requests for other names or from other sites' pages, and uploads beyond the
    budget (one plain-text line each); `max_upload_bytes` stands for an upload of unknown length."""

    def __init__(self, app: App, *, names: frozenset[str], budget: UploadBudget | None = None,
                 max_upload_bytes: int = 0) -> None:  # fmt: skip
        self.app, self.names, self.budget, self.max_upload_bytes = app, names, budget, max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = check_request(headers, self.names)
        if refusal is None and self.budget is not None and scope.get("method") == "POST" and \
                scope.get("path", "").rstrip("/").endswith(UPLOAD_PATH_END):  # fmt: skip
            length = headers.get("content-length", "")
            incoming = int(length) if length.isdigit() else self.max_upload_bytes
            if not self.budget.make_room(incoming):
                refusal = Refusal(413, f"upload of {incoming} bytes: more than this server keeps for uploads "
                                       f"({self.budget.limit_bytes} bytes)")  # fmt: skip
        if refusal is None:
            await self.app(scope, receive, send)
            return
        logger.info("refused %s %s: %s", scope.get("method", "websocket"), scope.get("path"), refusal.message)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = (refusal.message + "\n").encode()
        await send({"type": "http.response.start", "status": refusal.status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
