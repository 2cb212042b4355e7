"""Load check: N concurrent customers through the real served app, each with a unique marker.

Ingests a few sample-KB articles (BM25 + knowledge graph, extractive answers: no model weights
needed) into a temporary data dir, serves the hardened app on a free port in this process, and
runs N `gradio_client` conversations at once, each in its own thread with its own client (its own
session cookie). Each conversation sends `--turns` questions that carry its marker
("my ticket is LOAD-0007-...") and checks that no reply, and no stored turn of its session,
holds another conversation's marker.

Prints: turns, p50/p95/max latency per turn, errors, queue refusals ("queue is full"), marker
crossings, and the server process's RSS before and after.

    python bench/load.py [--sessions 50] [--turns 3] [--queue-size 32] [--concurrency 2] [--out R.json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ARTICLES = ("troubleshooting/e42-mesh-link-lost.md", "policies/returns-and-refunds.md", "faq.csv")
QUESTIONS = (
    "my extender shows error E-42, my ticket is {marker}",
    "how do I return a product for a refund? ticket {marker}",
    "is the warranty two years? ticket {marker}",
)
MARKER = re.compile(r"LOAD-\d{4}-[0-9a-f]{6}")


@dataclass
class LoadResult:
    sessions: int
    turns_per_session: int
    turns: int = 0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    queue_refusals: int = 0
    crossings: list[str] = field(default_factory=list)
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_s)
        pick = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]) if lat else (lambda q: float("nan"))
        return {
            "sessions": self.sessions,
            "turns": self.turns,
            "p50_s": round(statistics.median(lat), 3) if lat else None,
            "p95_s": round(pick(0.95), 3),
            "max_s": round(lat[-1], 3) if lat else None,
            "errors": len(self.errors),
            "queue_refusals": self.queue_refusals,
            "marker_crossings": len(self.crossings),
            "rss_before_mb": round(self.rss_before_mb, 1),
            "rss_after_mb": round(self.rss_after_mb, 1),
        }


def small_kb(root: Path) -> Path:
    """`root/kb`: the sample KB's `ARTICLES` only (a KB that ingests in seconds)."""
    kb = root / "kb"
    for rel in ARTICLES:
        (kb / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / "data" / "kb" / rel, kb / rel)
    return kb


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _conversation(url: str, index: int, turns: int, result: LoadResult, lock: threading.Lock) -> None:
    from gradio_client import Client

    marker = f"LOAD-{index:04d}-{uuid.uuid4().hex[:6]}"
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
        with lock:
            result.errors.append(f"connect: {exc}")
        return
    for turn in range(turns):
        started = time.perf_counter()
        try:
            history, _box, summary, _banner = client.predict(
                {"text": QUESTIONS[turn % len(QUESTIONS)].format(marker=marker), "files": []},
                api_name="/chat",
            )
        except Exception as exc:  # noqa: BLE001 - counted, the bench goes on
            with lock:
                if "queue" in str(exc).lower() and "full" in str(exc).lower():
                    result.queue_refusals += 1
                else:
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        elapsed = time.perf_counter() - started
        seen = set(MARKER.findall(json.dumps(history))) | set(MARKER.findall(json.dumps(summary)))
        with lock:
            result.turns += 1
            result.latencies_s.append(elapsed)
            result.crossings.extend(f"{marker} saw {m}" for m in seen - {marker})
            if "error" in (summary or {}):
                result.errors.append(str(summary["error"])[:200])


def run_load(sessions: int, turns: int, *, queue_size: int = 32, concurrency: int = 2) -> LoadResult:
    """Serves a small KB and runs `sessions` concurrent conversations of `turns` turns each."""
    import ui  # noqa: F401  (gradio analytics off)
    from app.runtime import open_runtime
    from app.serve import AppServer, open_engine
    from chatbot.traces import TurnFilter
    from core.config import Settings
    from ui.app import AppOptions, build_app

    root = Path(tempfile.mkdtemp(prefix="supportbot-load-"))
    kb = small_kb(root)
    settings = Settings(data_dir=root / "data", allow_missing_models=True, generator="extractive")
    result = LoadResult(sessions, turns)
    runtime = open_runtime(settings, load_models=False)
    try:
        runtime.ingest(kb, progress=False)
        engine, notices = open_engine(runtime)
        options = AppOptions(
            kb_dir=kb, queue_size=queue_size, concurrency=concurrency, notices=tuple(notices)
        )
        app = build_app(engine, settings, options, port=0, traces=runtime.traces)
        with AppServer(app, "127.0.0.1", 0) as server:
            result.rss_before_mb = rss_mb()
            lock = threading.Lock()
            threads = [
                threading.Thread(target=_conversation, args=(server.url + "/", i, turns, result, lock))
                for i in range(sessions)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=900)
            result.rss_after_mb = rss_mb()
        for row in runtime.traces.turns(TurnFilter(limit=10_000)):  # stored turns: one marker per session
            markers = set(MARKER.findall(row.question))
            if len(markers) > 1:
                result.crossings.append(f"session {row.session_id} stored {sorted(markers)}")
        by_session: dict[str, set[str]] = {}
        for row in runtime.traces.turns(TurnFilter(limit=10_000)):
            by_session.setdefault(row.session_id, set()).update(MARKER.findall(row.question))
        result.crossings.extend(f"session {s} mixes {sorted(m)}" for s, m in by_session.items() if len(m) > 1)
    finally:
        runtime.close()
        shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--queue-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    result = run_load(args.sessions, args.turns, queue_size=args.queue_size, concurrency=args.concurrency)
    summary = result.summary()
    print(json.dumps(summary, indent=1))
    for line in (result.errors + result.crossings)[:10]:
        print("  ", line)
    if args.out is not None:
        args.out.write_text(json.dumps({**summary, "detail": asdict(result)}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
