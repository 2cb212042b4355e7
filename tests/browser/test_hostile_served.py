"""The hostile-input suite over the real served app (issue 12): texts, screenshots and voice notes
sent to the chat API, odd uploads on the upload route, and forged doc_ids on the file route. Each
case asserts a clear one-line reason (or an answer), a live session afterwards (the same session's
next question is answered) and no KB data lost (the index keeps every chunk)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import hostile_cases as cases
from tests.browser.conftest import UPLOAD_LIMIT, Served
from tests.browser.harness import raw_chat

pytestmark = pytest.mark.slow
FOLLOW_UP = "how do I return a product for a refund?"


def chat(
    client: httpx.Client, session: str, text: str, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return raw_chat(client, session, text, files or [], timeout=120)


def outcome(message: dict[str, Any]) -> tuple[bool, str]:
    """(answered, reason): the turn's one-line reason when refused, else ''."""
    if not message.get("success"):
        return False, str(message.get("output", {}).get("error") or "")
    summary = message["output"]["data"][3] or {}
    if "error" in summary:
        return False, str(summary["error"])
    return True, ""


def check_case(served: Served, client: httpx.Client, session: str, result: dict[str, Any]) -> None:
    answered, reason = outcome(result)
    assert answered or cases.one_line(reason), reason
    follow = chat(client, session, FOLLOW_UP)
    ok, why = outcome(follow)
    assert ok, f"the session died after the case: {why}"
    assert follow["output"]["data"][3]["turn_id"] > 0


@pytest.fixture(scope="module")
def kb_rows(served: Served) -> int:
    return served.runtime.store.count()


@pytest.fixture
def client(served: Served, kb_rows: int):  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=served.url, timeout=120) as c:
        c.get("/config")
        yield c
    assert served.runtime.store.count() == kb_rows  # no KB data lost


@pytest.mark.parametrize("name", sorted(cases.TEXTS))
def test_hostile_text_on_the_chat_api(served: Served, client: httpx.Client, name: str) -> None:
    session = uuid.uuid4().hex
    check_case(served, client, session, chat(client, session, cases.TEXTS[name]))


def _upload(client: httpx.Client, name: str, data: bytes, mime: str) -> httpx.Response:
    return client.post("/gradio_api/upload", files={"files": (name, data, mime)})


@pytest.mark.parametrize("name", sorted({**cases.IMAGES, **cases.AUDIO}))
def test_hostile_media_on_the_chat_api(served: Served, client: httpx.Client, name: str) -> None:
    data = {**cases.IMAGES, **cases.AUDIO}[name]()
    mime = "image/png" if name in cases.IMAGES else "audio/wav"
    response = _upload(client, name, data, mime)
    session = uuid.uuid4().hex
    if response.status_code != 200:
        assert cases.one_line(response.json()["detail"])
        check_case(served, client, session, chat(client, session, "hello"))
        return
    path = response.json()[0]
    file_data = {"path": path, "orig_name": name, "mime_type": mime, "meta": {"_type": "gradio.FileData"}}
    check_case(served, client, session, chat(client, session, "what is wrong?", [file_data]))


ODD_UPLOADS = {
    "traversal": ("../../../../tmp/evil.png", b"\x89PNG\r\n\x1a\n"),
    "newline-name": ("a\nb.png", b"\x89PNG\r\n\x1a\n"),
    "long-name": ("x" * 300 + ".png", b"\x89PNG\r\n\x1a\n"),
    "no-extension": ("noext", b"hello"),
    "dotfile": (".htaccess", b"Deny from all"),
    "over-the-limit": ("big.wav", b"\0" * (UPLOAD_LIMIT + 1)),
}


@pytest.mark.parametrize("case", sorted(ODD_UPLOADS))
def test_odd_uploads_on_the_upload_route(served: Served, client: httpx.Client, case: str) -> None:
    name, data = ODD_UPLOADS[case]
    response = _upload(client, name, data, "application/octet-stream")
    assert response.status_code in (200, 400, 413), response.text
    if response.status_code == 200:
        [path] = response.json()
        assert Path(path).resolve().is_relative_to(Path(path).resolve().parents[1])  # stays in the upload dir
        assert str(Path(path).resolve()) != "/tmp/evil.png"
    session = uuid.uuid4().hex
    check_case(served, client, session, chat(client, session, "hello"))


FORGED_DOC_IDS = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/etc/hostname",
    "/etc/hostname",
    ".env",
    "drafts/x.xlsx",
    "faq.csv%00.png",
    "troubleshooting\\..\\..\\secret",
    "x" * 5000,
    "screenshots",
    "FAQ.CSV",
    "faq.csv%23row-1",
]


@pytest.mark.parametrize("doc_id", FORGED_DOC_IDS)
def test_forged_doc_ids_on_the_file_route(served: Served, client: httpx.Client, doc_id: str) -> None:
    (served.kb / ".env").write_text("SECRET=hunter2", encoding="utf-8")
    response = client.get("/kb/" + doc_id)
    if doc_id == "faq.csv%23row-1":
        assert response.status_code == 200 and "question" in response.text.lower()
    else:
        assert response.status_code in (404, 400), (doc_id, response.status_code)
        assert "hunter2" not in response.text and "root:" not in response.text
    session = uuid.uuid4().hex
    check_case(served, client, session, chat(client, session, "hello"))
