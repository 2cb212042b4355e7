"""Pure parts of the web UI: citation previews confined to the KB, banner, handoff message, graph and
timing pictures, console filters, staff credentials and the hardening settings."""

from __future__ import annotations

from pathlib import Path

import pytest

import ui  # noqa: F401  (gradio analytics off before anything imports gradio)
from app.serve import staff_login_from_env
from chatbot.engine import HANDOFF_MESSAGE
from chatbot.turn_trace import Citation, HitRecord, InputsRecord
from core.config import Settings
from core.errors import ConfigError, InputError
from retrieval.manifest import FileEntry, Manifest
from ui import render
from ui.app import AppOptions, StaffLogin, blocked_paths
from ui.charts import graph_picture, parse_path, timings_chart
from ui.kb_files import KBFiles
from ui.trace_view import fused_rows, make_filter, parse_day, source_rows


def test_importing_ui_turns_gradio_analytics_off() -> None:
    import os

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "shots").mkdir(parents=True)
    (root / "shots" / "e42.png").write_bytes(b"\x89PNG")
    (root / "sounds").mkdir()
    (root / "sounds" / "beep.wav").write_bytes(b"RIFF")
    (root / "faq.csv").write_text("question,answer\n", encoding="utf-8")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG")
    return root


def _lookup(kb: Path) -> KBFiles:
    manifest = Manifest(kb.parent / "data" / "manifest.json")
    for rel in ("shots/e42.png", "sounds/beep.wav", "faq.csv"):
        manifest.entries[rel] = FileEntry("0" * 64, (rel,), 1, None)
    manifest.save()
    return KBFiles(kb, manifest.path)


def test_kb_lookup_maps_ingested_doc_ids_and_never_leaves_the_kb(kb: Path) -> None:
    files = _lookup(kb)
    assert files.lookup("shots/e42.png") == (kb / "shots" / "e42.png").resolve()
    assert files.lookup("faq.csv#row-3") == (kb / "faq.csv").resolve()
    assert files.lookup("../secret.png") is None
    assert files.lookup(str(kb.parent / "secret.png")) is None
    assert files.lookup("missing.md") is None


def test_citations_are_collapsed_messages_with_image_and_audio_previews(kb: Path) -> None:
    citations = [
        {
            "number": 1,
            "doc_id": "shots/e42.png",
            "title": "E-42 screen",
            "modality": "image",
            "snippet": "The dialog",
        },
        {
            "number": 2,
            "doc_id": "sounds/beep.wav",
            "title": "Beep",
            "modality": "audio",
            "snippet": "Three beeps",
        },
        {
            "number": 3,
            "doc_id": "faq.csv#row-3",
            "title": "Refunds",
            "modality": "text",
            "snippet": "Q: refund?",
        },
        {"number": 4, "doc_id": "../secret.png", "title": "nope", "modality": "image", "snippet": "x"},
    ]
    messages = render.citation_messages([Citation.from_dict(c) for c in citations], _lookup(kb))
    assert [m["metadata"]["title"] for m in messages] == [
        "Source [1] E-42 screen",
        "Source [2] Beep",
        "Source [3] Refunds",
        "Source [4] nope",
    ]
    assert all(m["metadata"]["status"] == "done" for m in messages)  # collapsed until clicked
    assert '<img src="kb/shots/e42.png"' in messages[0]["content"]
    assert "<audio controls" in messages[1]["content"] and "beep.wav" in messages[1]["content"]
    assert "<img" not in messages[2]["content"] and "> Q: refund?" in messages[2]["content"]
    assert "secret" not in messages[3]["content"].replace("../secret.png", "")  # no preview outside the KB


def test_handoff_message_and_banner() -> None:
    assert HANDOFF_MESSAGE in render.handoff_message()["content"]
    assert render.banner_markdown([]) == ""
    quoted = "Answers are quoted from our help articles."
    assert render.banner_markdown([quoted, quoted]) == quoted, "the public line, once"
    staff = render.staff_notice_markdown(["dense retrieval OFF", "dense retrieval OFF", "no OCR"])
    assert "Reduced mode" in staff and staff.count("dense retrieval OFF") == 1 and "no OCR" in staff
    notes = ["voice note not transcribed (speech model missing): x", "no text found in the image"]
    assert render.missing_reader_notes(notes) == notes[:1]
    assert render.public_reader_notes(notes) == [
        "Voice notes can't be transcribed right now, so please type your question."
    ]


def test_source_preview_highlights_the_quoted_sentences_and_links_the_article() -> None:
    class Lookup:
        def lookup(self, doc_id: str) -> Path | None:
            return Path("/kb/e42.md") if doc_id.startswith("e42.md") else None

    section = "The X300 has no Mesh button. Instead:\n\n"
    section += "1. Set **Backhaul band** to **Auto**.\n2. Wait.\n\n| a | b |"
    citation = Citation(
        1, "e42.md", "E-42", "text", "snippet", "e42.md", section, ("Set Backhaul band to Auto.",)
    )
    [message] = render.citation_messages([citation], Lookup())
    content = message["content"]
    assert "1. <mark>Set **Backhaul band** to **Auto**.</mark>\n2. Wait." in content, "cited part marked"
    assert "The X300 has no Mesh button." in content and "| a | b |" in content, "the whole section"
    assert 'href="kb/e42.md"' in content and "Open the full article" in content
    assert message["metadata"]["title"] == "Source [1] E-42"


