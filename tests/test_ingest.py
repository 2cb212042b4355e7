"""Incremental ingestion against a real Milvus Lite: add, unchanged, change, delete, corrupt files."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.runtime import Runtime, open_runtime
from core.config import Settings
from retrieval.manifest import Manifest
from retrieval.retriever import Query
from tests.tiny_models import tiny_imagebind_embedder

pytestmark = pytest.mark.slow  # real Milvus Lite: the ingestion end to end


def _png(path: Path, colour: tuple[int, int, int]) -> None:
    Image.new("RGB", (64, 48), colour).save(path)


def _wav(path: Path, freq: float) -> None:
    t = np.arange(16000) / 16000
    samples = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    path.write_bytes(buf.getvalue())


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "reset.md").write_text(
        "---\ntitle: Factory reset\nproduct: X200\n---\n"
        "# Factory reset\n\nHold the reset pin for ten seconds.\n",
        encoding="utf-8",
    )
    (root / "guides" / "leds.md").write_text(
        "# LED colours\n\nA red light means no internet.\n", encoding="utf-8"
    )
    (root / "faq.csv").write_text(
        "question,answer\nHow long is the warranty?,Two years from purchase.\n"
        "Can I return it?,Within 30 days.\n",
        encoding="utf-8",
    )
    _png(root / "router.png", (20, 40, 200))
    (root / "router.md").write_text("Photo of the blue X200 router, front view.", encoding="utf-8")
    _wav(root / "beep.wav", 880.0)
    return root


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", allow_missing_models=True)
    with open_runtime(settings, load_models=False) as rt:
        yield rt


def _ingest(rt: Runtime, kb: Path):  # type: ignore[no-untyped-def]
    return rt.ingest(kb, progress=False)


def test_first_run_adds_everything_then_second_run_writes_nothing(runtime: Runtime, kb: Path) -> None:
    report = _ingest(runtime, kb)
    assert (report.added, report.updated, report.removed, report.failed) == (5, 0, 0, ())
    assert not report.dense
    ids = runtime.store.doc_ids()
    assert {
        "guides/reset.md",
        "guides/leds.md",
        "faq.csv#row-1",
        "faq.csv#row-2",
        "router.png",
        "beep.wav",
    } <= ids
    assert "router.md" not in ids  # a sidecar is a caption, not a document
    count = runtime.store.count()
    manifest = runtime.settings.manifest_path
    stamp = manifest.stat().st_mtime_ns

    again = _ingest(runtime, kb)
    assert (again.added, again.updated, again.removed, again.skipped) == (0, 0, 0, 5)
    assert not again.wrote_anything
    assert runtime.store.count() == count
    assert manifest.stat().st_mtime_ns == stamp


def test_changed_and_deleted_files(runtime: Runtime, kb: Path) -> None:
    _ingest(runtime, kb)
    (kb / "guides" / "leds.md").write_text(
        "# LED colours\n\nA purple light means updating.\n", encoding="utf-8"
    )
    (kb / "guides" / "reset.md").unlink()
    (kb / "faq.csv").write_text("question,answer\nHow long is the warranty?,Two years.\n", encoding="utf-8")
    report = _ingest(runtime, kb)
    assert (report.added, report.updated, report.removed) == (0, 2, 1)
    ids = runtime.store.doc_ids()
    assert "guides/reset.md" not in ids
    assert "faq.csv#row-2" not in ids  # a row that vanished from a changed CSV is removed too
    hits = runtime.retriever().search(Query(text="purple light"), top_k=3).hits
    assert hits and hits[0].doc_id == "guides/leds.md"
    assert "purple" in hits[0].text
    assert (
        not runtime.retriever()
        .search(Query(text="red light internet"), top_k=3)
        .doc_ids()
        .count("guides/reset.md")
    )


def test_sidecar_change_reingests_media(runtime: Runtime, kb: Path) -> None:
    _ingest(runtime, kb)
    (kb / "router.md").write_text("Photo of the blue X200 router with antennas folded.", encoding="utf-8")
    report = _ingest(runtime, kb)
    assert report.updated == 1
    hits = runtime.retriever().search(Query(text="antennas folded"), top_k=1).hits
    assert hits[0].doc_id == "router.png"


def test_bad_files_are_reported_and_the_rest_ingested(runtime: Runtime, kb: Path) -> None:
    (kb / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (kb / "notes.xyz").write_text("unknown type", encoding="utf-8")
    (kb / "empty.md").write_text("", encoding="utf-8")
    (kb / "noise.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    report = _ingest(runtime, kb)
    failed = dict(report.failed)
    assert set(failed) == {"broken.png", "notes.xyz", "empty.md", "noise.wav"}
    assert all(reason for reason in failed.values())
    assert report.added == 5
    assert "broken.png" not in runtime.store.doc_ids()


def test_a_good_file_that_turns_corrupt_keeps_its_old_version(runtime: Runtime, kb: Path) -> None:
    _ingest(runtime, kb)
    (kb / "router.png").write_bytes(b"garbage")
    report = _ingest(runtime, kb)
    assert dict(report.failed).keys() == {"router.png"}
    assert "router.png" in runtime.store.doc_ids()  # nothing lost
    _png(kb / "router.png", (200, 40, 20))
    assert _ingest(runtime, kb).updated == 1


def test_missing_kb_folder_is_a_clear_error(runtime: Runtime, tmp_path: Path) -> None:
    from core.errors import InputError

    with pytest.raises(InputError, match="does not exist"):
        _ingest(runtime, tmp_path / "nope")


def test_dense_ingestion_with_tiny_imagebind_and_reembedding(tmp_path: Path, kb: Path) -> None:
    """Tiny random ImageBind (plumbing only): every modality gets a vector; a KB first ingested without
    weights is re-embedded once an embedder is present."""
    settings = Settings(data_dir=tmp_path / "data")
    embedder = tiny_imagebind_embedder()
    with open_runtime(settings, load_models=False, dim=embedder.dim) as rt:
        assert _ingest(rt, kb).added == 5
        assert not rt.store.dense_populated()
        assert not rt.retriever().search(Query(text="warranty"), top_k=3).dense
    with open_runtime(settings, embedder=embedder) as rt:
        report = _ingest(rt, kb)
        assert report.updated == 5 and report.dense
        assert rt.store.dense_populated()
        image = Image.new("RGB", (64, 48), (20, 40, 200))
        result = rt.retriever().search(Query(text="router", image=image), top_k=5)
        assert result.dense
        assert set(result.sources) == {"dense:sentence", "dense:text", "dense:image", "bm25"}
        assert any("dense:image" in hit.sources for hit in result.hits)
        assert _ingest(rt, kb).skipped == 5


def test_replacing_a_file_deletes_by_primary_key_only_what_is_gone(
    runtime: Runtime, kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str]]] = []
    store = runtime.store
    for name in ("delete_ids", "delete_docs"):
        real = getattr(store, name)

        def spy(values, _name=name, _real=real):  # type: ignore[no-untyped-def]
            calls.append((_name, list(values)))
            return _real(values)

        monkeypatch.setattr(store, name, spy)
    _ingest(runtime, kb)
    assert calls == []  # files the manifest never saw delete nothing
    before = runtime.store.count()
    (kb / "faq.csv").write_text("question,answer\nHow long is the warranty?,Two years.\n", encoding="utf-8")
    _ingest(runtime, kb)
    kept = list(Manifest.load(runtime.settings.manifest_path).entries["faq.csv"].chunk_ids)
    assert len(kept) == 1
    assert [name for name, _ in calls] == ["delete_ids"] and len(calls[0][1]) == 1
    assert calls[0][1] != kept and runtime.store.count() == before - 1
    assert "faq.csv#row-2" not in runtime.store.doc_ids()


def test_a_manifest_without_chunk_ids_still_replaces_by_document(runtime: Runtime, kb: Path) -> None:
    _ingest(runtime, kb)
    path = runtime.settings.manifest_path
    raw = json.loads(path.read_text(encoding="utf-8"))
    for entry in raw["files"].values():
        del entry["chunk_ids"]
    path.write_text(json.dumps(raw), encoding="utf-8")
    (kb / "faq.csv").write_text("question,answer\nHow long is the warranty?,Two years.\n", encoding="utf-8")
    (kb / "guides" / "leds.md").unlink()
    report = _ingest(runtime, kb)
    assert (report.updated, report.removed) == (1, 1)
    ids = runtime.store.doc_ids()
    assert "faq.csv#row-2" not in ids and "guides/leds.md" not in ids and "faq.csv#row-1" in ids
    assert Manifest.load(path).entries["faq.csv"].chunk_ids
