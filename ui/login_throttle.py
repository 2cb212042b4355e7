"""Brute-force protection for the staff login: growing lockouts per client address and per user name.

`LoginThrottle` counts failed logins per key; after `free_attempts` failures a key is locked for
`base_delay_s`, doubling with every further failure up to `max_delay_s`; a success clears it.
`ThrottledLogin` is an ASGI middleware around the whole app that watches `POST <staff>/login`:
a locked client or user name gets HTTP 429 with `Retry-After` (the password is not even checked,
so the right password does not work during a lockout), and every attempt is logged with the
client address and user name (never the password).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from core.errors import ConfigError

log = logging.getLogger("supportbot.staff_login")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
MAX_FORM_BYTES = 16 * 1024


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class LoginThrottle:
    """Failed-login bookkeeping; `clock` is injectable for tests."""

    free_attempts: int = 5
    base_delay_s: float = 2.0
    max_delay_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, _Failures] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.free_attempts < 1 or self.base_delay_s <= 0 or self.max_delay_s < self.base_delay_s:
            raise ConfigError("login throttle: free_attempts >= 1 and 0 < base_delay_s <= max_delay_s")

    def wait_s(self, *keys: str) -> float:
        """Seconds until every key may try again (0: allowed now)."""
        now = self.clock()
        with self._lock:
            return max((f.locked_until - now for k in keys if (f := self._keys.get(k))), default=0.0)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                entry = self._keys.setdefault(key, _Failures())
                entry.count += 1
                over = entry.count - self.free_attempts
                if over >= 0:
                    entry.locked_until = now + min(self.max_delay_s, self.base_delay_s * 2**over)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._keys.pop(key, None)


class ThrottledLogin:
    """ASGI middleware: throttles and logs `POST {login_path}` (and its trailing-slash form)."""

    def __init__(self, app: ASGIApp, login_path: str, throttle: LoginThrottle | None = None) -> None:
        self.app = app
        self.paths = {login_path.rstrip("/"), login_path.rstrip("/") + "/"}
        self.throttle = throttle or LoginThrottle()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        body, replay = await _buffer(receive)
        client = str((scope.get("client") or ("unknown", 0))[0])
        user = (parse_qs(body.decode("utf-8", "replace")).get("username") or [""])[0].strip()[:200]
        keys = (f"client:{client}", f"user:{user.lower()}")
        wait = self.throttle.wait_s(*keys)
        if wait > 0:
            log.warning("staff login refused (locked for %.0f s more): client %s user %r", wait, client, user)
            await _too_many(send, wait)
            return
        status: list[int] = []

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, replay, watching_send)
        if status and status[0] == 200:
            self.throttle.succeeded(*keys)
            log.info("staff login succeeded: client %s user %r", client, user)
        else:
            self.throttle.failed(*keys)
            log.warning("staff login failed: client %s user %r", client, user)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        part = message.get("body", b"")
        size += len(part)
        if size <= MAX_FORM_BYTES:
            chunks.append(part)
        more = bool(message.get("more_body"))
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _too_many(send: Send, wait_s: float) -> None:
    seconds = max(1, int(wait_s + 0.999))
    payload = json.dumps({"detail": f"Too many failed logins. Try again in {seconds} seconds."}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", str(seconds).encode()),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
