"""Test harness for the web UI: a tiny KB copied from the sample KB, a BM25-only runtime over it with
the extractive generator, the served app in a background thread, and chromium launch options.

Shared by tests/test_ui_*.py and tests/browser/; nothing here is a test itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from app.runtime import Runtime, open_runtime
from core.config import Settings

REPO = Path(__file__).resolve().parents[2]
SAMPLE_KB = REPO / "data" / "kb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STAFF_USER = "staff-tester"
STAFF_PASSWORD = "not-a-real-secret-42"

TEXT_FILES = ("troubleshooting/e42-mesh-link-lost.md", "policies/returns-and-refunds.md", "faq.csv")
MEDIA_FILES = ("screenshots/e42_mesh_link.png", "sounds/alarm_tamper.wav")


def make_tiny_kb(root: Path, *, media: bool = True) -> Path:
    """A few sample-KB files (two articles, the FAQ, one screenshot and one sound with sidecars)."""
    kb = root / "kb"
    files = list(TEXT_FILES)
    if media:
        for name in MEDIA_FILES:
            files += [name, str(Path(name).with_suffix(".md"))]
    for name in files:
        target = kb / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLE_KB / name, target)
    return kb


def tiny_settings(data_dir: Path, **changes: object) -> Settings:
    return Settings(data_dir=data_dir, allow_missing_models=True, generator="extractive").with_(**changes)


def open_tiny_runtime(root: Path, *, media: bool = True, **changes: object) -> tuple[Runtime, Path]:
    """(runtime with the tiny KB ingested, KB folder); BM25 only, extractive answers."""
    kb = make_tiny_kb(root, media=media)
    runtime = open_runtime(tiny_settings(root / "data", **changes), load_models=False)
    runtime.ingest(kb, progress=False)
    return runtime, kb


def spoken_wav(path: Path, text: str) -> Path:
    """A voice note made with espeak-ng (16 kHz mono wav)."""
    subprocess.run(["espeak-ng", "-s", "140", "-w", str(path), text], check=True, capture_output=True)
    return path


def chat_fn_index(client: httpx.Client) -> int:
    """The served app's index of its `chat` endpoint (what a raw queue request names)."""
    config = client.get("/config").json()
    return next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "chat")


def raw_chat(
    client: httpx.Client,
    session: str,
    text: str,
    files: Sequence[dict[str, Any]] = (),
    *,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """One /chat turn as a raw client makes it (join the queue, read its event stream) on `client`
    (its cookies are the browser session's); returns the `process_completed` message. The body is
    ASCII-escaped JSON, as a raw client sends a lone surrogate ("\\ud800")."""
    body = {
        "data": [{"text": text, "files": list(files)}, None],
        "fn_index": chat_fn_index(client),
        "session_hash": session,
    }
    joined = client.post(
        "/gradio_api/queue/join", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert joined.status_code == 200, joined.text
    with client.stream(
        "GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=timeout
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message: dict[str, Any] = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("no result")
