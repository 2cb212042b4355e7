"""Conversation sessions: expiry after inactivity (fake clock), the LRU cap, the turn limit and the
history budget handed to the generator."""

from __future__ import annotations

import pytest

from chatbot.sessions import Session, SessionLimits, SessionStore, new_session_id
from core.errors import ConfigError, InputError
from knowledge_graph.factory import make_graph


class FakeClock:
    """Fake time (the clock is not the subject): advanced by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _store(clock: FakeClock, **limits: float) -> SessionStore:
    return SessionStore(make_graph(), SessionLimits(**limits), clock=clock)  # type: ignore[arg-type]


def test_same_id_same_session_and_ids_are_isolated() -> None:
    store = _store(FakeClock())
    a = store.get("a")
    a.history.append(("user", "my X200 shows E-42"))
    assert store.get("a") is a
    b = store.get("b")
    assert b is not a and b.history == [] and b.context is not a.context
    assert len(store) == 2
    assert len(new_session_id()) == 32 and new_session_id() != new_session_id()


def test_an_idle_session_expires_after_its_ttl() -> None:
    clock = FakeClock()
    store = _store(clock, ttl_s=60)
    first = store.get("a")
    first.turns = 3
    clock.now += 59
    assert store.get("a") is first, "used within the ttl: still alive (and the ttl restarts)"
    clock.now += 59
    assert store.get("a") is first
    clock.now += 61
    assert len(store) == 0
    fresh = store.get("a")
    assert fresh is not first and fresh.turns == 0 and fresh.history == []


def test_the_least_recently_used_session_is_dropped_at_the_cap() -> None:
    clock = FakeClock()
    store = _store(clock, max_sessions=2)
    a = store.get("a")
    b = store.get("b")
    clock.now += 1
    assert store.get("a") is a  # a is now the most recently used
    store.get("c")
    assert len(store) == 2
    assert store.get("a") is a
    assert store.get("b") is not b, "b was the least recently used, so it was dropped"


def test_the_turn_limit_and_ending_a_session() -> None:
    store = _store(FakeClock(), max_turns=2)
    session = store.get("a")
    store.check_turn_allowed(session)
    session.turns = 2
    with pytest.raises(InputError, match="limit of 2 turns"):
        store.check_turn_allowed(session)
    store.end("a")
    store.end("never-existed")
    store.check_turn_allowed(store.get("a"))


@pytest.mark.parametrize("bad", ["", "x" * 129])
def test_session_ids_are_validated(bad: str) -> None:
    with pytest.raises(InputError, match="1-128 characters"):
        _store(FakeClock()).get(bad)


def test_recent_history_keeps_the_newest_turns_within_the_budget() -> None:
    session = Session("s", None, 0.0, 0.0)  # type: ignore[arg-type]  # the context is not used here
    for i in range(6):
        session.history.append(("user", f"question {i}   with   spaces"))
        session.history.append(("assistant", f"answer {i}"))
    lines = session.recent_history(SessionLimits(history_turns=2, history_chars=1000))
    assert lines == (
        "customer: question 4 with spaces",
        "assistant: answer 4",
        "customer: question 5 with spaces",
        "assistant: answer 5",
    ), "the last two turns, oldest first, whitespace collapsed"
    budget = len("assistant: answer 5") + len("customer: question 5 with spaces")
    assert session.recent_history(SessionLimits(history_turns=4, history_chars=budget)) == (
        "customer: question 5 with spaces",
        "assistant: answer 5",
    )
    assert session.recent_history(SessionLimits(history_chars=5)) == (), "nothing fits: nothing is sent"


def test_a_long_old_turn_stops_the_history_there() -> None:
    session = Session("s", None, 0.0, 0.0)  # type: ignore[arg-type]  # the context is not used here
    session.history += [("user", "x" * 500), ("assistant", "short"), ("user", "latest")]
    assert session.recent_history(SessionLimits(history_chars=100)) == (
        "assistant: short",
        "customer: latest",
    )


@pytest.mark.parametrize(
    "kwargs", [{"max_turns": 0}, {"history_chars": 0}, {"max_sessions": 0}, {"ttl_s": 0}]
)
def test_limits_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        SessionLimits(**kwargs)  # type: ignore[arg-type]
