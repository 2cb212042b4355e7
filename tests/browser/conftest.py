"""One served app for every test in tests/browser: the tiny KB, BM25 + extractive answers, Whisper
tiny.en for voice notes, staff login on, and a 2 MB upload limit (so the limit can be tested)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.runtime import Runtime
from chatbot.engine import ChatEngine
from tests.browser.harness import SAMPLE_KB, STAFF_PASSWORD, STAFF_USER, open_tiny_runtime

UPLOAD_LIMIT = 2 * 1024 * 1024


@dataclass(frozen=True)
class Served:
    url: str
    runtime: Runtime
    engine: ChatEngine
    kb: Path
    root: Path


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    if not SAMPLE_KB.is_dir():
        pytest.skip("sample KB data/kb not present")
    import ui  # noqa: F401  (turns gradio analytics off before gradio is imported)
    from app.serve import AppServer, open_engine, public_notes
    from ui.app import AppOptions, StaffLogin, build_app

    root = tmp_path_factory.mktemp("served")
    runtime, kb = open_tiny_runtime(root, asr_model="bundled-tiny.en")
    engine, notices = open_engine(runtime)
    options = AppOptions(
        kb_dir=kb,
        staff=StaffLogin(STAFF_USER, STAFF_PASSWORD),
        queue_size=8,
        max_file_bytes=UPLOAD_LIMIT,
        notices=tuple(notices),
        public_notes=public_notes(runtime),
    )
    server = AppServer(
        build_app(engine, runtime.settings, options, port=0, traces=runtime.traces), "127.0.0.1", 0
    ).start()
    try:
        yield Served(server.url, runtime, engine, kb, root)
    finally:
        server.stop()
        runtime.close()
