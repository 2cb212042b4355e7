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

from chatbot.abstention import AbstentionPolicy, Verdict, judge
from chatbot.answer_step import (
    Citation,
    PendingReply,
    answer_evidence,
    asked_attributes,
    finish_citations,
    pending_reply,
    plan_answer,
)
from chatbot.answers.plan import AnswerPlan
from chatbot.answers.scope import Scoper
from chatbot.answers.wording import CONTINUE, NO_GENERATOR, OFFER_BUTTONS, branch_question, refusal
from chatbot.generators.protocol import Answer, GenerationRequest, Generator, evidence_from_hits
from chatbot.sessions import Session, SessionLimits, SessionStore
from chatbot.traces import TraceStore
from chatbot.turn_trace import TurnContext, build_trace, handoff_packet
from core.errors import ConfigError
from core.models import ModelChoice
from knowledge_graph.context import ContextOptions, ResolvedQuery, TurnInput
from knowledge_graph.protocol import ContextGraph
from retrieval.ocr.fields import search_text
from retrieval.retriever import LinkedDoc, RetrievalResult, Retriever
from retrieval.understand import InputReader, MediaSource, Understanding

log = logging.getLogger(__name__)

HANDOFF_MESSAGE = (
    "I'll hand this conversation to a member of our support team. They can see what you sent and what I "
    "found, so you won't have to repeat yourself."
)

__all__ = ["HANDOFF_MESSAGE", "ChatEngine", "Citation", "EngineOptions", "TurnResult", "TurnStream"]


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
class TurnResult:
    """One finished turn: the text the customer saw, its citations, whether the bot declined to answer,
    handed over, or asked a question back; `options` are the replies offered as buttons."""

    turn_id: int
    session_id: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    handoff: bool
    trace: dict[str, Any]
    options: tuple[str, ...] = ()
    asked_back: bool = False


