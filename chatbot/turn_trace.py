"""The trace of one turn — the JSON that staff read to see why the bot answered what it did — and the
handoff packet a human agent gets. One place defines both shapes; the engine fills them, the trace
store keeps them, the staff console and `eval_case` read them.

Trace keys: session_id, turn_index, created_at, inputs (typed text, transcript and OCR with
confidences), context (linked and active entities, resolved query, substitutions), retrieval (hits
with every source's rank and score, graph paths, confidence), generation (generator, exact input,
raw output, grounding), answer (shown text, citations, abstained, reason), handoff, timings_ms, models
(what each part ran with: role, wanted, used (null: off), reason; the reduced mode of `app.reduced`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.models import ModelChoice
from knowledge_graph.context import ResolvedQuery
from knowledge_graph.entities import Entity
from retrieval.retriever import LinkedDoc, RetrievalResult
from retrieval.understand import Understanding

if TYPE_CHECKING:
    from chatbot.abstention import Verdict
    from chatbot.generators.protocol import Answer
    from chatbot.sessions import Session


@dataclass(frozen=True)
class TurnContext:
    """What the conversation context made of a turn: entities it linked, the active ones (with their
    weights), the resolved query, the graph-proposed documents, and the screenshot's searchable text."""

    linked_entities: tuple[str, ...]
    active: tuple[tuple[Entity, float], ...]
    resolved: ResolvedQuery
    linked: tuple[LinkedDoc, ...]
    screen_text: str


def build_trace(
    *,
    session: Session,
    understanding: Understanding,
    turn: TurnContext,
    result: RetrievalResult,
    verdict: Verdict,
    generator: str | None,
    answer: Answer | None,
    shown: str,
    citations: Sequence[dict[str, Any]],
    abstained: bool,
    timings: dict[str, float],
    models: Sequence[ModelChoice] = (),
) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "turn_index": session.turns,
        "created_at": time.time(),
        "inputs": understanding.to_dict(),
        "context": {
            "linked_entities": list(turn.linked_entities),
            "active_entities": [
                {"id": e.id, "name": e.name, "type": e.type, "weight": round(w, 3)} for e, w in turn.active
            ],
            "resolved_query": turn.resolved.text,
            "substituted": [{"surface": s, "entity": e} for s, e in turn.resolved.substituted],
        },
        "retrieval": {
            "dense": result.dense,
            "sources": list(result.sources),
            "notes": list(result.notes),
            "hits": [h.to_dict() for h in result.hits],
            "graph_paths": [{"doc_id": g.doc_id, "score": g.score, "reason": g.reason} for g in turn.linked],
            "confidence": verdict.confidence,
        },
        "generation": {
            "generator": generator,
            "input": answer.prompt if answer is not None else "",
            "output": answer.text if answer is not None else "",
            "grounded": answer.grounded if answer is not None else False,
            "support": answer.support if answer is not None else 0.0,
            "reason": answer.reason if answer is not None else verdict.reason,
        },
        "answer": {
            "text": shown,
            "citations": list(citations),
            "abstained": abstained,
            "reason": verdict.reason if answer is None else answer.reason,
        },
        "handoff": None,
        "timings_ms": timings,
        "models": [{"role": c.role, "wanted": c.wanted, "used": c.used, "reason": c.reason} for c in models],
    }


def handoff_packet(trace: dict[str, Any], reasons: Sequence[str] = ()) -> dict[str, Any]:
    """What a human agent needs to take over without asking the customer again; `reasons` in order
    (default: the turn's own answer reason)."""
    inputs = trace.get("inputs", {})
    hits = trace.get("retrieval", {}).get("hits", [])[:3]
    listed = [r for r in reasons if r] or [trace.get("answer", {}).get("reason", "")]
    why = "; ".join(r for r in listed if r)
    question = inputs.get("text") or "(screenshot or voice note)"
    resolved = trace.get("context", {}).get("resolved_query", "")
    return {
        "reason": why,
        "reasons": listed,
        "summary": f"Customer asked: {question!r}. Resolved as: {resolved!r}. Bot handed over because {why}.",
        "customer_inputs": {
            "typed_text": inputs.get("typed_text", ""),
            "image": inputs.get("image_name"),
            "audio": inputs.get("audio_name"),
        },
        "transcript": inputs.get("transcript", {}).get("text"),
        "ocr_text": inputs.get("ocr", {}).get("text"),
        "top_evidence": [{"doc_id": h["doc_id"], "snippet": h["snippet"], "score": h["score"]} for h in hits],
        "session_id": trace.get("session_id"),
        "turn_index": trace.get("turn_index"),
    }
