"""Conversation sessions: isolated, bounded (turns, characters of history) and expiring.

A session holds its conversation context (active entities, documents shown) and a short
history. Sessions live in memory, keyed by an id the caller owns (a browser session, a CLI run);
nothing of one session is reachable through another's id. Thread-safe: the web UI serves several
conversations at once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import ConfigError, InputError
from knowledge_graph.context import ContextOptions, ConversationContext
from knowledge_graph.protocol import ContextGraph

if TYPE_CHECKING:
    from chatbot.answers.plan import Branch


@dataclass(frozen=True)
class SessionLimits:
    """`max_turns` per conversation, `history_chars` of past turns kept for the generator,
    `ttl_s` of inactivity before a session expires, `max_sessions` held at once (oldest dropped)."""

    max_turns: int = 50
    history_turns: int = 4
    history_chars: int = 1200
    ttl_s: float = 3600.0
    max_sessions: int = 1000

    def __post_init__(self) -> None:
        for name in ("max_turns", "history_turns", "history_chars", "max_sessions"):
            if getattr(self, name) < 1:
                raise ConfigError(f"session limit {name} must be >= 1, got {getattr(self, name)}")
        if self.ttl_s <= 0:
            raise ConfigError(f"session ttl_s must be positive, got {self.ttl_s}")


@dataclass
class Session:
    """One conversation's mutable state. Only `SessionStore` hands these out."""

    id: str
    context: ConversationContext
    created: float
    last_used: float
    turns: int = 0
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    branch: Branch | None = None  # the question back the next turn may answer
    offer: str | None = None  # why a person was offered (staff words), until the customer answers
    offer_reasons: tuple[str, ...] = ()  # the handoff reasons so far, for the packet if the customer accepts
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def recent_history(self, limits: SessionLimits) -> tuple[str, ...]:
        """The last turns as "customer: ..." / "assistant: ..." lines, newest last, within the char budget."""
        lines: list[str] = []
        budget = limits.history_chars
        for role, text in reversed(self.history[-2 * limits.history_turns :]):
            line = f"{'customer' if role == 'user' else 'assistant'}: {' '.join(text.split())}"
            if len(line) > budget:
                break
            budget -= len(line)
            lines.append(line)
        return tuple(reversed(lines))


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionStore:
    """In-memory sessions with expiry and an LRU cap."""

    def __init__(
        self,
        graph: ContextGraph,
        limits: SessionLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        context: ContextOptions | None = None,
    ) -> None:
        self.graph = graph
        self.limits = limits or SessionLimits()
        self.context_options = context or ContextOptions()
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str) -> Session:
        """The live session with this id, or a fresh one (an expired one starts over)."""
        if not session_id or len(session_id) > 128:
            raise InputError("a session id must be 1-128 characters")
        now = self._clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(session_id)
            if session is None:
                session = Session(session_id, ConversationContext(self.graph, self.context_options), now, now)
                self._sessions[session_id] = session
                while len(self._sessions) > self.limits.max_sessions:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(session_id)
            session.last_used = now
            return session

    def check_turn_allowed(self, session: Session) -> None:
        if session.turns >= self.limits.max_turns:
            raise InputError(
                f"this conversation reached its limit of {self.limits.max_turns} turns; "
                "please start a new conversation"
            )

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._sessions)

    def _expire(self, now: float) -> None:
        stale = [sid for sid, s in self._sessions.items() if now - s.last_used > self.limits.ttl_s]
        for sid in stale:
            del self._sessions[sid]
