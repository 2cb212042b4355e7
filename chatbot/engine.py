"""The conversation engine: one customer turn in, a streamed grounded answer and a complete trace out.

    understand (OCR, ASR)  ->  context (knowledge graph)  ->  retrieve (dense + BM25 + graph, RRF)
    ->  decide (abstain?)  ->  answer (plan, compose or T5, grounding check)  ->  record the trace

The steps live in `chatbot.turn_task`. `ChatEngine` is a narrow facade: `turn`, `feedback`,
`request_human`, `end_session`, `replay` (an eval case: its history, then the scored turn) and
`status`. `turn(...)` returns a `TurnStream`: iterating it yields the answer text *so far* (each
item replaces the previous, which is how a chat UI shows a streaming message and how an answer
that fails its grounding check is replaced instead of being shown as fact); after the last item,
`.result` holds the `TurnResult` with the stored `TurnTrace`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from chatbot.generators.protocol import Generator
from chatbot.sessions import SessionStore
from chatbot.traces import TraceStore
from chatbot.turn_task import HANDOFF_MESSAGE, TurnTask
from chatbot.turn_trace import Citation, handoff_packet
from chatbot.turn_types import EngineOptions, TurnParts, TurnResult, TurnStream
from core.models import ModelChoice
from knowledge_graph.context import TurnInput
from knowledge_graph.protocol import ContextGraph
from retrieval.retriever import Retriever
from retrieval.understand import InputReader, MediaSource

if TYPE_CHECKING:
    from retrieval.evaluation import EvalCase

__all__ = [
    "HANDOFF_MESSAGE",
    "ChatEngine",
    "Citation",
    "EngineOptions",
    "EngineStatus",
    "TurnResult",
    "TurnStream",
]

HUMAN_ASKED = "the customer asked for a human"


@dataclass(frozen=True)
class EngineStatus:
    """What the engine runs with: the generator's name (None: retrieval only), whether that is the
    offline answer composer, whether dense retrieval is on and, when it is off, why, and the model
    choice of every part."""

    generator: str | None
    composer: bool
    dense: bool
    dense_note: str | None
    models: tuple[ModelChoice, ...] = ()  # what each part runs with (the reduced mode of `app.reduced`)


class ChatEngine:
    """Heavy parts are passed in: the input reader, retriever, graph, generator and trace store."""

    def __init__(
        self,
        reader: InputReader,
        retriever: Retriever,
        graph: ContextGraph,
        generator: Generator | None,
        traces: TraceStore,
        options: EngineOptions | None = None,
        *,
        models: Sequence[ModelChoice] = (),
    ) -> None:
        """`models`: what each part runs with (set by the composition root; recorded in every trace)."""
        self._reader = reader
        self._options = options or EngineOptions()
        self._parts = TurnParts(retriever, graph, generator, traces, self._options, tuple(models))
        self._sessions = SessionStore(graph, self._options.limits, context=self._options.context)

    @property
    def options(self) -> EngineOptions:
        return self._options

    def turn(
        self,
        session_id: str,
        text: str = "",
        *,
        image: MediaSource | None = None,
        audio: MediaSource | None = None,
        image_name: str | None = None,
        audio_name: str | None = None,
    ) -> TurnStream:
        """Validates and reads the inputs now (bad input raises `InputError` before anything streams)."""
        session = self._sessions.get(session_id)
        self._sessions.check_turn_allowed(session)
        started = time.perf_counter()
        understanding = self._reader.read(
            text, image=image, audio=audio, image_name=image_name, audio_name=audio_name
        )
        timings = {"understand": round((time.perf_counter() - started) * 1000, 2), **understanding.timings_ms}
        return TurnStream(TurnTask(self._parts, session, understanding, timings).run)

    def feedback(self, session_id: str, turn_id: int, thumbs_up: bool, comment: str = "") -> None:
        """The customer's rating of one of their own turns (`InputError` for a turn not theirs)."""
        self._parts.traces.set_feedback(turn_id, session_id, thumbs_up, comment)

    def request_human(self, session_id: str, turn_id: int | None = None) -> str:
        """The customer asked for a human: the reason joins the conversation's handoff packet (the latest
        one, keeping every earlier reason in order), or a new packet goes on their latest (or given) turn."""
        traces = self._parts.traces
        rows = traces.turns_for_session(session_id)
        if rows:
            handed = next((r for r in rows if r.trace.handoff is not None), None)
            if handed is not None and handed.trace.handoff is not None:
                packet = handed.trace.handoff
                reasons = (*(packet.reasons or (packet.reason,)), HUMAN_ASKED)
                packet = replace(packet, reasons=reasons, reason="; ".join(r for r in reasons if r))
                traces.set_handoff(handed.id, session_id, packet)
            else:
                row = next((r for r in rows if r.id == turn_id), rows[0]) if turn_id else rows[0]
                traces.set_handoff(row.id, session_id, handoff_packet(row.trace, reasons=(HUMAN_ASKED,)))
        self._sessions.get(session_id).offer = None
        return HANDOFF_MESSAGE

    def end_session(self, session_id: str) -> None:
        """Forgets the conversation's context (its stored traces stay)."""
        self._sessions.end(session_id)

    def replay(self, case: EvalCase, *, with_history: bool = True) -> TurnResult:
        """An eval case as a fresh conversation: its history (customer turns are run, the scripted
        agent's words join the context; skipped for last-message-only baselines), then the scored
        turn, whose result is returned."""
        session = f"eval-{case.id}-{uuid.uuid4().hex[:8]}"
        for turn in case.history if with_history else ():
            if turn.role == "user":
                self.turn(session, turn.text, image=turn.image, audio=turn.audio).finish()
            elif turn.text:  # the scripted agent's words are part of the conversation too
                self._sessions.get(session).context.observe(TurnInput(turn.text, role="assistant"))
        result = self.turn(session, case.text, image=case.image, audio=case.audio).finish()
        self.end_session(session)
        return result

    def status(self) -> EngineStatus:
        generator, retriever = self._parts.generator, self._parts.retriever
        name = generator.name if generator is not None else None
        return EngineStatus(
            generator=name,
            composer=name == "composer",
            dense=retriever.embedder is not None,
            dense_note=retriever.dense_note,
            models=self._parts.models,
        )
