"""Uploads and conversations belong to one browser: a server-issued session cookie, upload owners,
a storage cap, and uploads deleted after their turn.

`UploadGuard` is an ASGI middleware around the whole app. It gives every browser (and API client)
a random, HttpOnly `supportbot_session` cookie on its first response, records which session
uploaded each file (from the upload route's answer), refuses new uploads while the upload folder
holds more than the cap, and never serves an upload back over Gradio's file route (the chat shows
attachments by name; files the app itself made, like the staff console's pictures, are
unaffected). The chat handler asks `UploadRegistry.owned_by` before using a file and `release`s it
after the turn, which deletes it; leftovers expire with Gradio's cache clean-up.
A client-chosen `session_hash` therefore reaches nothing: not another customer's files, and not
their conversation (the chat state is bound to the cookie, see `ui.chat_view`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

COOKIE = "supportbot_session"
DEFAULT_CAP_BYTES = 512 * 1024 * 1024
DEFAULT_TTL_S = 3600.0
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def session_of(cookie_header: str | None) -> str | None:
    """The session token in a `Cookie:` header, if any."""
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except Exception:  # noqa: BLE001 - a malformed cookie header is no session
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


class UploadRegistry:
    """Which session uploaded which file (resolved path -> (session, time)); thread-safe."""

    def __init__(
        self, folder: Path, cap_bytes: int = DEFAULT_CAP_BYTES, ttl_s: float = DEFAULT_TTL_S
    ) -> None:
        self.folder = folder.resolve()
        self.cap_bytes = cap_bytes
        self.ttl_s = ttl_s
        self._owners: dict[Path, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def add(self, session: str, path: str | Path) -> None:
        with self._lock:
            self._owners[Path(path).resolve()] = (session, time.time())

    def owned_by(self, session: str | None, path: str | Path) -> bool:
        if session is None:
            return False
        with self._lock:
            owner = self._owners.get(Path(path).resolve())
        return owner is not None and owner[0] == session and time.time() - owner[1] < self.ttl_s

    def release(self, path: str | Path) -> None:
        """Forgets an upload and deletes it (and its per-upload folder when that is left empty)."""
        resolved = Path(path).resolve()
        with self._lock:
            self._owners.pop(resolved, None)
        if not resolved.is_relative_to(self.folder):
            return
        resolved.unlink(missing_ok=True)
        parent = resolved.parent
        if parent != self.folder and parent.is_relative_to(self.folder):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when empty

    def expire(self) -> int:
        """Deletes uploads older than the TTL; returns how many."""
        now = time.time()
        with self._lock:
            old = [p for p, (_s, t) in self._owners.items() if now - t >= self.ttl_s]
        for path in old:
            self.release(path)
        return len(old)

    def used_bytes(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.folder):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    continue
        return total

    def is_upload(self, path: str) -> bool:
        """True for a file a client uploaded (Gradio's cache also holds files the app made)."""
        try:
            resolved = Path(path).resolve()
        except (OSError, ValueError):
            return False
        with self._lock:
            return resolved in self._owners


class UploadGuard:
    """ASGI middleware: session cookie, upload owners and cap, no upload served back (see module doc)."""

    def __init__(self, app: ASGIApp, registry: UploadRegistry) -> None:
        self.app = app
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        session = session_of(headers.get("cookie"))
        issued = None
        if session is None:
            session = issued = secrets.token_urlsafe(24)
            scope["headers"] = _with_cookie(scope.get("headers", []), f"{COOKIE}={session}")
        path = scope.get("path", "")
        asks_file = scope.get("method") == "GET" and "/gradio_api/file=" in path
        if asks_file and self.registry.is_upload(unquote(path.split("/gradio_api/file=", 1)[1])):
            await _refuse(send, 404, "Not found.", issued)
            return
        is_upload = scope.get("method") == "POST" and path.rstrip("/").endswith("/gradio_api/upload")
        if is_upload:
            self.registry.expire()
            if self.registry.used_bytes() >= self.registry.cap_bytes:
                log.warning(
                    "upload refused: the upload folder is over its %d-byte cap", self.registry.cap_bytes
                )
                await _refuse(send, 503, "Uploads are paused for a moment; please try again shortly.", issued)
                return
        body: list[bytes] = []

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and issued is not None:
                message["headers"] = [*message.get("headers", []), (b"set-cookie", _cookie(issued, scope))]
            if is_upload and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._record(session, b"".join(body))
            await send(message)

        await self.app(scope, receive, sending)

    def _record(self, session: str, body: bytes) -> None:
        try:
            paths = json.loads(body)
        except ValueError:
            return
        for item in paths if isinstance(paths, list) else []:
            if isinstance(item, str):
                self.registry.add(session, item)


def _with_cookie(headers: list[tuple[bytes, bytes]], pair: str) -> list[tuple[bytes, bytes]]:
    """The request headers with our cookie added (to the existing Cookie header, or as one)."""
    out, added = [], False
    for key, value in headers:
        if key.lower() == b"cookie" and not added:
            value, added = value + b"; " + pair.encode(), True
        out.append((key, value))
    return out if added else [*out, (b"cookie", pair.encode())]


def _cookie(token: str, scope: Scope) -> bytes:
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{secure}".encode()


async def _refuse(send: Any, status: int, reason: str, issued: str | None) -> None:
    payload = json.dumps({"detail": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
