"""The chat and staff handlers over a real engine (tiny text KB, BM25 + graph, extractive answers), the
degraded-mode fallbacks of `serve`, and the app without staff credentials.

The store is the in-memory fake (`tests.fakes.fake_runtime`): the store is not the subject here.
One end-to-end test runs the chat handler over real Milvus Lite (marked slow)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

import ui  # noqa: F401  (gradio analytics off)
from app.runtime import Runtime
from app.serve import GENERATOR_FALLBACK, open_engine, serve
from chatbot.answers.wording import OFFER_BUTTONS
from chatbot.engine import ChatEngine
from chatbot.traces import TurnFilter
from core.errors import ConfigError, InputError, ModelMissingError
from tests.browser.harness import SAMPLE_KB, make_tiny_kb, open_tiny_runtime, tiny_settings
from tests.fakes import fake_runtime
from ui import chat_view, render
from ui.chat_view import THUMBS_DOWN, ChatConfig, ChatController, ChatState
from ui.staff_view import ALL_CONVERSATIONS, StaffController


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    if not SAMPLE_KB.is_dir():
        pytest.skip("sample KB data/kb not present")
    root = tmp_path_factory.mktemp("ui-ctl")
    kb = make_tiny_kb(root, media=False)
    with fake_runtime(tiny_settings(root / "data")) as rt:  # in-memory store: not the subject here
        rt.ingest(kb, progress=False)
        yield rt


@pytest.fixture(scope="module")
def engine(runtime: Runtime) -> ChatEngine:
    return open_engine(runtime)[0]


@pytest.fixture
def chat(engine: ChatEngine, tmp_path: Path) -> ChatController:
    config = ChatConfig(kb=None, upload_roots=(tmp_path / "uploads",), notices=("n1",), public=("Quoted.",))
    return ChatController(engine, config)


def _run(chat: ChatController, message: object, state: ChatState) -> list[tuple[Any, ...]]:
    return list(chat.respond(message, state))


def _streams_a_cited_answer(chat: ChatController) -> None:
    state = ChatState()
    steps = _run(chat, {"text": "my extender shows error E-42", "files": []}, state)
    assert steps[0][0][-1] == {"role": "user", "content": "my extender shows error E-42"}
    drafts = [s[0][-1]["content"] for s in steps[1:-1]]
    assert drafts and all(isinstance(d, str) for d in drafts)
    history, box, final_state, summary, banner = steps[-1]
    assert box is None and final_state is state
    assert summary["turn_id"] == state.last_turn_id and not summary["abstained"]
    assert "troubleshooting/e42-mesh-link-lost.md" in [c["doc_id"] for c in summary["citations"]]
    assert all(m["content"] != "…" for m in history)
    assert any((m.get("metadata") or {}).get("title", "").startswith("Source [") for m in history)
    answer_index = next(i for i, m in enumerate(history) if m["role"] == "assistant" and "metadata" not in m)
    assert state.turn_of_message[answer_index] == summary["turn_id"]
    assert banner.value == "Quoted." and banner.visible, "the public line, never the operator's notice"
    assert all(step[3] == gr.skip() and step[4] == gr.skip() for step in steps[:-1]), "the chat only"


def test_streamed_pieces_closer_than_the_interval_share_an_update(
    chat: ChatController, engine: ChatEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "my extender shows error E-42"
    pieces = list(engine.turn("stream-count", question))
    assert len(pieces) >= 2, "the composer streams the answer in pieces"
    monkeypatch.setattr(chat_view, "STREAM_INTERVAL_S", 0.0)
    every = _run(chat, question, ChatState())
    monkeypatch.setattr(chat_view, "STREAM_INTERVAL_S", 60.0)
    coalesced = _run(chat, question, ChatState())
    assert len(every) == len(pieces) + 2  # the question shown, each piece, the final answer
    assert len(coalesced) == 3, "the first piece at once, the rest with the final update"
    assert coalesced[1][0][-1]["content"] == pieces[0]
    assert coalesced[-1][0] == every[-1][0] and coalesced[-1][3]["citations"] == every[-1][3]["citations"]


def test_respond_streams_a_cited_answer_and_maps_messages_to_the_turn(chat: ChatController) -> None:
    _streams_a_cited_answer(chat)


@pytest.mark.slow  # Milvus Lite + ingest of a small KB (a few seconds)
def test_respond_over_milvus_lite_end_to_end(tmp_path: Path) -> None:
    if not SAMPLE_KB.is_dir():
        pytest.skip("sample KB data/kb not present")
    runtime, _kb = open_tiny_runtime(tmp_path / "real", media=False)
    with runtime:
        config = ChatConfig(
            kb=None, upload_roots=(tmp_path / "uploads",), notices=("n1",), public=("Quoted.",)
        )
        _streams_a_cited_answer(ChatController(open_engine(runtime)[0], config))


def test_attachments_must_be_uploads_of_a_known_kind(
    runtime: Runtime, chat: ChatController, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"\x89PNG")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "notes.txt").write_text("hi", encoding="utf-8")
    before = len(runtime.traces.turns(TurnFilter(limit=10_000)))
    for path, reason in ((outside, "not uploaded"), (uploads / "notes.txt", "at most one image")):
        state = ChatState()
        steps = _run(chat, {"text": "hi", "files": [str(path)]}, state)
        assert len(steps) == 1 and reason in steps[0][3]["error"]
        assert steps[0][0][-1]["content"].startswith("⚠")
    assert len(runtime.traces.turns(TurnFilter(limit=10_000))) == before


def test_bot_handoff_and_i_want_a_human_show_the_same_message(runtime: Runtime, chat: ChatController) -> None:
    state = ChatState()
    *_, last = _run(chat, "what is the capital of France?", state)
    assert last[3]["handoff"] is False and last[3]["options"] == list(OFFER_BUTTONS), "the offer waits"
    offer = last[0][-1]
    assert [o["value"] for o in offer["options"]] == list(OFFER_BUTTONS), "offered as buttons"
    data = gr.SelectData(None, {"index": len(last[0]) - 1, "value": OFFER_BUTTONS[0]})
    *_, accepted = list(chat.choose(state, data))
    assert accepted[3]["handoff"] is True and accepted[0][-1] == render.handoff_message()
    history, state = chat.human(state)
    assert history[-1] == render.handoff_message()
    row = runtime.traces.get(state.last_turn_id or 0)
    assert row is not None and row.handoff and row.trace.handoff is not None
    assert row.trace.handoff.reasons[-2:] == (
        "the customer accepted the offer of a person",
        "the customer asked for a human",
    )


def test_thumbs_and_comment_are_stored_with_the_rated_turn(runtime: Runtime, chat: ChatController) -> None:
    state = ChatState()
    *_, first = _run(chat, "my extender shows error E-42", state)
    *_, _second = _run(chat, "how do I return a product for a refund?", state)
    first_turn = first[3]["turn_id"]
    index = next(i for i, t in state.turn_of_message.items() if t == first_turn)
    state, rating, status = chat.like(state, gr.LikeData(None, {"index": index, "value": "", "liked": False}))
    assert rating == THUMBS_DOWN and "saved" in status
    row = runtime.traces.get(first_turn)
    assert row is not None and row.feedback == -1
    status, comment, state = chat.feedback(THUMBS_DOWN, "wrong model", state)
    assert "saved" in status and comment == ""
    row = runtime.traces.get(first_turn)
    assert row is not None and row.feedback_comment == "wrong model"
    assert "no answer" in chat.feedback("up", "", ChatState())[0]


def test_new_conversation_forgets_the_session(chat: ChatController) -> None:
    state = ChatState()
    _run(chat, "my extender shows error E-42", state)
    old = state.session_id
    history, fresh, _status, _banner = chat.new_conversation(state)
    assert history == [] and fresh.session_id == "" and fresh.last_turn_id is None
    _run(chat, "how do I fix it?", fresh)
    assert fresh.session_id != old


def test_staff_filters_detail_and_eval_export(runtime: Runtime, engine: ChatEngine) -> None:
    staff = StaffController(runtime.traces)
    down = engine.turn("staff-s1", "my extender shows error E-42").finish()
    engine.feedback("staff-s1", down.turn_id, False, "not my router")
    engine.turn("staff-s2", "what is the capital of France?").finish()
    handed = engine.turn("staff-s2", "yes").finish()
    _sessions, turns, picker, _conv, status = staff.refresh(True, False, "", "", ALL_CONVERSATIONS)
    assert set(turns["turn"]) == {r.id for r in runtime.traces.turns(TurnFilter(thumbs_down=True))}
    assert down.turn_id in set(turns["turn"]) and "match" in status
    _s, turns, *_ = staff.refresh(False, True, "", "", "staff-s2")
    assert list(turns["turn"]) == [handed.turn_id]
    *_, status = staff.refresh(False, False, "yesterday", "", ALL_CONVERSATIONS)
    assert status.startswith("⚠") and "YYYY-MM-DD" in status

    outputs = staff.show(down.turn_id)
    (
        summary,
        inputs,
        context,
        entities,
        per_source,
        fused,
        graph,
        gen_input,
        timings,
        feedback,
        handoff,
        trace,
    ) = outputs
    assert f"Turn #{down.turn_id}" in summary and "Resolved query" in context
    assert "error_code:E-42" in set(entities["entity"])
    assert {"bm25", "graph"} <= set(per_source["source"]) and len(fused) > 0
    assert graph is not None and timings is not None and "question:" in gen_input
    assert "not my router" in feedback and handoff is None and trace["session_id"] == "staff-s1"

    line, path, _ = staff.export(down.turn_id, "")
    case = json.loads(line)
    assert (
        case["id"] == f"turn-{down.turn_id}" and "troubleshooting/e42-mesh-link-lost.md" in case["expected"]
    )
    assert path is not None and Path(path).read_text(encoding="utf-8") == line + "\n"
    line, _p, _ = staff.export(handed.turn_id, "policies/returns-and-refunds.md")
    assert json.loads(line)["expected"] == ["policies/returns-and-refunds.md"]


def test_missing_answer_model_falls_back_to_extractive_only_when_allowed(
    runtime: Runtime, tmp_path: Path
) -> None:
    empty_models = tmp_path / "models"
    empty_models.mkdir()
    t5 = runtime.settings.with_(generator="t5", model_dir=empty_models)
    engine, notices = open_engine(Runtime(t5, runtime.store, None, runtime.dense_note))
    assert engine.status().generator == "composer"
    assert GENERATOR_FALLBACK in notices and any("dense retrieval OFF" in n for n in notices)
    strict = t5.with_(allow_missing_models=False)
    with pytest.raises(ModelMissingError):
        open_engine(Runtime(strict, runtime.store, None, runtime.dense_note))


def test_serve_refuses_bad_setups_before_binding(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "empty")
    with pytest.raises(InputError, match="supportbot ingest"):
        serve(settings, env={})
    with pytest.raises(ConfigError, match="port"):
        serve(settings, port=70000, env={})
    with pytest.raises(ConfigError, match="SUPPORTBOT_STAFF_USER"):
        serve(settings, env={"SUPPORTBOT_STAFF_PASSWORD": "long-enough"})


def test_without_staff_credentials_the_console_is_off(engine: ChatEngine, runtime: Runtime) -> None:
    from fastapi.testclient import TestClient

    from ui.app import STAFF_DISABLED, AppOptions, build_app

    app = build_app(engine, runtime.settings, AppOptions())
    with TestClient(app) as client:
        response = client.get("/staff/")
        assert response.status_code == 404 and response.text == STAFF_DISABLED
        assert client.get("/staff/config").status_code == 404
        assert client.get("/").status_code == 200
        assert client.get("/config").json()["max_file_size"] == runtime.settings.limits.max_file_bytes