def test_understanding_message_shows_what_was_heard_and_read_without_figures() -> None:
    message = render.understanding_message(
        InputsRecord.from_dict(
            {
                "transcript": {"text": "my router beeps", "confidence": 0.81},
                "ocr": {"text": "E-42", "confidence": 0.97},
            }
        )
    )
    assert message is not None
    content = message["content"]
    assert "I heard: my router beeps" in content and "I read on your image: E-42" in content
    assert "confidence" not in content and "0.8" not in content
    assert render.understanding_message(InputsRecord.from_dict({"notes": []})) is None


def test_graph_path_parsing_and_pictures() -> None:
    reason = "product:X200 -has_error-> error_code:E-42 <-about- doc:troubleshooting/e42 mesh.md"
    assert parse_path(reason) == [
        ("product:X200", "has_error", "error_code:E-42"),
        ("doc:troubleshooting/e42 mesh.md", "about", "error_code:E-42"),
    ]
    picture = graph_picture([{"doc_id": "x", "score": 1.0, "reason": reason}], [{"id": "product:X200"}])
    assert picture is not None and picture.width > 300 and picture.height > 150
    assert graph_picture([], []) is None
    chart = timings_chart({"retrieve": 12.5, "understand": 3.0, "generate": 40.0})
    assert chart is not None and chart.width > 300
    assert timings_chart({}) is None


def test_source_and_fused_tables() -> None:
    stored = [
        {
            "doc_id": "a.md",
            "chunk_id": 0,
            "modality": "text",
            "score": 0.03,
            "sources": {"bm25": {"rank": 2, "score": 7.5}, "graph": {"rank": 1, "score": 2.0}},
        },
        {
            "doc_id": "b.png",
            "chunk_id": 0,
            "modality": "image",
            "score": 0.016,
            "sources": {"bm25": {"rank": 1, "score": 9.0}},
        },
    ]
    hits = [HitRecord.from_dict(h) for h in stored]
    assert source_rows(hits) == [
        ["bm25", 1, 9.0, "b.png", 0, "image", 2],
        ["bm25", 2, 7.5, "a.md", 0, "text", 1],
        ["graph", 1, 2.0, "a.md", 0, "text", 1],
    ]
    assert fused_rows(hits)[0] == [1, "a.md", 0, "text", 0.03, "bm25 #2, graph #1"]


def test_date_filters() -> None:
    day = parse_day("2026-03-01")
    assert day is not None and parse_day("2026-03-01", end=True) == pytest.approx(day + 86400, abs=3600)
    assert parse_day("  ") is None
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_day("01/03/2026")
    with pytest.raises(InputError, match="before"):
        make_filter(False, False, "2026-03-02", "2026-03-01")
    flt = make_filter(True, True, "2026-03-01", "2026-03-01", "s1")
    assert flt.thumbs_down and flt.handoffs and flt.session_id == "s1"
    assert flt.since is not None and flt.until is not None and flt.until > flt.since


def test_staff_credentials_come_from_the_environment_only() -> None:
    assert staff_login_from_env({}) is None
    login = staff_login_from_env({"SUPPORTBOT_STAFF_USER": "ana", "SUPPORTBOT_STAFF_PASSWORD": "long-enough"})
    assert login is not None and login.check("ana", "long-enough")
    assert not login.check("ana", "long-enougH") and not login.check("bob", "long-enough")
    assert "long-enough" not in repr(login)
    with pytest.raises(ConfigError, match="SUPPORTBOT_STAFF_PASSWORD"):
        staff_login_from_env({"SUPPORTBOT_STAFF_USER": "ana"})
    with pytest.raises(ConfigError, match="at least"):
        StaffLogin("ana", "short")


def test_blocked_paths_cover_data_dir_trace_db_and_model_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models")
    blocked = blocked_paths(settings)
    for path in (settings.data_dir, settings.traces_path, tmp_path / "models"):
        assert str(path.resolve()) in blocked
    with pytest.raises(ConfigError, match="does not exist"):
        AppOptions(kb_dir=tmp_path / "nope")
    with pytest.raises(ConfigError):
        AppOptions(queue_size=0)


def test_staff_view_shows_a_measured_device_sound() -> None:
    from ui.trace_view import understanding_markdown

    inputs = InputsRecord.from_dict({"has_audio": True, "sound_pattern": "three short beeps", "notes": []})
    assert "**Device sound measured:** three short beeps" in understanding_markdown(inputs)
    plain = InputsRecord.from_dict({"has_audio": True, "notes": []})
    assert "Device sound" not in understanding_markdown(plain)
