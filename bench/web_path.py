"""The web path: one typed turn through `gradio_client` next to the same turn in process, at low load.

Ingests the few sample-KB articles `bench/load.py` uses (BM25 + knowledge graph, the offline
composer: no model weights), serves the hardened app of `ui.app` in this process on a free port, and
runs `--conversations` conversations of `--turns` typed questions one after another (no concurrency),
three ways, each in fresh sessions of the same engine:

- engine: `ChatEngine.turn` in process (first streamed piece, last piece);
- controller: the chat page's handler (`ChatController.respond`) in process: the engine plus the
  messages, citations and banner the page shows; it also counts the updates each turn yields and the
  JSON size of what they carry;
- web API, gradio_client: `Client.submit(..., api_name="/chat")` over HTTP, as the issue measured;
- web API, raw SSE: the same two requests a browser makes (`/gradio_api/queue/join`, then the
  event stream of `/gradio_api/queue/data`) read with httpx as they arrive, which is the server's
  own cost without gradio_client's (its reader thread looks for new messages every 50 ms).

Time to first token (TTFT) is when the first update whose last message is the bot's growing answer
arrives (`…` placeholder excluded; on the raw stream: the first update after the one that shows the
customer's own message); time to last token (TTLT) is when the turn's final update has arrived.
Prints medians and p90 per path, and the target check: web TTFT <= 2x engine TTLT + 100 ms.

    python bench/web_path.py [--conversations 5] [--turns 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.load import small_kb  # noqa: E402  (the same KB as the load bench)

QUESTIONS = (
    "my extender shows error E-42, what do I do?",
    "how do I return a product for a refund?",
    "is the warranty two years?",
)
PLACEHOLDER = "…"


@dataclass
class PathTimes:
    """One path's turns: seconds to the first token and to the end, updates and bytes per turn."""

    name: str
    ttft: list[float] = field(default_factory=list)
    ttlt: list[float] = field(default_factory=list)
    updates: list[int] = field(default_factory=list)
    payload_bytes: list[int] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

        return {
            "path": self.name,
            "turns": len(self.ttlt),
            "ttft_p50_ms": round(1000 * statistics.median(self.ttft), 1) if self.ttft else None,
            "ttft_p90_ms": round(1000 * pct(self.ttft, 0.9), 1),
            "ttlt_p50_ms": round(1000 * statistics.median(self.ttlt), 1) if self.ttlt else None,
            "ttlt_p90_ms": round(1000 * pct(self.ttlt, 0.9), 1),
            "updates_per_turn": round(statistics.mean(self.updates), 1) if self.updates else None,
            "kb_per_turn": round(statistics.mean(self.payload_bytes) / 1024, 1)
            if self.payload_bytes
            else None,
        }


def _answering(history: Any) -> bool:
    """True when the last message of a chat history is the bot's answer with some text in it."""
    if not isinstance(history, list) or not history:
        return False
    last = history[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return False
    content = last.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    return bool(text.strip()) and text.strip() != PLACEHOLDER


def _time_stream(updates: Iterable[Any], history_of: Callable[[Any], Any], times: PathTimes) -> None:
    started = time.perf_counter()
    first: float | None = None
    count = size = 0
    for update in updates:
        count += 1
        history = history_of(update)
        size += len(json.dumps(history, default=str))
        if first is None and _answering(history):
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    times.ttft.append(first if first is not None else total)
    times.ttlt.append(total)
    times.updates.append(count)
    times.payload_bytes.append(size)


def _engine_turns(engine: Any, conversations: int, turns: int, times: PathTimes) -> None:
    from chatbot.sessions import new_session_id

    for _ in range(conversations):
        session = new_session_id()
        for turn in range(turns):
            started = time.perf_counter()
            stream = engine.turn(session, QUESTIONS[turn % len(QUESTIONS)])
            first: float | None = None
            pieces = 0
            for _piece in stream:
                pieces += 1
                if first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            times.ttft.append(first if first is not None else total)
            times.ttlt.append(total)
            times.updates.append(pieces)
            times.payload_bytes.append(len(stream.result.text.encode("utf-8")))


def _controller_turns(controller: Any, conversations: int, turns: int, times: PathTimes) -> None:
    from ui.chat_view import ChatState

    for _ in range(conversations):
        state = ChatState()
        for turn in range(turns):
            message = {"text": QUESTIONS[turn % len(QUESTIONS)], "files": []}
            _time_stream(controller.respond(message, state), lambda update: update[0], times)


def _web_turns(url: str, conversations: int, turns: int, times: PathTimes, connect_s: list[float]) -> None:
    from gradio_client import Client

    for _ in range(conversations):
        started = time.perf_counter()
        client = Client(url, verbose=False)
        connect_s.append(time.perf_counter() - started)
        for turn in range(turns):
            message = {"text": QUESTIONS[turn % len(QUESTIONS)], "files": []}
            job = client.submit(message, api_name="/chat")
            _time_stream(job, lambda update: update[0], times)
            job.result()
        client.close()  # its heartbeat stream would hold the server's shutdown


def _fn_index(client: Any) -> int:
    config = client.get("/config").json()
    return next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "chat")


