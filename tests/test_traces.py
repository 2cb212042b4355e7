"""Turn traces in SQLite: record/get, staff filters, feedback and handoffs scoped by session, the
conversation list, and exporting a turn as a `supportbot eval` case that the eval loader accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatbot.traces import TraceStore, TurnFilter, eval_case
from chatbot.turn_trace import TRACE_VERSION, HandoffPacket, TurnTrace
from core.errors import InputError, StoreError
from retrieval.evaluation import load_cases

DAY = 86_400.0
T0 = 1_700_000_000.0


def _trace(
    session: str,
    index: int,
    text: str,
    *,
    created: float,
    cited: tuple[str, ...] = (),
    abstained: bool = False,
    handoff: dict[str, Any] | None = None,
    image: str | None = None,
) -> TurnTrace:
    return TurnTrace.from_dict(_stored(session, index, text, created, cited, abstained, handoff, image))


def _stored(
    session: str,
    index: int,
    text: str,
    created: float,
    cited: tuple[str, ...] = (),
    abstained: bool = False,
    handoff: dict[str, Any] | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """A trace as version 1 stored it (no version field, fewer keys than today)."""
    return {
        "session_id": session,
        "turn_index": index,
        "created_at": created,
        "inputs": {"typed_text": text, "text": text, "image_name": image, "audio_name": None},
        "answer": {
            "text": "I can't answer that" if abstained else f"answer to {text} [1]",
            "citations": [{"number": 1, "doc_id": d} for d in cited],
            "abstained": abstained,
        },
        "handoff": handoff,
    }


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    store = TraceStore(tmp_path / "sub" / "traces.sqlite")
    store.open()
    store.open()  # safe twice
    return store


def test_record_and_get_round_trip(store: TraceStore) -> None:
    trace = _trace("s1", 1, "my X200 shows E-42", created=T0, cited=("e42.md", "e42.md"))
    turn_id = store.record(trace)
    row = store.get(turn_id)
    assert row is not None and row.id == turn_id
    assert (row.session_id, row.turn_index, row.created_at) == ("s1", 1, T0)
    assert row.question == "my X200 shows E-42" and row.answer == "answer to my X200 shows E-42 [1]"
    assert not row.abstained and not row.handoff and row.feedback is None
    assert row.trace == trace
    assert store.get(turn_id + 1000) is None


def test_a_store_reopens_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "traces.sqlite"
    first = TraceStore(path)
    turn_id = first.record(_trace("s1", 1, "hello", created=T0))
    first.close()
    second = TraceStore(path)
    row = second.get(turn_id)
    assert row is not None and row.question == "hello"
    second.close()


def test_staff_filters(store: TraceStore) -> None:
    a1 = store.record(_trace("a", 1, "refund?", created=T0))
    a2 = store.record(
        _trace("a", 2, "bitcoin?", created=T0 + DAY, abstained=True, handoff={"reason": "out of scope"})
    )
    b1 = store.record(_trace("b", 1, "reset?", created=T0 + 2 * DAY))
    store.set_feedback(b1, "b", thumbs_up=False, comment="  wrong router  ")
    store.set_feedback(a1, "a", thumbs_up=True)
    assert [r.id for r in store.turns()] == [b1, a2, a1], "newest first"
    assert [r.id for r in store.turns(TurnFilter(thumbs_down=True))] == [b1]
    assert [r.id for r in store.turns(TurnFilter(handoffs=True))] == [a2]
    in_range = store.turns(TurnFilter(since=T0 + DAY / 2, until=T0 + 2 * DAY))
    assert [r.id for r in in_range] == [a2], "since is inclusive, until exclusive"
    assert [r.id for r in store.turns(TurnFilter(session_id="a", limit=1))] == [a2]
    row = store.get(b1)
    assert row is not None and row.feedback == -1 and row.feedback_comment == "wrong router"
    up = store.get(a1)
    assert up is not None and up.feedback == 1 and up.feedback_comment is None


def test_feedback_and_handoff_are_scoped_by_session(store: TraceStore) -> None:
    mine = store.record(_trace("mine", 1, "refund?", created=T0))
    with pytest.raises(InputError, match=f"no turn {mine} in this conversation"):
        store.set_feedback(mine, "someone-else", thumbs_up=False)
    with pytest.raises(InputError, match="no turn"):
        store.set_handoff(mine, "someone-else", HandoffPacket(reason="asked for a human"))
    assert store.get(mine, session_id="someone-else") is None
    row = store.get(mine)
    assert row is not None and row.feedback is None and not row.handoff
    assert store.turns_for_session("someone-else") == []

    store.set_handoff(mine, "mine", HandoffPacket(reason="the customer asked for a human"))
    row = store.get(mine, session_id="mine")
    assert row is not None and row.handoff
    assert row.trace.handoff == HandoffPacket(reason="the customer asked for a human")
    assert [r.id for r in store.turns(TurnFilter(handoffs=True))] == [mine]


def test_sessions_lists_conversations_newest_first(store: TraceStore) -> None:
    store.record(_trace("old", 1, "q1", created=T0))
    store.record(_trace("old", 2, "q2", created=T0 + 10, abstained=True, handoff={"reason": "x"}))
    new = store.record(_trace("new", 1, "q3", created=T0 + 100))
    store.set_feedback(new, "new", thumbs_up=False)
    listed = store.sessions()
    assert [s["session_id"] for s in listed] == ["new", "old"]
    assert listed[0] == {
        "session_id": "new",
        "turns": 1,
        "started": T0 + 100,
        "last": T0 + 100,
        "handoffs": 0,
        "thumbs_down": 1,
    }
    assert listed[1]["turns"] == 2 and listed[1]["handoffs"] == 1 and listed[1]["started"] == T0
    assert len(store.sessions(limit=1)) == 1


def _write_and_load(tmp_path: Path, cases: list[dict[str, Any]]) -> list[Any]:
    path = tmp_path / "regressions.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    return load_cases(path)


def test_eval_case_export_is_a_valid_eval_line(store: TraceStore, tmp_path: Path) -> None:
    first = store.record(_trace("s", 1, "my X300 shows E-42", created=T0, cited=("e42.md",)))
    second = store.record(
        _trace("s", 2, "and on the M10?", created=T0 + 5, cited=("m10.md", "e42.md", "m10.md"))
    )
    out_of_scope = store.record(_trace("s", 3, "bitcoin price?", created=T0 + 9, abstained=True))
    rows = store.turns_for_session("s")
    by_id = {r.id: r for r in rows}
    follow_up = eval_case(by_id[second], rows)
    assert follow_up == {
        "id": f"turn-{second}",
        "text": "and on the M10?",
        "expected": ["m10.md", "e42.md"],
        "answerable": True,
        "history": [{"text": "my X300 shows E-42"}],
    }
    corrected = eval_case(by_id[first], rows, expected=["troubleshooting/e42.md"])
    assert corrected["expected"] == ["troubleshooting/e42.md"] and "history" not in corrected
    oos = eval_case(by_id[out_of_scope], rows)
    assert oos["answerable"] is False and oos["expected"] == []
    cases = _write_and_load(tmp_path, [follow_up, corrected, oos])
    assert [c.id for c in cases] == [f"turn-{second}", f"turn-{first}", f"turn-{out_of_scope}"]
    assert cases[0].history[0].text == "my X300 shows E-42" and cases[0].expected == ("m10.md", "e42.md")
    assert cases[2].answerable is False


def test_eval_case_of_a_screenshot_only_turn_references_the_upload(store: TraceStore, tmp_path: Path) -> None:
    """A turn with only a screenshot must still export as a loadable case (media by uploaded name)."""
    turn = store.record(_trace("s", 1, "", created=T0, cited=("e42.md",), image="shot.png"))
    rows = store.turns_for_session("s")
    case = eval_case(rows[0], rows)
    assert case.get("image") == "shot.png", case
    (tmp_path / "shot.png").write_bytes(b"placeholder: the loader only checks that the file exists")
    loaded = _write_and_load(tmp_path, [case])
    assert loaded[0].id == f"turn-{turn}" and loaded[0].image == (tmp_path / "shot.png").resolve()


def test_in_memory_store(tmp_path: Path) -> None:
    store = TraceStore(":memory:")
    turn_id = store.record(_trace("m", 1, "hi", created=T0))
    assert store.get(turn_id, session_id="m") is not None
    store.close()
    store.close()  # safe twice


def test_a_closed_store_stays_closed(tmp_path: Path) -> None:
    """Closing is final: a store that silently reopened would outlive the runtime that owns it."""
    store = TraceStore(tmp_path / "traces.sqlite")
    store.record(_trace("m", 1, "hi", created=T0))
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.record(_trace("m", 2, "again", created=T0))


def test_a_version_one_trace_stored_before_typed_traces_still_opens(tmp_path: Path) -> None:
    """A row written by the dict-based trace store (no version, no abstention) reads as a TurnTrace."""
    path = tmp_path / "traces.sqlite"
    old = _stored("s", 1, "bitcoin price?", T0, abstained=True, handoff={"reason": "out of scope"})
    old["retrieval"] = {"hits": [{"doc_id": "faq.csv#row-1", "chunk_id": 0, "score": 0.01, "sources": {}}]}
    old["retrieval"]["confidence"] = 0.12
    store = TraceStore(path)
    store.open()
    with store._db() as db:  # the row as the old code wrote it, straight into SQLite
        db.execute(
            "INSERT INTO turns (session_id, turn_index, created_at, question, answer, abstained, handoff,"
            " payload) VALUES ('s', 1, ?, 'bitcoin price?', 'no', 1, 1, ?)",
            (T0, json.dumps(old)),
        )
    row = store.turns_for_session("s")[0]
    trace = row.trace
    assert trace.session_id == "s" and trace.inputs.typed_text == "bitcoin price?"
    assert trace.retrieval.hits[0].doc_id == "faq.csv#row-1" and trace.retrieval.confidence == 0.12
    assert trace.handoff is not None and trace.handoff.reason == "out of scope"
    assert trace.abstention.abstain and trace.abstention.confidence == 0.12, "derived from version 1 keys"
    assert trace.to_dict()["version"] == TRACE_VERSION
    store.close()


def test_trace_round_trip_is_stable_and_tolerant() -> None:
    trace = _trace("s", 2, "reset?", created=T0, cited=("reset.md",), image="shot.png")
    stored = trace.to_dict()
    assert stored["version"] == TRACE_VERSION
    assert TurnTrace.from_dict(stored) == trace
    assert TurnTrace.from_dict(json.loads(json.dumps(stored))).to_dict() == stored, "JSON round trip"
    newer = {**stored, "version": TRACE_VERSION + 1, "future_block": {"x": 1}}
    newer["answer"] = {**stored["answer"], "future_field": [1, 2]}
    assert TurnTrace.from_dict(newer) == trace, "unknown keys are ignored"
    broken = {**stored, "turn_index": "not a number", "inputs": None}
    opened = TurnTrace.from_dict(broken)
    assert opened.turn_index == 0 and opened.inputs.typed_text == "", "unreadable keys keep their defaults"
