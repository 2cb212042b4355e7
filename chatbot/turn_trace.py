"""The trace of one turn — what staff read to see why the bot answered what it did — and the handoff
packet a human agent gets. One place defines both shapes; the engine builds a `TurnTrace` once per
turn, the trace store keeps it as JSON, the staff console, exports and `eval_case` read its fields.

A `TurnTrace` holds one sub-record per stage: `inputs` (typed text, transcript and OCR with
confidences), `context` (linked and active entities, resolved query, substitutions), `retrieval`
(hits with every source's rank and score, graph paths, confidence), `abstention` (the verdict taken
before any answer was generated), `generation` (generator, exact input, raw output, grounding),
`answer` (shown text, citations, abstained, reason, plan), `handoff` (the packet, when handed over),
`timings_ms` (milliseconds per step) and `models` (what each part ran with: role, wanted, used (None:
off), reason; the reduced mode of `app.reduced`).

Stored JSON carries `"version": TRACE_VERSION`. Traces written before the version field existed
(version 1: the same layout without `abstention`) still open: `TurnTrace.from_dict` fills what they
lack from what they have. Every record reads unknown keys as nothing and missing keys as defaults
(`chatbot.trace_record`), so adding an optional field is adding it with a default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from chatbot.trace_record import TraceRecord
from core.types import Modality

TRACE_VERSION = 2


@dataclass(frozen=True)
class SegmentRecord(TraceRecord):
    start: float = 0.0
    end: float = 0.0
    text: str = ""
    avg_logprob: float = 0.0


@dataclass(frozen=True)
class TranscriptRecord(TraceRecord):
    text: str = ""
    language: str = ""
    confidence: float = 0.0
    duration_s: float = 0.0
    model: str = ""
    segments: tuple[SegmentRecord, ...] = ()


@dataclass(frozen=True)
class OcrRecord(TraceRecord):
    """`fields`: the support fields read (error_codes, versions, products, quoted)."""

    text: str = ""
    confidence: float = 0.0
    engine: str = ""
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class InputsRecord(TraceRecord):
    """How the turn's inputs were read (`retrieval.understand.Understanding.to_dict` writes this shape)."""

    typed_text: str = ""
    image_name: str | None = None
    audio_name: str | None = None
    text: str = ""
    extra_text: tuple[str, ...] = ()
    modality: Modality = "text"
    has_image: bool = False
    has_audio: bool = False
    sound_pattern: str | None = None
    notes: tuple[str, ...] = ()
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    transcript: TranscriptRecord | None = None
    ocr: OcrRecord | None = None


@dataclass(frozen=True)
class ActiveEntity(TraceRecord):
    id: str = ""
    name: str = ""
    type: str = ""
    weight: float = 0.0


@dataclass(frozen=True)
class Substitution(TraceRecord):
    """A reference resolved: the surface ("it", "this error"; "" for an ellipsis) and its entity id."""

    surface: str = ""
    entity: str = ""


@dataclass(frozen=True)
class ContextRecord(TraceRecord):
    linked_entities: tuple[str, ...] = ()
    active_entities: tuple[ActiveEntity, ...] = ()
    resolved_query: str = ""
    substituted: tuple[Substitution, ...] = ()
    carry_kind: str = ""  # first | follow_up | new_topic (chatbot.followups)
    carried: tuple[str, ...] = ()  # earlier questions carried into retrieval, "text (weight w)"
    carry_reason: str = ""
    unknown_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceRank(TraceRecord):
    rank: int = 0
    score: float = 0.0


@dataclass(frozen=True)
class HitRecord(TraceRecord):
    """One retrieved chunk as the trace keeps it (`core.types.Hit.to_dict` writes this shape)."""

    id: str = ""
    doc_id: str = ""
    chunk_id: int = 0
    modality: Modality = "text"
    source: str = ""
    score: float = 0.0
    snippet: str = ""
    sources: Mapping[str, SourceRank] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GraphPath(TraceRecord):
    """A document the knowledge graph proposed, with the path that explains it."""

    doc_id: str = ""
    score: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class RetrievalRecord(TraceRecord):
    dense: bool = False
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    hits: tuple[HitRecord, ...] = ()
    graph_paths: tuple[GraphPath, ...] = ()
    confidence: float = 0.0

    def doc_ids(self) -> list[str]:
        """Distinct doc_ids in rank order."""
        return list(dict.fromkeys(h.doc_id for h in self.hits))


@dataclass(frozen=True)
class AbstentionRecord(TraceRecord):
    """The abstention verdict taken from the inputs and the evidence, before any answer was generated."""

    abstain: bool = False
    reason: str = ""
    confidence: float = 0.0
    coverage: float = 0.0  # what the rule weighed: term coverage, text-embedder similarity, unknown words
    similarity: float = 0.0
    unknown_share: float = 0.0
    kind: str = ""  # which refusal (`chatbot.answers.wording.REFUSALS`), empty when answering


@dataclass(frozen=True)
class GenerationRecord(TraceRecord):
    """`generator` is None when no answer generator ran (retrieval only)."""

    generator: str | None = None
    input: str = ""
    output: str = ""
    grounded: bool = False
    support: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class Citation(TraceRecord):
    """A cited source: its number, where it is from, a snippet ending on a word, the whole cited section
    and the sentences of it the answer quotes (highlighted in the source preview)."""

    number: int = 0
    doc_id: str = ""
    title: str = ""
    modality: str = ""
    snippet: str = ""
    source: str = ""
    section: str = ""
    quoted: tuple[str, ...] = ()


