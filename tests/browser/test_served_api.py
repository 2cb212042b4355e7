"""The served app over HTTP: the chat API with gradio_client, the staff API behind its login, and the
hardening (blocked paths, only uploaded files accepted, upload size limit)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from chatbot.traces import TurnFilter
from tests.browser.conftest import UPLOAD_LIMIT, Served
from tests.browser.harness import STAFF_PASSWORD, STAFF_USER, raw_chat

pytestmark = pytest.mark.slow


def _client(url: str, **kwargs: object):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    return Client(url, verbose=False, **kwargs)


def test_chat_api_answers_with_citations_follow_up_feedback_and_handoff(served: Served) -> None:
    from gradio_client import handle_file

    client = _client(served.url + "/")
    history, box, summary, _banner = client.predict(
        {"text": "my extender shows error E-42", "files": []}, api_name="/chat"
    )
    assert box == {"text": "", "files": []} or not box
    assert summary["turn_id"] > 0 and not summary["abstained"]
    cited = [c["doc_id"] for c in summary["citations"]]
    assert "troubleshooting/e42-mesh-link-lost.md" in cited
    assert any(m["metadata"] and "Source [" in m["metadata"]["title"] for m in history)

    _h, _b, follow, _ = client.predict({"text": "how do I fix it?", "files": []}, api_name="/chat")
    row = served.runtime.traces.get(follow["turn_id"])
    assert row is not None
    assert "E-42" in row.trace.context.resolved_query  # the follow-up kept the error code
    first = served.runtime.traces.get(summary["turn_id"])
    assert first is not None and first.session_id == row.session_id

    status, comment = client.predict("down", "wrong router model", api_name="/feedback")
    assert "saved" in status and comment == ""
    rated = served.runtime.traces.get(follow["turn_id"])
    assert rated is not None and rated.feedback == -1 and rated.feedback_comment == "wrong router model"

    history = client.predict(api_name="/human")
    assert "hand" in json.dumps(history[-1]).lower()
    handed = served.runtime.traces.get(follow["turn_id"])
    assert handed is not None and handed.handoff
    assert handed.trace.handoff.reason == "the customer asked for a human"

    shot = handle_file(str(served.kb / "screenshots" / "e42_mesh_link.png"))
    _h, _b, from_image, _ = client.predict({"text": "", "files": [shot]}, api_name="/chat")
    image_row = served.runtime.traces.get(from_image["turn_id"])
    assert image_row is not None and image_row.trace.inputs.image_name == "e42_mesh_link.png"
    assert "E-42" in image_row.trace.inputs.ocr.text


def test_staff_api_needs_login(served: Served) -> None:
    assert httpx.get(served.url + "/staff/config").status_code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain Exception on 401
        _client(served.url + "/staff/")
    staff = _client(served.url + "/staff/", auth=(STAFF_USER, STAFF_PASSWORD))
    served.engine.turn("api-staff-check", "how do I return a product for a refund?").finish()
    _sessions, turns, _picker, _conversation, status = staff.predict(
        False, False, "", "", "(all conversations)", api_name="/turns"
    )
    assert "match" in status
    assert "api-staff-check" in json.dumps(turns)
    turn_id = served.runtime.traces.turns(TurnFilter(session_id="api-staff-check"))[0].id
    detail = staff.predict(turn_id, api_name="/turn")
    assert f"Turn #{turn_id}" in detail[0] and "refund" in detail[0]
    line, _file, _status = staff.predict(
        str(turn_id), "policies/returns-and-refunds.md", api_name="/export_eval_case"
    )
    assert json.loads(line)["expected"] == ["policies/returns-and-refunds.md"]


def test_data_dir_and_outside_files_are_never_served(served: Served) -> None:
    settings = served.runtime.settings
    kb_image = served.kb / "screenshots" / "e42_mesh_link.png"
    assert httpx.get(f"{served.url}/kb/screenshots/e42_mesh_link.png").status_code == 200
    (served.kb / ".env").write_text("SECRET=1", encoding="utf-8")
    for by_path in (kb_image, served.kb / ".env"):
        assert httpx.get(f"{served.url}/gradio_api/file={by_path}").status_code == 403
    assert httpx.get(f"{served.url}/kb/.env").status_code == 404
    for forbidden in (settings.traces_path, settings.manifest_path, Path("/etc/hostname")):
        assert httpx.get(f"{served.url}/gradio_api/file={forbidden}").status_code == 403
    assert httpx.get(f"{served.url}/staff/gradio_api/file={settings.traces_path}").status_code in (401, 403)


def _raw_chat(url: str, files: list[dict[str, object]]) -> dict[str, object]:
    session = "raw-" + str(abs(hash(json.dumps(files))))
    with httpx.Client(base_url=url) as client:
        return raw_chat(client, session, "x", files, timeout=30)


def test_a_client_cannot_attach_server_files(served: Served) -> None:
    """A forged FileData pointing into the data dir (or anywhere not uploaded) is refused, not copied."""
    secret = served.runtime.settings.data_dir / "secret.png"
    secret.write_bytes((served.kb / "screenshots" / "e42_mesh_link.png").read_bytes())
    before = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    for path in (secret, served.kb / "screenshots" / "e42_mesh_link.png"):
        forged = {
            "path": str(path),
            "orig_name": "a.png",
            "mime_type": "image/png",
            "meta": {"_type": "gradio.FileData"},
        }
        result = _raw_chat(served.url, [forged])
        assert result["success"] is False
        assert isinstance(result.get("output", {}).get("error"), str) and result["output"]["error"]
        assert "secret.png" not in json.dumps(result.get("output", {})).replace(str(secret), "")
    assert len(served.runtime.traces.turns(TurnFilter(limit=10_000))) == before


def test_uploads_over_the_limit_are_refused(served: Served) -> None:
    big = b"\0" * (UPLOAD_LIMIT + 1024)
    response = httpx.post(served.url + "/gradio_api/upload", files={"files": ("big.wav", big, "audio/wav")})
    assert response.status_code == 413
    small = httpx.post(
        served.url + "/gradio_api/upload", files={"files": ("ok.wav", b"RIFF0000", "audio/wav")}
    )
    assert small.status_code == 200
