"""Defect 1 of issue 12: the public app served any file under the KB folder by path (a `.env`, drafts,
an `.html` running script on the staff origin). Now only ingested files are served, by doc_id, on
`/kb/<doc_id>`; active types only as downloads; Gradio's own file route refuses the KB folder."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ui  # noqa: F401  (gradio analytics off before gradio is imported)
from chatbot.engine import ChatEngine
from core.config import Settings
from core.links import kb_link
from retrieval.manifest import FileEntry, Manifest
from ui.app import AppOptions, build_app
from ui.kb_files import KBFiles, add_kb_route

INGESTED = ("guide.md", "page.html", "icon.svg", "shots/e42.png", "faq.csv", "docs/manual.pdf")


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "shots").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "drafts").mkdir()
    (root / "guide.md").write_text("# Guide\\nReset the router.", encoding="utf-8")
    (root / "page.html").write_text("<script>fetch('/staff')</script>", encoding="utf-8")
    (root / "icon.svg").write_text('<svg onload="alert(1)"/>', encoding="utf-8")
    (root / "shots" / "e42.png").write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
    (root / "faq.csv").write_text("question,answer\\nq,a\\n", encoding="utf-8")
    (root / "docs" / "manual.pdf").write_bytes(b"%PDF-1.4")
    (root / ".env").write_text("SECRET=hunter2", encoding="utf-8")
    (root / "drafts" / "x.xlsx").write_bytes(b"PK\\x03\\x04 draft")
    (tmp_path / "outside.md").write_text("outside", encoding="utf-8")
    manifest = Manifest(tmp_path / "data" / "manifest.json")
    for rel in INGESTED:
        manifest.entries[rel] = FileEntry("0" * 64, (rel,), 1, None)
    manifest.save()
    return root


def _client(kb: Path) -> TestClient:
    app = FastAPI()
    add_kb_route(app, KBFiles(kb, kb.parent / "data" / "manifest.json"))
    return TestClient(app)


def test_only_ingested_files_are_served_by_doc_id(kb: Path) -> None:
    client = _client(kb)
    ok = client.get("/" + kb_link("guide.md"))
    assert ok.status_code == 200 and "Reset the router" in ok.text
    assert ok.headers["content-type"].startswith("text/plain")
    assert client.get("/" + kb_link("faq.csv#row-2")).status_code == 200
    for never in (".env", "drafts/x.xlsx", "../outside.md", str(kb / ".env"), "missing.md", "shots"):
        response = client.get("/kb/" + never)
        assert response.status_code == 404, never
        assert "hunter2" not in response.text and "outside" not in response.text


def test_active_types_are_downloads_with_csp_and_nosniff(kb: Path) -> None:
    client = _client(kb)
    for doc_id in ("page.html", "icon.svg", "docs/manual.pdf"):
        response = client.get("/" + kb_link(doc_id))
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]
    image = client.get("/" + kb_link("shots/e42.png"))
    assert (
        image.headers["content-type"] == "image/png" and image.headers["x-content-type-options"] == "nosniff"
    )


def test_a_file_ingested_later_is_served_once_the_manifest_says_so(kb: Path) -> None:
    client = _client(kb)
    (kb / "new.md").write_text("new article", encoding="utf-8")
    assert client.get("/kb/new.md").status_code == 404
    manifest = Manifest.load(kb.parent / "data" / "manifest.json")
    manifest.entries["new.md"] = FileEntry("1" * 64, ("new.md",), 1, None)
    manifest.save()
    assert client.get("/kb/new.md").status_code == 200


def test_the_served_app_refuses_kb_paths_on_gradios_file_route(kb: Path) -> None:
    settings = Settings(data_dir=kb.parent / "data", model_dir=kb.parent / "models")
    engine = cast(ChatEngine, object())  # fake: building the page never calls the engine
    app = build_app(engine, settings, AppOptions(kb_dir=kb))
    client = TestClient(app)
    for path in (kb / ".env", kb / "drafts" / "x.xlsx", kb / "page.html", kb / "guide.md"):
        assert client.get(f"/gradio_api/file={path}").status_code == 403, path
    assert client.get("/kb/guide.md").status_code == 200
    assert client.get("/kb/.env").status_code == 404