@dataclass
class TurnOutcome:
    """What the decide and answer steps produced for one turn (filled as they run)."""

    shown: str = ""
    citations: tuple[Citation, ...] = ()
    plan: AnswerPlan | None = None
    answer: Answer | None = None
    offer: str | None = None  # why a person is offered (staff words)
    options: tuple[str, ...] = ()
    handoff_reasons: tuple[str, ...] = ()
    handoff_source: dict[str, Any] | None = None  # the trace the handoff packet describes


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
        # What each part runs with (set by the composition root; recorded in every trace).
        self.models: tuple[ModelChoice, ...] = ()
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
            reply = pending_reply(session, u.query.text, Scoper(self.graph))
            if reply.kind in ("accept", "decline"):
                yield from self._answer_offer(stream, session, u, turn, reply, timings)
                return

            started = time.perf_counter()
            query = u.query
            resolved_text = turn.resolved.text
            if reply.branch is not None and reply.option is not None:
                resolved_text = f"{reply.branch.question} {reply.option.label}"
            if resolved_text and resolved_text != u.query.text:
                query = replace(u.query, text=resolved_text, dense_text=u.query.text or None)
            result = self.retriever.search(query, top_k=self.options.top_k, linked=turn.linked)
            timings["retrieve"] = _ms(started)

            started = time.perf_counter()
            verdict = judge(self.options.policy, u, self._judged_text(u, turn.resolved), result.hits)
            timings["judge"] = _ms(started)
            if reply.kind == "choice" and verdict.kind in ("out_of_scope", "not_found") and result.hits:
                verdict = replace(verdict, abstain=False, reason="", kind="")  # a short reply to our question
            started = time.perf_counter()
            out = TurnOutcome()
            if self.generator is None:
                out.shown = NO_GENERATOR
                yield out.shown
            elif verdict.abstain:
                out.shown = refusal(verdict.kind, products=verdict.subject)
                out.offer = verdict.reason
                yield out.shown
            else:
                yield from self._answer(session, u, turn, result, reply, out)
            timings["generate"] = _ms(started)
            self._record(stream, session, u, turn, result, verdict, out, timings)

    def _answer(
        self,
        session: Session,
        u: Understanding,
        turn: TurnContext,
        result: RetrievalResult,
        reply: PendingReply,
        out: TurnOutcome,
    ) -> Iterator[str]:
        """Plans, then asks back or generates; fills `out` (shown text, citations, plan, answer)."""
        assert self.generator is not None
        question = reply.branch.question if reply.branch is not None else (u.query.text or turn.resolved.text)
        out.plan = plan_answer(
            self.retriever,
            self.graph,
            result.hits,
            text=question or turn.resolved.text or u.query.full_text,
            resolved=turn.resolved.text
            if reply.branch is None
            else f"{question} {reply.option.label if reply.option else ''}",
            asked=asked_attributes(session, turn.linked_entities, self.graph),
            chosen=reply.option,
            branch_doc=reply.branch.doc_id if reply.branch is not None else None,
        )
        if out.plan.branch is not None:
            session.branch = out.plan.branch
            out.shown = branch_question(out.plan.branch)
            out.options = tuple(o.label for o in out.plan.branch.options)
            yield out.shown
            return
        if out.plan.items:
            evidence = answer_evidence(
                out.plan, result.hits, self.options.evidence_k - len(out.plan.sections)
            )
        else:
            evidence = evidence_from_hits(result.hits[: self.options.evidence_k])
        request = GenerationRequest(
            question=turn.resolved.text or u.query.full_text or "(screenshot or voice note)",
            history=session.recent_history(self.options.limits),
            evidence=evidence,
            plan=out.plan if out.plan.items else None,
        )
        answer_stream = self.generator.stream(request)
        so_far = ""
        for piece in answer_stream:
            so_far += piece
            yield so_far
        out.answer = answer = answer_stream.answer
        if answer.abstained or not answer.grounded:
            out.shown = refusal("not_found")
            out.offer = answer.reason or "the answer could not be checked"
            yield out.shown
            return
        out.shown, out.citations = finish_citations(answer.text, answer.citations, evidence)
        if out.shown != so_far:
            yield out.shown

    def _answer_offer(
        self,
        stream: TurnStream,
        session: Session,
        u: Understanding,
        turn: TurnContext,
        reply: PendingReply,
        timings: dict[str, float],
    ) -> Iterator[str]:
        """The customer answered our offer of a person: hand over (yes) or carry on (no)."""
        out = TurnOutcome(shown=HANDOFF_MESSAGE if reply.kind == "accept" else CONTINUE)
        yield out.shown
        empty = RetrievalResult((), False, ())
        verdict = Verdict(False, "", 0.0)
        if reply.kind == "accept":
            out.handoff_reasons = (*session.offer_reasons, "the customer accepted the offer of a person")
            offered = self.traces.turns_for_session(session.id)
            out.handoff_source = offered[0].trace if offered else None  # the turn the bot could not answer
        session.offer_reasons = ()
        self._record(stream, session, u, turn, empty, verdict, out, timings)

    def _record(
        self,
        stream: TurnStream,
        session: Session,
        u: Understanding,
        turn: TurnContext,
        result: RetrievalResult,
        verdict: Verdict,
        out: TurnOutcome,
        timings: dict[str, float],
    ) -> None:
        abstained = out.offer is not None or (self.generator is None and verdict.abstain)
        if out.offer is not None:
            session.offer = out.offer
            session.offer_reasons = (f"the bot could not answer: {out.offer}",)
            out.options = OFFER_BUTTONS
        session.context.mark_shown(c.doc_id for c in out.citations)
        session.turns += 1
        session.history.append(("user", u.query.text or turn.screen_text))
        session.history.append(("assistant", out.shown))
        trace = build_trace(
            session=session,
            understanding=u,
            turn=turn,
            result=result,
            verdict=verdict,
            generator=self.generator.name if self.generator is not None else None,
            answer=out.answer,
            shown=out.shown,
            citations=[c.to_dict() for c in out.citations],
            abstained=abstained,
            timings=timings,
            models=self.models,
        )
        trace["answer"]["plan"] = out.plan.to_dict() if out.plan is not None else None
        trace["answer"]["asked_back"] = out.plan.branch.to_dict() if out.plan and out.plan.branch else None
        trace["answer"]["options"] = list(out.options)
        trace["answer"]["offered_person"] = out.offer is not None
        if out.handoff_reasons:
            source = out.handoff_source if out.handoff_source is not None else trace
            trace["handoff"] = handoff_packet(source, reasons=out.handoff_reasons)
        trace["turn_id"] = self._store_trace(trace)
        stream.set_result(
            TurnResult(
                trace["turn_id"],
                session.id,
                out.shown,
                out.citations,
                abstained,
                bool(out.handoff_reasons),
                trace,
                out.options,
                out.plan.branch is not None if out.plan is not None else False,
            )
        )

    def _store_trace(self, trace: dict[str, Any]) -> int:
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
        """The customer asked for a human: the reason joins the conversation's handoff packet (the latest
        one, keeping every earlier reason in order), or a new packet goes on their latest (or given) turn."""
        rows = self.traces.turns_for_session(session_id)
        reason = "the customer asked for a human"
        if rows:
            handed = next((r for r in rows if r.trace.get("handoff")), None)
            if handed is not None:
                packet = dict(handed.trace["handoff"])
                packet["reasons"] = [*packet.get("reasons", [packet.get("reason", "")]), reason]
                packet["reason"] = "; ".join(r for r in packet["reasons"] if r)
                self.traces.set_handoff(handed.id, session_id, packet)
            else:
                row = next((r for r in rows if r.id == turn_id), rows[0]) if turn_id else rows[0]
                self.traces.set_handoff(row.id, session_id, handoff_packet(row.trace, reasons=(reason,)))
        session = self.sessions.get(session_id)
        session.offer = None
        return HANDOFF_MESSAGE