@dataclass(frozen=True)
class BranchOptionRecord(TraceRecord):
    label: str = ""
    entity_ids: tuple[str, ...] = ()
    section: str = ""


@dataclass(frozen=True)
class BranchRecord(TraceRecord):
    """A question back (`chatbot.answers.plan.Branch.to_dict` writes this shape)."""

    question: str = ""
    kind: str = ""
    doc_id: str = ""
    attribute: str = ""
    options: tuple[BranchOptionRecord, ...] = ()


@dataclass(frozen=True)
class PlanItemRecord(TraceRecord):
    question: str = ""
    kind: str = ""
    doc_id: str = ""
    section: str = ""
    chunks: tuple[int, ...] = ()
    why: str = ""
    polarity: str | None = None


@dataclass(frozen=True)
class PlanRecord(TraceRecord):
    """The answer plan (`chatbot.answers.plan.AnswerPlan.to_dict` writes this shape)."""

    kind: str = ""
    items: tuple[PlanItemRecord, ...] = ()
    branch: BranchRecord | None = None
    asked: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnswerRecord(TraceRecord):
    """What the customer was shown. `plan` is the answer plan, `asked_back` the question back (if the
    bot asked one), `options` the replies offered as buttons, `offered_person` whether a person was
    offered."""

    text: str = ""
    citations: tuple[Citation, ...] = ()
    abstained: bool = False
    reason: str = ""
    plan: PlanRecord | None = None
    asked_back: BranchRecord | None = None
    options: tuple[str, ...] = ()
    offered_person: bool = False

    def cited_doc_ids(self) -> list[str]:
        return list(dict.fromkeys(c.doc_id for c in self.citations))


@dataclass(frozen=True)
class CustomerInputs(TraceRecord):
    typed_text: str = ""
    image: str | None = None
    audio: str | None = None


@dataclass(frozen=True)
class EvidenceRef(TraceRecord):
    doc_id: str = ""
    snippet: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class HandoffPacket(TraceRecord):
    """What a human agent needs to take over without asking the customer again."""

    reason: str = ""
    reasons: tuple[str, ...] = ()
    summary: str = ""
    customer_inputs: CustomerInputs = CustomerInputs()
    transcript: str | None = None
    ocr_text: str | None = None
    top_evidence: tuple[EvidenceRef, ...] = ()
    session_id: str | None = None
    turn_index: int | None = None


@dataclass(frozen=True)
class ModelRecord(TraceRecord):
    """What one part ran with (`core.models.ModelChoice`): `used` None means the part was off."""

    role: str = ""
    wanted: str = ""
    used: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class TurnTrace(TraceRecord):
    """One turn, as recorded. Built once by the engine; `with_handoff` gives a copy with a packet."""

    session_id: str = ""
    turn_index: int = 0
    created_at: float = 0.0
    inputs: InputsRecord = InputsRecord()
    context: ContextRecord = ContextRecord()
    retrieval: RetrievalRecord = RetrievalRecord()
    abstention: AbstentionRecord = AbstentionRecord()
    generation: GenerationRecord = GenerationRecord()
    answer: AnswerRecord = AnswerRecord()
    handoff: HandoffPacket | None = None
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    models: tuple[ModelRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"version": TRACE_VERSION, **super().to_dict()}

    @classmethod
    def from_dict(cls, data: Any) -> TurnTrace:
        """A stored trace of any version (version-less dicts are version 1)."""
        trace = super().from_dict(data)
        if isinstance(data, Mapping) and "abstention" not in data:
            # Version 1 kept no pre-generation verdict: the confidence was in `retrieval` and the
            # reason in `answer`; the bot abstained before generating when nothing was generated.
            verdict = AbstentionRecord(
                abstain=trace.answer.abstained and not trace.generation.output,
                reason=trace.answer.reason,
                confidence=trace.retrieval.confidence,
            )
            trace = replace(trace, abstention=verdict)
        return trace

    def with_handoff(self, packet: HandoffPacket) -> TurnTrace:
        return replace(self, handoff=packet)


def handoff_packet(trace: TurnTrace, reasons: Sequence[str] = ()) -> HandoffPacket:
    """The packet for a recorded turn; `reasons` in order (default: the turn's own answer reason)."""
    return make_handoff(
        trace.session_id,
        trace.turn_index,
        trace.inputs,
        trace.context.resolved_query,
        trace.retrieval,
        [r for r in reasons if r] or [trace.answer.reason],
    )


def make_handoff(
    session_id: str,
    turn_index: int,
    inputs: InputsRecord,
    resolved: str,
    retrieval: RetrievalRecord,
    reasons: Sequence[str],
) -> HandoffPacket:
    """What a human agent needs to take over without asking the customer again."""
    why = "; ".join(r for r in reasons if r)
    question = inputs.text or "(screenshot or voice note)"
    return HandoffPacket(
        reason=why,
        reasons=tuple(reasons),
        summary=f"Customer asked: {question!r}. Resolved as: {resolved!r}. Bot handed over because {why}.",
        customer_inputs=CustomerInputs(inputs.typed_text, inputs.image_name, inputs.audio_name),
        transcript=inputs.transcript.text if inputs.transcript is not None else None,
        ocr_text=inputs.ocr.text if inputs.ocr is not None else None,
        top_evidence=tuple(EvidenceRef(h.doc_id, h.snippet, h.score) for h in retrieval.hits[:3]),
        session_id=session_id,
        turn_index=turn_index,
    )
