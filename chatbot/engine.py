"""The conversation engine: one customer turn in, a streamed grounded answer and a complete trace out.

    understand (OCR, ASR)  ->  resolve with context (knowledge graph)  ->  retrieve (dense + BM25 +
    graph, RRF)  ->  abstain? / generate (T5 or extractive) + grounding check  ->  record trace

`ChatEngine.turn(...)` returns a `TurnStream`: iterating it yields the answer text *so far* (each
item replaces the previous, which is how a chat UI shows a streaming message and how an answer
that fails its grounding check is replaced instead of being shown as fact); after the last item,
`.result` holds the `TurnResult` with the stored trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from chatbot.abstention import AbstentionPolicy, judge
from chatbot.generators.protocol import Answer, Evidence, GenerationRequest, Generator, evidence_from_hits
from chatbot.sessions import Session, SessionLimits, SessionStore
from chatbot.traces import TraceStore
from chatbot.turn_trace import TurnContext, build_trace, handoff_packet
from core.errors import ConfigError
from knowledge_graph.context import ContextOptions, ResolvedQuery, TurnInput
from knowledge_graph.protocol import ContextGraph
from retrieval.ocr.fields import search_text
from retrieval.retriever import LinkedDoc, Retriever
from retrieval.understand import InputReader, MediaSource, Understanding

log = logging.getLogger(__name__)

HANDOFF_MESSAGE = (
    "I'll hand this conversation to a member of our support team. They can see what you sent and what I "
    "found, so you won't have to repeat yourself."
)

RETRIEVAL_ONLY = "(no answer generator loaded: retrieval only)"


@dataclass(frozen=True)
class EngineOptions:
    """`top_k` hits retrieved, `evidence_k` of them given to the generator, `graph_k` graph candidates;
    `policy` decides abstention, `limits` bound sessions, `context` tunes the conversation context.
    Built from settings (`--set engine.top_k=8`, ...) by `app.options`."""

    top_k: int = 8
    evidence_k: int = 4
    graph_k: int = 5
    graph_hops: int = 2
    policy: AbstentionPolicy = AbstentionPolicy()
    limits: SessionLimits = SessionLimits()
    context: ContextOptions = ContextOptions()

    def __post_init__(self) -> None:
        if not 1 <= self.evidence_k <= self.top_k <= 50:
            raise ConfigError("need 1 <= evidence_k <= top_k <= 50")
        if self.graph_k < 0 or self.graph_hops < 0:
            raise ConfigError("graph_k and graph_hops must be >= 0")


@dataclass(frozen=True)
class Citation:
    number: int
    doc_id: str
    title: str
    modality: str
    snippet: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TurnResult:
    turn_id: int
    session_id: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    handoff: bool
    trace: dict[str, Any]


class TurnStream:
    """Iterate for the growing answer text; then read `.result`."""

    def __init__(self, run: Callable[[TurnStream], Iterator[str]]) -> None:
        self._run = run
        self._result: TurnResult | None = None

    def __iter__(self) -> Iterator[str]:
        return self._run(self)

    @property
    def result(self) -> TurnResult:
        if self._result is None:
            raise RuntimeError("the turn result is known only after the stream has been read")
        return self._result

    def set_result(self, result: TurnResult) -> None:
        self._result = result

    def finish(self) -> TurnResult:
        for _ in self:
            pass
        return self.result


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


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
    ) -> None:
        self.reader = reader
        self.retriever = retriever
        self.graph = graph
        self.generator = generator
        self.traces = traces
        self.options = options or EngineOptions()
        self.sessions = SessionStore(graph, self.options.limits, context=self.options.context)

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
        session = self.sessions.get(session_id)
        self.sessions.check_turn_allowed(session)
        started = time.perf_counter()
        understanding = self.reader.read(
            text, image=image, audio=audio, image_name=image_name, audio_name=audio_name
        )
        timings = {"understand": _ms(started), **understanding.timings_ms}
        return TurnStream(lambda stream: self._run(stream, session, understanding, timings))

    def _run(
        self, stream: TurnStream, session: Session, u: Understanding, timings: dict[str, float]
    ) -> Iterator[str]:
        with session.lock:
            started = time.perf_counter()
            turn = self._understand_in_context(session, u)
            timings["context"] = _ms(started)

            started = time.perf_counter()
            query = u.query
            if turn.resolved.text and turn.resolved.text != u.query.text:
                query = replace(u.query, text=turn.resolved.text, dense_text=u.query.text or None)
            result = self.retriever.search(query, top_k=self.options.top_k, linked=turn.linked)
            timings["retrieve"] = _ms(started)

            verdict = judge(self.options.policy, u, self._judged_text(u, turn.resolved), result.hits)
            evidence = evidence_from_hits(result.hits[: self.options.evidence_k])
            request = GenerationRequest(
                question=turn.resolved.text or u.query.full_text or "(screenshot or voice note)",
                history=session.recent_history(self.options.limits),
                evidence=evidence,
            )
            started = time.perf_counter()
            answer: Answer | None = None
            if self.generator is None:
                shown = RETRIEVAL_ONLY
                yield shown
            elif verdict.abstain:
                shown = self._abstain_text(verdict.reason)
                yield shown
            else:
                answer_stream = self.generator.stream(request)
                so_far = ""
                for piece in answer_stream:
                    so_far += piece
                    yield so_far
                answer = answer_stream.answer
                shown = answer.text
                if answer.abstained or not answer.grounded:
                    shown = self._abstain_text(answer.reason or "the answer could not be checked")
                    yield shown
            timings["generate"] = _ms(started)

            if self.generator is None:
                abstained = verdict.abstain
            else:
                abstained = answer is None or answer.abstained or not answer.grounded
            cited = self._citations(answer, evidence) if not abstained and answer is not None else ()
            session.context.mark_shown(c.doc_id for c in cited)
            session.turns += 1
            session.history.append(("user", u.query.text or turn.screen_text))
            session.history.append(("assistant", shown))
            trace = build_trace(
                session=session,
                understanding=u,
                turn=turn,
                result=result,
                verdict=verdict,
                generator=self.generator.name if self.generator is not None else None,
                answer=answer,
                shown=shown,
                citations=[c.to_dict() for c in cited],
                abstained=abstained,
                timings=timings,
            )
            if abstained and self.generator is not None:
                trace["handoff"] = handoff_packet(trace)
            trace["turn_id"] = self._record(trace)
            stream.set_result(
                TurnResult(trace["turn_id"], session.id, shown, cited, abstained, abstained, trace)
            )

    def _record(self, trace: dict[str, Any]) -> int:
        """Stores the trace; a failure to store it is logged for staff and never breaks the turn or
        the session (the customer still gets the answer; turn id 0 means "not recorded")."""
        try:
            return self.traces.record(trace)
        except Exception:  # noqa: BLE001 - any store failure: the conversation must go on
            log.exception("could not record the trace of a turn in session %s", trace.get("session_id"))
            return 0

    def _understand_in_context(self, session: Session, u: Understanding) -> TurnContext:
        """Records the turn's entities (typed, heard or read on screen) and resolves its references."""
        ctx = session.context
        screen_text = search_text(u.ocr) if u.ocr is not None else ""
        spoken = u.transcript.text if u.transcript is not None else ""
        fields = u.ocr.fields.error_codes + u.ocr.fields.products if u.ocr is not None else ()
        linked_ids = tuple(m.entity.id for m in self.graph.link(" ".join(fields)))
        observed = ctx.observe(
            TurnInput(
                text=u.query.text or screen_text,
                modality=u.query.modality,
                source_text=screen_text or spoken or (u.sound or ""),
                entity_ids=linked_ids,
            )
        )
        resolved = ctx.resolve(u.query.text or " ".join(fields) or screen_text[:200] or u.sound or "")
        graph_hits = ctx.graph_hits(hops=self.options.graph_hops, limit=self.options.graph_k)
        linked = tuple(LinkedDoc(g.doc_id, g.score, g.reason) for g in graph_hits)
        active = tuple(ctx.active_entities())
        return TurnContext(observed.entity_ids, active, resolved, linked, screen_text)

    def _judged_text(self, u: Understanding, resolved: ResolvedQuery) -> str:
        """What the customer said plus what their pronouns ("it", "this error") stand for. Names appended
        for an ellipsis are left out, so "what's the weather?" after a router question stays out of scope."""
        referred = [self.graph.entity(e) for surface, e in resolved.substituted if surface]
        return " ".join([u.query.text, *(e.name for e in referred if e is not None)]).strip()

    def request_human(self, session_id: str, turn_id: int | None = None) -> str:
        """The customer asked for a human: attach a handoff packet to their latest (or given) turn."""
        rows = self.traces.turns_for_session(session_id)
        if rows:
            row = next((r for r in rows if r.id == turn_id), rows[0]) if turn_id else rows[0]
            packet = handoff_packet(row.trace, reason="the customer asked for a human")
            self.traces.set_handoff(row.id, session_id, packet)
        return HANDOFF_MESSAGE

    @staticmethod
    def _abstain_text(reason: str) -> str:
        return (
            f"I can't answer that reliably from our support knowledge ({reason}). "
            "Would you like me to hand you over to a human agent?"
        )

    @staticmethod
    def _citations(answer: Answer, evidence: tuple[Evidence, ...]) -> tuple[Citation, ...]:
        by_number = {e.number: e for e in evidence}
        out = []
        for n in answer.citations:
            e = by_number.get(n)
            if e is not None:
                snippet = " ".join(e.text.split())[:240]
                out.append(Citation(n, e.doc_id, e.title, e.modality, snippet, e.doc_id.split("#", 1)[0]))
        return tuple(out)
