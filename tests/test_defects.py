"""Regression tests for the defects of issue 12 found by an outside probe (one or more per defect;
defect 1, the file route, is in tests/test_kb_route.py). Each failed before its fix."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.runtime import Runtime, open_runtime
from chatbot.engine import ChatEngine
from chatbot.traces import TraceStore, TurnFilter
from core.config import Limits, Settings
from core.errors import StoreError
from core.sanitise import clean_text
from retrieval.ingest import Ingestor
from retrieval.manifest import Manifest
from retrieval.ocr.rapidocr import RapidOcrReader
from retrieval.understand import InputReader

SURROGATE_TEXT = "reset \ud800 my X200 router"
DOCS = {
    "manuals/reset.md": (
        "# Resetting the X200 router\n\nHold the reset button for ten seconds until the power light "
        "blinks amber. A factory reset erases the Wi-Fi name and password.\n"
    ),
    "policies/refunds.md": "# Refunds\n\nRefunds are paid within 14 days after the return arrives.\n",
}


def write_kb(root: Path, docs: dict[str, str] = DOCS) -> Path:
    kb = root / "kb"
    for rel, text in docs.items():
        (kb / rel).parent.mkdir(parents=True, exist_ok=True)
        (kb / rel).write_text(text, encoding="utf-8")
    return kb


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("defects")
    settings = Settings(data_dir=root / "data", allow_missing_models=True, generator="extractive")
    with open_runtime(settings, load_models=False) as rt:
        rt.ingest(write_kb(root), progress=False)
        yield rt


# --- defect 2: a lone surrogate poisoned the conversation ------------------------------------------


def test_defect_2_clean_text_replaces_lone_surrogates_and_controls() -> None:
    cleaned = clean_text("a\ud800b\x00c\td\ne\udfff")
    assert cleaned == "a\ufffdbc\td\ne\ufffd"
    cleaned.encode("utf-8")  # never raises
    assert clean_text("Grüße — مرحبا 你好") == "Grüße — مرحبا 你好"


def test_defect_2_the_trace_store_records_a_turn_with_a_surrogate(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.sqlite")
    trace = {"session_id": "s\ud800", "inputs": {"text": SURROGATE_TEXT}, "answer": {"text": "ok \udfff"}}
    turn_id = store.record(trace)
    row = store.get(turn_id)
    assert row is not None and row.question == "reset \ufffd my X200 router"
    assert row.trace["inputs"]["text"] == "reset \ufffd my X200 router"
    store.close()


def test_defect_2_the_input_reader_cleans_text_at_the_boundary() -> None:
    u = InputReader(Limits()).read(SURROGATE_TEXT + "\x00")
    assert u.query.text == "reset \ufffd my X200 router"


class FailingTraces(TraceStore):
    """Fake trace store (not the subject): every write fails, as a full disk or a locked DB would."""

    def record(self, trace: Any) -> int:
        raise StoreError("disk I/O error")


@pytest.mark.slow
def test_defect_2_turns_go_on_when_recording_fails_and_after_a_surrogate(runtime: Runtime) -> None:
    engine = runtime.engine()
    failing = ChatEngine(
        engine.reader, engine.retriever, engine.graph, engine.generator, FailingTraces(":memory:")
    )
    result = failing.turn("sess-fail", "how do I reset my X200 router?").finish()
    assert result.turn_id == 0 and "reset" in result.text.lower()
    again = failing.turn("sess-fail", "and the refund?").finish()
    assert again.text
    first = engine.turn("sess-surrogate", SURROGATE_TEXT).finish()
    second = engine.turn("sess-surrogate", "how long do refunds take?").finish()
    assert first.turn_id > 0 and second.turn_id > first.turn_id
    rows = engine.traces.turns(TurnFilter(session_id="sess-surrogate"))
    assert [r.question for r in reversed(rows)] == [
        "reset \ufffd my X200 router",
        "how long do refunds take?",
    ]


# --- defect 3: very thin images crashed OCR (chat: opaque exception; ingest: the whole run) ----------


@pytest.fixture(scope="module")
def rapid() -> RapidOcrReader:
    reader = RapidOcrReader()
    reader.load()
    return reader


@pytest.mark.parametrize("size", [(1, 20000), (20000, 1), (3, 900), (900, 4)])
def test_defect_3_rapidocr_reads_no_text_on_a_thin_image(
    rapid: RapidOcrReader, size: tuple[int, int]
) -> None:
    assert rapid.read(Image.new("RGB", size, "white")).empty


class ExplodingOcr:
    """Fake OCR engine (not the subject): fails the way a backend bug would."""

    name = "exploding"

    def load(self) -> None:
        return None

    def read(self, image: Image.Image) -> Any:
        raise RuntimeError("ResizeImgError")


def test_defect_3_a_reader_error_is_a_note_on_the_turn_not_a_crash() -> None:
    png = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(png, format="PNG")
    u = InputReader(Limits(), ocr=ExplodingOcr()).read("what is this?", image=png.getvalue())
    assert u.ocr is None
    assert any("could not be read" in note for note in u.notes)


@pytest.mark.slow
def test_defect_3_a_thin_image_never_aborts_ingest(tmp_path: Path, rapid: RapidOcrReader) -> None:
    kb = write_kb(tmp_path)
    Image.new("RGB", (1, 20000), "white").save(kb / "thin.png")
    Image.new("RGB", (64, 64), "white").save(kb / "boom.png")
    (kb / "boom.md").write_text("# Boom\n\nA picture of the boom.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", allow_missing_models=True, generator="extractive")
    with open_runtime(settings, load_models=False) as rt:
        manifest = Manifest.load(settings.manifest_path)
        report = Ingestor(rt.store, manifest, None, settings.limits, ocr=rapid, progress=False).run(kb)
        assert {"manuals/reset.md", "policies/refunds.md", "thin.png", "boom.png"} <= set(manifest.entries)
        assert not report.failed
        failing = Ingestor(
            rt.store,
            Manifest(settings.manifest_path),
            None,
            settings.limits,
            ocr=ExplodingOcr(),
            progress=False,
        )
        again = failing.run(kb)
        assert again.added == 4 and not again.failed  # OCR failure: indexed by caption and pixels


# --- defect 4: a doc_id over 1024 bytes aborted the run, after deleting the old version -------------


@pytest.mark.slow
def test_defect_4_a_too_long_path_fails_alone_and_deletes_nothing(tmp_path: Path) -> None:
    kb = write_kb(tmp_path)
    deep = kb.joinpath(*(("d" * 231),) * 5)
    deep.mkdir(parents=True)
    settings = Settings(data_dir=tmp_path / "data", allow_missing_models=True, generator="extractive")
    with open_runtime(settings, load_models=False) as rt:
        rt.ingest(kb, progress=False)
        before = rt.store.count()
        (deep / "x.md").write_text("# Deep\n\nDeep text.\n", encoding="utf-8")
        (kb / "manuals" / "reset.md").write_text(
            "# Reset\n\nHold reset for five seconds.\n", encoding="utf-8"
        )
        heard: list[tuple[str, str]] = []
        report = rt.ingest(kb, progress=False, on_failure=lambda rel, why: heard.append((rel, why)))
        assert report.updated == 1 and len(report.failed) == 1
        rel, reason = report.failed[0]
        assert rel.endswith("x.md") and "bytes" in reason and "shorten" in reason
        assert heard == list(report.failed)
        assert rt.store.count() == before
        assert "manuals/reset.md" in rt.store.doc_ids()
