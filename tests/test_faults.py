"""The fault suite of issue 12: a killed ingest resumed ends where a clean run ends; store timeouts
are retried, then reported per file; a missing or corrupt graph, manifest, index or trace DB is a
clear refusal or a repair; two processes on one data dir. Real Milvus Lite, so marked slow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from app.runtime import Runtime, open_runtime
from app.serve import refuse_inconsistent
from chatbot.traces import TraceStore
from core.config import Settings
from core.errors import InputError, StoreError
from retrieval.manifest import Manifest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
FILES = 30


def make_kb(root: Path) -> Path:
    """A small KB of distinct articles (deterministic), plus one FAQ table."""
    kb = root / "kb"
    for i in range(FILES):
        path = kb / f"topic{i % 3}" / f"article-{i:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"# Article {i}: the X{200 + i} router\n\nHold reset on the X{200 + i} for {i + 5} seconds.\n\n"
            f"## Lights\n\nA blinking light on the X{200 + i} means error E-{i + 10}.\n",
            encoding="utf-8",
        )
    (kb / "faq.csv").write_text("question,answer\nRefund?,Within 14 days.\nWarranty?,Two years.\n", "utf-8")
    return kb


def settings_for(data: Path) -> Settings:
    return Settings(data_dir=data, allow_missing_models=True, generator="extractive")


def state(settings: Settings) -> dict[str, Any]:
    """Everything a run leaves: manifest (doc ids, chunk counts), index rows per doc, graph documents."""
    manifest = Manifest.load(settings.manifest_path)
    with open_runtime(settings, load_models=False) as rt:
        rows = rt.store.count()
        docs = sorted(rt.store.doc_ids())
        graph_docs = sorted(rt.graph().doc_ids())
    return {
        "files": {rel: (sorted(e.doc_ids), e.chunks) for rel, e in manifest.entries.items()},
        "rows": rows,
        "docs": docs,
        "graph": graph_docs,
    }


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from app.runtime import open_runtime
    from core.config import Settings

    class KillAt:
        def __init__(self, n): self.n, self.seen = n, 0
        def upsert_document(self, doc_id, chunks):
            self.seen += 1
            if self.seen == self.n:
                os.kill(os.getpid(), signal.SIGKILL)
        def remove_document(self, doc_id): pass

    kb, data, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    settings = Settings(data_dir=data, allow_missing_models=True, generator="extractive")
    rt = open_runtime(settings, load_models=False)
    ingestor = rt.ingestor(progress=False)
    ingestor.commit_every = 5
    ingestor.sinks = (*ingestor.sinks, KillAt(n))
    ingestor.run(kb)
    """
)


def test_kill_9_during_ingest_then_resume_equals_a_clean_run(tmp_path: Path) -> None:
    kb = make_kb(tmp_path)
    clean = settings_for(tmp_path / "clean")
    with open_runtime(clean, load_models=False) as rt:
        assert not rt.ingest(kb, progress=False).failed
    expected = state(clean)

    killed = settings_for(tmp_path / "killed")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(kb), str(killed.data_dir), "17"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    partial = Manifest.load(killed.manifest_path)
    assert 0 < len(partial.entries) < FILES + 1  # batches were committed before the kill
    assert killed.graph_path.exists()

    with open_runtime(killed, load_models=False) as rt:
        resumed = rt.ingest(kb, progress=False)
    assert resumed.skipped == len(partial.entries)  # committed work is not redone
    assert state(killed) == expected


class FlakyStore:
    """Fake failure around the real store (the store is not the subject; the ingest's handling is):
    the first write of `flaky` times out once; every write of `broken` times out."""

    def __init__(self, real: Any, flaky: str, broken: str) -> None:
        self.real, self.flaky, self.broken = real, flaky, broken
        self.failures = 0

    def upsert(self, records: Any) -> None:
        doc = records[0].chunk.doc_id if records else ""
        if doc == self.broken or (doc == self.flaky and self.failures == 0):
            self.failures += 1
            raise StoreError("writing chunks failed: <MilvusException: (code=4, message=DEADLINE_EXCEEDED)>")
        self.real.upsert(records)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_store_timeout_is_retried_then_reported_for_that_file_only(tmp_path: Path) -> None:
    kb = make_kb(tmp_path)
    settings = settings_for(tmp_path / "data")
    with open_runtime(settings, load_models=False) as rt:
        ingestor = rt.ingestor(progress=False)
        ingestor.store = FlakyStore(rt.store, "topic1/article-04.md", "topic2/article-05.md")  # type: ignore[assignment]
        ingestor.backoff_s = 0.0
        heard: list[str] = []
        ingestor.on_failure = lambda rel, why: heard.append(rel)
        report = ingestor.run(kb)
    assert [rel for rel, _ in report.failed] == ["topic2/article-05.md"] == heard
    assert "DEADLINE_EXCEEDED" in report.failed[0][1] and "did not accept" in report.failed[0][1]
    assert report.added == FILES  # 30 articles + the FAQ, minus the broken one
    assert "topic1/article-04.md" in Manifest.load(settings.manifest_path).entries


