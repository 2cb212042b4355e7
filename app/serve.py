"""Running the web app: `serve(settings, host, port, ...)` (what `supportbot serve` / `demo` call) and
`AppServer`, a uvicorn server that can also run in a background thread (tests, notebooks).

`serve` opens the runtime, loads the answer generator and the speech/screenshot readers up front
(so a missing model is a banner from the first page view, or a clear error without
--allow-missing-models), builds the hardened app of `ui.app` and serves it until Ctrl-C. It
binds 127.0.0.1 unless told otherwise and never creates a public share link.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import FastAPI

from app import reduced
from app.calibration_state import calibration_note
from app.runtime import Runtime, open_runtime
from chatbot.answers.wording import PUBLIC_QUOTED
from chatbot.engine import ChatEngine
from core.config import Settings
from core.errors import ConfigError, InputError, ModelMissingError
from ui.app import ENV_STAFF_PASSWORD, ENV_STAFF_USER, STAFF_PATH, AppOptions, StaffLogin, build_app

log = logging.getLogger(__name__)

GENERATOR_FALLBACK = "answer model missing: the offline answer composer arranges KB passages instead of T5"
EXTRACTIVE_CHOSEN = "answers come from the offline answer composer (no language model), as configured"


def staff_login_from_env(env: Mapping[str, str] | None = None) -> StaffLogin | None:
    """Staff credentials from SUPPORTBOT_STAFF_USER / SUPPORTBOT_STAFF_PASSWORD; None when neither is set."""
    env = os.environ if env is None else env
    user, password = env.get(ENV_STAFF_USER, ""), env.get(ENV_STAFF_PASSWORD, "")
    if not user and not password:
        return None
    if not (user and password):
        missing = ENV_STAFF_PASSWORD if user else ENV_STAFF_USER
        raise ConfigError(
            f"{missing} is not set; set both staff variables, or neither to disable the console"
        )
    return StaffLogin(user, password)


def public_notes(runtime: Runtime) -> tuple[str, ...]:
    """The public page's neutral line where the mode matters to a customer (answers quoted, not written)."""
    return (PUBLIC_QUOTED,) if runtime.choices[reduced.ANSWERS].used == reduced.COMPOSER else ()


def open_engine(runtime: Runtime) -> tuple[ChatEngine, list[str]]:
    """The chat engine and the banner notices of its reduced mode (`app.reduced`: with
    --allow-missing-models a missing T5 gives the offline composer, and the banner says so)."""
    line = runtime.prepare()
    if line:
        print(f"note: {line}", file=sys.stderr)
    calibrated = calibration_note(runtime.settings)
    if calibrated:
        print(f"note: {calibrated}", file=sys.stderr)
    engine = runtime.engine()
    notices: list[str] = []
    answers = runtime.choices[reduced.ANSWERS]
    if answers.used == reduced.COMPOSER:
        notices.append(GENERATOR_FALLBACK if answers.reduced else EXTRACTIVE_CHOSEN)
    dense_note = engine.status().dense_note
    if dense_note:
        notices.append(dense_note)
    return engine, notices


def preload_readers(runtime: Runtime) -> list[str]:
    """Loads the speech recogniser and the screenshot reader now; notices for the parts that are off."""
    reader = runtime.input_reader()
    notices: list[str] = []
    for what, part in (
        ("voice notes are not transcribed", reader.transcriber),
        ("screenshot text is not read", reader.ocr),
    ):
        if part is None:
            notices.append(what)
            continue
        try:
            part.load()
        except ModelMissingError as exc:  # found by the locator but unreadable: the part is off
            if not runtime.settings.allow_missing_models:
                raise
            log.warning("%s", exc)
            notices.append(what)
    return notices