def _raw_turn(client: Any, fn_index: int, session: str, text: str, times: PathTimes) -> None:
    body = {"data": [{"text": text, "files": []}, None], "fn_index": fn_index, "session_hash": session}
    started = time.perf_counter()
    first: float | None = None
    generating = size = 0
    joined = client.post("/gradio_api/queue/join", json=body)
    joined.raise_for_status()
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=120) as sse:
        for line in sse.iter_lines():
            if not line.startswith("data:"):
                continue
            size += len(line)
            message = json.loads(line[5:])
            kind = message.get("msg")
            if kind == "process_generating":
                generating += 1
                if generating == 2 and first is None:
                    first = time.perf_counter() - started
            if kind == "process_completed":
                if not message.get("success"):
                    raise RuntimeError(f"the turn failed: {message}")
                break
    total = time.perf_counter() - started
    times.ttft.append(first if first is not None else total)
    times.ttlt.append(total)
    times.updates.append(generating + 1)
    times.payload_bytes.append(size)


def _raw_turns(url: str, conversations: int, turns: int, times: PathTimes) -> None:
    import uuid

    import httpx

    for _ in range(conversations):
        with httpx.Client(base_url=url, timeout=120) as client:
            fn_index = _fn_index(client)
            session = uuid.uuid4().hex[:11]
            for turn in range(turns):
                _raw_turn(client, fn_index, session, QUESTIONS[turn % len(QUESTIONS)], times)


def run(conversations: int, turns: int) -> tuple[list[PathTimes], dict[str, Any]]:
    import ui  # noqa: F401  (gradio analytics off)
    from app.runtime import open_runtime
    from app.serve import AppServer, open_engine
    from core.config import Settings
    from ui.app import AppOptions, build_app
    from ui.chat_view import ChatConfig, ChatController

    root = Path(tempfile.mkdtemp(prefix="supportbot-web-path-"))
    kb = small_kb(root)
    settings = Settings(data_dir=root / "data", allow_missing_models=True, generator="extractive")
    paths = [
        PathTimes("engine (in process)"),
        PathTimes("chat handler (in process)"),
        PathTimes("web API, gradio_client"),
        PathTimes("web API, raw SSE"),
    ]
    connect_s: list[float] = []
    runtime = open_runtime(settings, load_models=False)
    try:
        runtime.ingest(kb, progress=False)
        engine, notices = open_engine(runtime)
        _engine_turns(engine, 1, len(QUESTIONS), PathTimes("warm-up"))  # first-use costs out of the figures
        options = AppOptions(kb_dir=kb, notices=tuple(notices))
        app = build_app(engine, settings, options, port=0, traces=runtime.traces)
        with AppServer(app, "127.0.0.1", 0) as server:
            uploads = None  # in process there is no browser cookie: the handler runs unbound
            from ui.kb_files import KBFiles

            kb_files = KBFiles(kb, settings.manifest_path)
            config = ChatConfig(kb_files, (root,), tuple(notices), (), uploads)
            controller = ChatController(engine, config)
            _web_turns(server.url + "/", 1, 1, PathTimes("warm-up"), [])
            _engine_turns(engine, conversations, turns, paths[0])
            _controller_turns(controller, conversations, turns, paths[1])
            _web_turns(server.url + "/", conversations, turns, paths[2], connect_s)
            _raw_turns(server.url, conversations, turns, paths[3])
    finally:
        runtime.close()
        shutil.rmtree(root, ignore_errors=True)
    extra = {"client_connect_p50_ms": round(1000 * statistics.median(connect_s), 1)}
    return paths, extra


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=5)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    paths, extra = run(args.conversations, args.turns)
    rows = [p.row() for p in paths]
    engine, web, raw = rows[0], rows[2], rows[3]
    target_ms = 2 * engine["ttlt_p50_ms"] + 100
    load_after = os.getloadavg()[0]
    print(f"load average {load_before:.2f} before, {load_after:.2f} after, {os.cpu_count()} CPUs")
    columns = ("path", "turns", "ttft_p50_ms", "ttft_p90_ms", "ttlt_p50_ms", "ttlt_p90_ms")
    columns += ("updates_per_turn", "kb_per_turn")
    print("| path | turns | TTFT p50 ms | TTFT p90 ms | TTLT p50 ms | TTLT p90 ms | updates/turn |", end="")
    print(" KB sent/turn |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    for row in (web, raw):
        verdict = "met" if row["ttft_p50_ms"] <= target_ms else "NOT met"
        print(
            f"target, {row['path']}: TTFT p50 {row['ttft_p50_ms']} ms <= 2 x in-process turn "
            f"{engine['ttlt_p50_ms']} ms + 100 = {target_ms:.1f} ms: {verdict}"
        )
    print(f"gradio_client connect p50 {extra['client_connect_p50_ms']} ms (once per client, not in the turn)")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"rows": rows, **extra, "target_ms": target_ms}, indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