@pytest.fixture
def ingested(tmp_path: Path) -> tuple[Settings, Path]:
    kb = make_kb(tmp_path)
    settings = settings_for(tmp_path / "data")
    with open_runtime(settings, load_models=False) as rt:
        rt.ingest(kb, progress=False)
        assert refuse_inconsistent(rt) is None
    return settings, kb


def _refusal(settings: Settings) -> str:
    with open_runtime(settings, load_models=False) as rt, pytest.raises(InputError) as err:
        refuse_inconsistent(rt)
    return str(err.value)


def _repaired(settings: Settings, kb: Path) -> Runtime:
    with open_runtime(settings, load_models=False) as rt:
        rt.ingest(kb, progress=False)
        refuse_inconsistent(rt)
        assert rt.store.count() > 0 and rt.graph().doc_ids()
        return rt


def test_a_missing_graph_is_refused_then_repaired_by_ingest(ingested: tuple[Settings, Path]) -> None:
    settings, kb = ingested
    settings.graph_path.unlink()
    message = _refusal(settings)
    assert "knowledge graph" in message and "missing" in message and "supportbot ingest" in message
    _repaired(settings, kb)


def test_a_deleted_index_is_refused_then_repaired_by_ingest(ingested: tuple[Settings, Path]) -> None:
    settings, kb = ingested
    import shutil

    shutil.rmtree(settings.data_dir / "milvus.db", ignore_errors=True)
    for leftover in settings.data_dir.glob("milvus.db*"):
        leftover.unlink() if leftover.is_file() else shutil.rmtree(leftover)
    message = _refusal(settings)
    assert "index is empty" in message and "supportbot ingest" in message
    _repaired(settings, kb)


def test_a_corrupt_manifest_or_graph_is_a_clear_refusal(ingested: tuple[Settings, Path]) -> None:
    settings, _kb = ingested
    graph = settings.graph_path.read_bytes()
    settings.graph_path.write_text("{not json", encoding="utf-8")
    assert "re-run ingestion" in _refusal(settings) and "cannot read the knowledge graph" in _refusal(
        settings
    )
    settings.graph_path.write_bytes(graph)
    settings.manifest_path.write_text('{"files": 3}', encoding="utf-8")
    message = _refusal(settings)
    assert "manifest" in message and "unreadable" in message and "re-ingest" in message


def test_a_corrupt_trace_db_is_a_clear_refusal(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the trace database"):
        TraceStore(path).open()


def test_two_processes_on_one_data_dir(ingested: tuple[Settings, Path]) -> None:
    settings, _kb = ingested
    holder = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from app.runtime import open_runtime
        from core.config import Settings
        rt = open_runtime(Settings(data_dir=Path(sys.argv[1]), allow_missing_models=True), load_models=False)
        print("open", flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, str(settings.data_dir)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(StoreError, match="in use by another supportbot process"):
            open_runtime(settings, load_models=False)
        assert time.monotonic() - started < 30
    finally:
        proc.kill()
        proc.wait(timeout=30)
    with open_runtime(settings, load_models=False) as rt:  # usable again once the other one is gone
        assert rt.store.count() > 0


def test_sigterm_stops_the_server_cleanly_with_a_client_connected(ingested: tuple[Settings, Path]) -> None:
    from gradio_client import Client

    settings, kb = ingested
    port = 7000 + os.getpid() % 1000
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "-m", "app.cli", "serve", "--data-dir", str(settings.data_dir)]
    command += ["--allow-missing-models", "--generator", "extractive", "--kb-dir", str(kb)]
    command += ["--port", str(port), "--text-embedder", "none"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        client = None
        for _ in range(120):
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not up yet
                if proc.poll() is not None:
                    break
                time.sleep(0.5)
        assert client is not None, proc.stderr.read() if proc.stderr else ""
        _h, _b, summary, _ = client.predict(
            {"text": "how do I reset the X205?", "files": []}, api_name="/chat"
        )
        assert summary["turn_id"] > 0
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode in (0, -signal.SIGTERM)
    assert "Traceback" not in err and "CancelledError" not in err, err[-3000:]
