"""What a turn's steps hand to its record step (`TurnContext`, `TurnOutcome`) and how the record step
builds the turn's `TurnTrace` from them, once, with its handoff packet when there is one."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from chatbot.abstention import Verdict
from chatbot.answers.plan import AnswerPlan
from chatbot.followups import Carry
from chatbot.generators.protocol import Answer
from chatbot.sessions import Session
from chatbot.turn_trace import (
    AbstentionRecord,
    ActiveEntity,
    AnswerRecord,
    BranchRecord,
    Citation,
    ContextRecord,
    GenerationRecord,
    GraphPath,
    HitRecord,
    InputsRecord,
    ModelRecord,
    PlanRecord,
    RetrievalRecord,
    Substitution,
    TurnTrace,
    handoff_packet,
    make_handoff,
)
from core.models import ModelChoice
from knowledge_graph.context import ResolvedQuery
from knowledge_graph.entities import Entity
from retrieval.retriever import LinkedDoc, RetrievalResult
from retrieval.understand import Understanding


@dataclass(frozen=True)
class TurnContext:
    """What the conversation context made of a turn: entities it linked, the active ones (with their
    weights), the resolved query, the graph-proposed documents, and the screenshot's searchable text."""

    linked_entities: tuple[str, ...]
    active: tuple[tuple[Entity, float], ...]
    resolved: ResolvedQuery
    linked: tuple[LinkedDoc, ...]
    screen_text: str
    carry: Carry = Carry("first")


@dataclass
class TurnOutcome:
    """What the answer step produced for one turn (filled as it runs)."""

    shown: str = ""
    citations: tuple[Citation, ...] = ()
    plan: AnswerPlan | None = None
    answer: Answer | None = None
    offer: str | None = None  # why a person is offered (staff words)
    options: tuple[str, ...] = ()
    handoff_reasons: tuple[str, ...] = ()
    handoff_source: TurnTrace | None = None  # the trace the handoff packet describes


def build_trace(
    session: Session,
    u: Understanding,
    turn: TurnContext,
    result: RetrievalResult,
    verdict: Verdict,
    generator: str | None,
    out: TurnOutcome,
    options: tuple[str, ...],
    abstained: bool,
    timings: dict[str, float],
    models: Sequence[ModelChoice] = (),
) -> TurnTrace:
    """The trace of a turn whose steps have run (`session.turns` already counts it)."""
    answer = out.answer
    inputs = InputsRecord.from_dict(u.to_dict())
    retrieval = _retrieval_record(turn, result, verdict)
    reason = verdict.reason if answer is None else answer.reason
    handoff = None
    if out.handoff_reasons:
        if out.handoff_source is not None:  # the earlier turn the bot could not answer
            handoff = handoff_packet(out.handoff_source, reasons=out.handoff_reasons)
        else:
            listed = [r for r in out.handoff_reasons if r] or [reason]
            handoff = make_handoff(session.id, session.turns, inputs, turn.resolved.text, retrieval, listed)
    return TurnTrace(
        session_id=session.id,
        turn_index=session.turns,
        created_at=time.time(),
        inputs=inputs,
        context=_context_record(turn),
        retrieval=retrieval,
        abstention=AbstentionRecord(
            verdict.abstain,
            verdict.reason,
            verdict.confidence,
            verdict.coverage,
            verdict.similarity,
            verdict.unknown_share,
            verdict.kind,
        ),
        generation=GenerationRecord(
            generator=generator,
            input=answer.prompt if answer is not None else "",
            output=answer.text if answer is not None else "",
            grounded=answer.grounded if answer is not None else False,
            support=answer.support if answer is not None else 0.0,
            reason=reason,
        ),
        answer=_answer_record(out, options, abstained, reason),
        handoff=handoff,
        timings_ms=dict(timings),
        models=tuple(ModelRecord(c.role, c.wanted, c.used, c.reason) for c in models),
    )


def _context_record(turn: TurnContext) -> ContextRecord:
    return ContextRecord(
        linked_entities=turn.linked_entities,
        active_entities=tuple(ActiveEntity(e.id, e.name, e.type, round(w, 3)) for e, w in turn.active),
        resolved_query=turn.resolved.text,
        substituted=tuple(Substitution(s, e) for s, e in turn.resolved.substituted),
        carry_kind=turn.carry.kind,
        carried=tuple(f"{t} (weight {w:.2f})" for t, w in turn.carry.texts),
        carry_reason=turn.carry.reason,
        unknown_terms=turn.carry.unknown_terms,
    )


def _retrieval_record(turn: TurnContext, result: RetrievalResult, verdict: Verdict) -> RetrievalRecord:
    return RetrievalRecord(
        dense=result.dense,
        sources=result.sources,
        notes=result.notes,
        hits=tuple(HitRecord.from_dict(h.to_dict()) for h in result.hits),
        graph_paths=tuple(GraphPath(g.doc_id, g.score, g.reason) for g in turn.linked),
        confidence=verdict.confidence,
    )


def _answer_record(out: TurnOutcome, options: tuple[str, ...], abstained: bool, reason: str) -> AnswerRecord:
    plan = out.plan
    return AnswerRecord(
        text=out.shown,
        citations=out.citations,
        abstained=abstained,
        reason=reason,
        plan=PlanRecord.from_dict(plan.to_dict()) if plan is not None else None,
        asked_back=BranchRecord.from_dict(plan.branch.to_dict()) if plan and plan.branch else None,
        options=options,
        offered_person=out.offer is not None,
    )
