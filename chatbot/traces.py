"""Durable turn traces (`<data_dir>/traces.sqlite`): one row per turn with its JSON trace,
customer feedback and the handoff packet when the bot handed over to a human.

Every read that a customer-facing caller makes is scoped by session id, so no trace of one
session is reachable from another; the staff console lists across sessions.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatbot.turn_trace import HandoffPacket, TurnTrace
from core.errors import InputError, StoreError
from core.sanitise import clean_text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    turn_index INTEGER NOT NULL,
    created_at REAL NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    abstained INTEGER NOT NULL,
    handoff INTEGER NOT NULL,
    feedback INTEGER,
    feedback_comment TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, turn_index);
CREATE INDEX IF NOT EXISTS turns_created ON turns(created_at);
"""

MAX_COMMENT_CHARS = 2000


@dataclass(frozen=True)
class TurnRow:
    id: int
    session_id: str
    turn_index: int
    created_at: float
    question: str
    answer: str
    abstained: bool
    handoff: bool
    feedback: int | None
    feedback_comment: str | None
    trace: TurnTrace


@dataclass(frozen=True)
class TurnFilter:
    """Staff console filters: thumbs-down only, handoffs only, a date range (epoch seconds)."""

    thumbs_down: bool = False
    handoffs: bool = False
    since: float | None = None
    until: float | None = None
    session_id: str | None = None
    limit: int = 200


class TraceStore:
    """SQLite-backed store; safe to share between threads (one connection, serialised)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def open(self) -> None:
        """Opens (creating) the database; after `close` the store stays closed."""
        if self._closed:
            raise StoreError(f"the trace database {self.path} was closed; open a new TraceStore")
        if self._conn is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the trace database {self.path}: {exc}") from exc
        self._conn = conn

    def close(self) -> None:
        self._closed = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.open()
        assert self._conn is not None
        with self._lock:
            try:
                with self._conn:
                    yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(f"trace database {self.path}: {exc}") from exc

    def record(self, trace: TurnTrace) -> int:
        """Stores one turn's trace; returns its turn id. Text is cleaned first (a lone surrogate or a
        NUL typed by a client cannot make the row unstorable)."""
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO turns (session_id, turn_index, created_at, question, answer, abstained, handoff,"
                " payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    clean_text(trace.session_id),
                    trace.turn_index,
                    trace.created_at or time.time(),
                    clean_text(trace.inputs.text),
                    clean_text(trace.answer.text),
                    int(trace.answer.abstained),
                    int(trace.handoff is not None),
                    _payload(trace),
                ),
            )
            return int(cur.lastrowid or 0)

    def set_feedback(self, turn_id: int, session_id: str, thumbs_up: bool, comment: str = "") -> None:
        """Feedback from the customer who had that turn (the session id must match)."""
        comment = clean_text(comment).strip()[:MAX_COMMENT_CHARS]
        with self._db() as db:
            cur = db.execute(
                "UPDATE turns SET feedback = ?, feedback_comment = ? WHERE id = ? AND session_id = ?",
                (1 if thumbs_up else -1, comment or None, turn_id, session_id),
            )
            if cur.rowcount == 0:
                raise InputError(f"no turn {turn_id} in this conversation")

    def set_handoff(self, turn_id: int, session_id: str, packet: HandoffPacket) -> None:
        """Attaches a handoff packet to a turn (the customer asked for a human)."""
        row = self.get(turn_id, session_id=session_id)
        if row is None:
            raise InputError(f"no turn {turn_id} in this conversation")
        with self._db() as db:
            db.execute(
                "UPDATE turns SET handoff = 1, payload = ? WHERE id = ? AND session_id = ?",
                (_payload(row.trace.with_handoff(packet)), turn_id, session_id),
            )

    def get(self, turn_id: int, *, session_id: str | None = None) -> TurnRow | None:
        """One turn; with `session_id`, only if it belongs to that session."""
        sql = "SELECT * FROM turns WHERE id = ?"
        args: list[Any] = [turn_id]
        if session_id is not None:
            sql += " AND session_id = ?"
            args.append(session_id)
        with self._db() as db:
            row = db.execute(sql, args).fetchone()
        return None if row is None else _row(row)

    def turns(self, flt: TurnFilter | None = None) -> list[TurnRow]:
        """Turns newest first, filtered (staff console)."""
        flt = flt or TurnFilter()
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        if flt.thumbs_down:
            where.append("feedback = -1")
        if flt.handoffs:
            where.append("handoff = 1")
        if flt.since is not None:
            where.append("created_at >= ?")
            args.append(flt.since)
        if flt.until is not None:
            where.append("created_at < ?")
            args.append(flt.until)
        if flt.session_id is not None:
            where.append("session_id = ?")
            args.append(flt.session_id)
        sql = f"SELECT * FROM turns WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._db() as db:
            rows = db.execute(sql, [*args, max(1, min(flt.limit, 10_000))]).fetchall()
        return [_row(r) for r in rows]

    def turns_for_session(self, session_id: str) -> list[TurnRow]:
        """One conversation's turns, newest first (what its own customer may see)."""
        return self.turns(TurnFilter(session_id=session_id))

    def sessions(self, limit: int = 200) -> list[dict[str, Any]]:
        """Conversations, newest activity first: id, turns, first question, last activity, flags."""
        sql = (
            "SELECT session_id, COUNT(*), MIN(created_at), MAX(created_at), SUM(handoff), "
            "SUM(CASE WHEN feedback = -1 THEN 1 ELSE 0 END) FROM turns GROUP BY session_id "
            "ORDER BY MAX(created_at) DESC LIMIT ?"
        )
        with self._db() as db:
            rows = db.execute(sql, (limit,)).fetchall()
        return [
            {
                "session_id": r[0],
                "turns": r[1],
                "started": r[2],
                "last": r[3],
                "handoffs": r[4],
                "thumbs_down": r[5],
            }
            for r in rows
        ]


def _payload(trace: TurnTrace) -> str:
    return clean_text(json.dumps(trace.to_dict(), ensure_ascii=False, default=str))


def _row(row: tuple[Any, ...]) -> TurnRow:
    return TurnRow(
        id=row[0],
        session_id=row[1],
        turn_index=row[2],
        created_at=row[3],
        question=row[4],
        answer=row[5],
        abstained=bool(row[6]),
        handoff=bool(row[7]),
        feedback=row[8],
        feedback_comment=row[9],
        trace=TurnTrace.from_dict(json.loads(row[10])),
    )


def _turn_input(trace: TurnTrace) -> dict[str, Any]:
    """A turn's inputs as an eval turn: typed text plus uploaded media by the names the customer gave."""
    inputs = trace.inputs
    out: dict[str, Any] = {"text": inputs.typed_text}
    if inputs.image_name:
        out["image"] = inputs.image_name
    if inputs.audio_name:
        out["audio"] = inputs.audio_name
    return out


def eval_case(row: TurnRow, history: list[TurnRow], expected: list[str] | None = None) -> dict[str, Any]:
    """A `supportbot eval` JSONL case from a stored turn, so a bad answer becomes a regression test.

    `expected` defaults to the documents the bot cited (staff should correct it when those were wrong);
    media inputs are referenced by the names the customer uploaded.
    """
    case: dict[str, Any] = {
        "id": f"turn-{row.id}",
        **_turn_input(row.trace),
        "expected": expected if expected is not None else row.trace.answer.cited_doc_ids(),
        "answerable": not row.abstained,
    }
    earlier = [h for h in history if h.turn_index < row.turn_index]
    if earlier:
        case["history"] = [_turn_input(h.trace) for h in earlier]
    return case
