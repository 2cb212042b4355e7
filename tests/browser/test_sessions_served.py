"""Defect 10 of issue 12 over HTTP: uploads and conversations belong to the browser session (a
server-issued HttpOnly cookie), never to a path or a client-chosen session_hash; uploads are
deleted after their turn and never served back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Served
from tests.browser.harness import raw_chat

pytestmark = pytest.mark.slow
SHOT = Path("screenshots") / "e42_mesh_link.png"


def chat(
    client: httpx.Client, text: str, files: list[dict[str, Any]] | None = None, session: str | None = None
) -> dict[str, Any]:
    """One raw /chat turn through the queue; returns the completion message."""
    return raw_chat(client, session or uuid.uuid4().hex, text, files or [], timeout=60)


def upload(client: httpx.Client, path: Path) -> str:
    response = client.post("/gradio_api/upload", files={"files": (path.name, path.read_bytes(), "image/png")})
    assert response.status_code == 200
    return str(response.json()[0])


def file_data(path: str) -> dict[str, Any]:
    return {
        "path": path,
        "orig_name": Path(path).name,
        "mime_type": "image/png",
        "meta": {"_type": "gradio.FileData"},
    }


def test_a_browser_gets_an_httponly_session_cookie(served: Served) -> None:
    response = httpx.get(served.url + "/config")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("supportbot_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_uploads_belong_to_their_session_and_are_deleted_after_the_turn(served: Served) -> None:
    with (
        httpx.Client(base_url=served.url, timeout=60) as alice,
        httpx.Client(base_url=served.url, timeout=60) as mallory,
    ):
        alice.get("/config")
        mallory.get("/config")
        path = upload(alice, served.kb / SHOT)
        assert Path(path).is_file()
        assert mallory.get(f"/gradio_api/file={path}").status_code == 404  # never served back
        assert alice.get(f"/gradio_api/file={path}").status_code == 404
        stolen = chat(mallory, "what does this say?", [file_data(path)])
        assert "not uploaded in this conversation" in json.dumps(stolen)
        assert "E-42" not in json.dumps(stolen)
        mine = chat(alice, "what does this say?", [file_data(path)])
        assert mine["success"] is True and "E-42" in json.dumps(mine["output"]["data"][3])
        assert not Path(path).exists()  # deleted once its turn ended


def test_a_victims_session_hash_gives_nothing(served: Served) -> None:
    victim_hash = uuid.uuid4().hex
    with (
        httpx.Client(base_url=served.url, timeout=60) as victim,
        httpx.Client(base_url=served.url, timeout=60) as thief,
    ):
        victim.get("/config")
        thief.get("/config")
        secret = "my order 99812 for the X200 router arrived broken"
        first = chat(victim, secret, session=victim_hash)
        assert first["success"] is True
        taken = chat(thief, "what did I say before?", session=victim_hash)
        assert "99812" not in json.dumps(taken)


def test_upload_storage_is_capped(served: Served, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ui.app import AppOptions, build_app

    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "old").mkdir()
    (folder / "old" / "big.bin").write_bytes(b"\0" * 4096)
    options = AppOptions(upload_cap_bytes=4096)
    app = build_app(served.engine, served.runtime.settings, options, upload_roots=[folder])
    client = TestClient(app)
    refused = client.post("/gradio_api/upload", files={"files": ("a.png", b"\x89PNG", "image/png")})
    assert refused.status_code == 503 and "try again" in refused.json()["detail"]