def refuse_inconsistent(runtime: Runtime) -> None:
    """Refuses to serve from a data dir whose parts disagree (it would answer without the graph, or
    cite nothing): says what is wrong and that `supportbot ingest` repairs it."""
    problems = runtime.data_dir_problems()
    if problems:
        raise InputError(
            f"the data dir {runtime.settings.data_dir} is inconsistent: {'; '.join(problems)}. Run "
            "`supportbot ingest KB_DIR` with the same --data-dir to repair it, then serve again"
        )


def _print_failure(rel: str, reason: str) -> None:
    print(f"failed: {rel}: {reason}", file=sys.stderr, flush=True)


class QuietShutdown:
    """ASGI wrapper: a request still streaming when the server stops (a browser's open event
    stream) is cancelled by uvicorn after the grace period; end it quietly instead of logging a
    CancelledError traceback for each. Outside a shutdown a cancellation propagates as usual."""

    def __init__(self, app: Any, stopping: Callable[[], bool]) -> None:
        self.app = app
        self.stopping = stopping

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if not self.stopping():
                raise


class AppServer:
    """uvicorn around an ASGI app: `run()` blocks (Ctrl-C and SIGTERM stop it cleanly); `start()`
    serves from a thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 7860) -> None:
        self.host = host
        self.server = uvicorn.Server(
            uvicorn.Config(
                QuietShutdown(app, lambda: bool(self.server.should_exit)),
                host=host,
                port=port,
                log_level="warning",
                lifespan="on",
                access_log=False,
                timeout_graceful_shutdown=3,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def run(self) -> None:
        self.server.run()

    def start(self, timeout_s: float = 30.0) -> AppServer:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self.server.run, name="supportbot-web", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigError(f"the web server did not start on {self.host}:{self.server.config.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    *,
    kb_dir: Path | None = None,
    ingest: bool = False,
    queue_size: int = 32,
    concurrency: int = 2,
    env: Mapping[str, str] | None = None,
) -> int:
    """Serves the chat (and, with staff credentials in `env`, the staff console) until interrupted.

    `kb_dir`: the ingested KB folder, for previews of cited items (and what `ingest` ingests first,
    as `supportbot demo` does). Raises `SupportbotError` for anything the user must fix.
    """
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is not in 0-65535")
    staff = staff_login_from_env(env)
    if ingest and kb_dir is None:
        raise ConfigError("nothing to ingest: pass the KB folder")
    if kb_dir is not None and not kb_dir.is_dir():
        raise InputError(f"KB folder {kb_dir} does not exist")
    if not ingest and not settings.manifest_path.exists():
        raise InputError(
            f"no knowledge base is indexed in {settings.data_dir}; run `supportbot ingest KB_DIR` first"
        )
    with open_runtime(settings, rebuild_outdated=ingest) as runtime:
        if not ingest:
            refuse_inconsistent(runtime)
        if ingest and kb_dir is not None:
            report = runtime.ingest(kb_dir, progress=True, on_failure=_print_failure)
            print(f"ingest: {report.summary()}")
        engine, notices = open_engine(runtime)
        notices += preload_readers(runtime)
        options = AppOptions(
            kb_dir=kb_dir,
            staff=staff,
            queue_size=queue_size,
            concurrency=concurrency,
            notices=tuple(notices),
            public_notes=public_notes(runtime),
        )
        server = AppServer(
            build_app(engine, settings, options, host=host, port=port, traces=runtime.traces), host, port
        )
        print(f"customer chat:  http://{host}:{port}/")
        print(
            f"staff console:  http://{host}:{port}{STAFF_PATH}/ (login as {staff.user})"
            if staff
            else f"staff console:  off (set {ENV_STAFF_USER} and {ENV_STAFF_PASSWORD} to enable it)"
        )
        for notice in notices:
            print(f"note: {notice}")
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"warning: listening on {host}: reachable from other machines; put HTTPS in front of it")
        server.run()  # uvicorn handles Ctrl-C and SIGTERM itself and returns
        print("stopped", file=sys.stderr)
    return 0
