"""The staff console's reading of stored traces: filters, conversation/turn tables, one turn in detail.

Pure functions over `TraceStore` rows (no gradio here): tables are lists of rows with fixed
headers, text parts are Markdown, pictures come from `ui.charts`. Dates are calendar days in
the server's local time zone.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from chatbot.traces import TraceStore, TurnFilter, TurnRow, eval_case
from chatbot.turn_trace import ContextRecord, HitRecord, InputsRecord, RetrievalRecord
from core.errors import InputError
from ui.charts import graph_picture, timings_chart

SESSION_HEADERS = ["conversation", "turns", "started", "last activity", "handoffs", "thumbs down"]
TURN_HEADERS = ["turn", "time", "conversation", "question", "answer", "feedback", "handoff"]
ENTITY_HEADERS = ["entity", "name", "type", "weight"]
SOURCE_HEADERS = ["source", "rank", "score", "doc_id", "chunk", "modality", "fused rank"]
FUSED_HEADERS = ["fused rank", "doc_id", "chunk", "modality", "fused score", "ranks per source"]


def _when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _short(text: str, length: int = 80) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def parse_day(text: str, *, end: bool = False) -> float | None:
    """ "YYYY-MM-DD" -> epoch seconds of that day's local midnight (of the next day with `end`)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InputError(
            f"date {text!r} is not a calendar day; write it as YYYY-MM-DD, e.g. 2026-03-01"
        ) from exc
    if end:
        day += dt.timedelta(days=1)
    return time.mktime(day.timetuple())


def make_filter(
    thumbs_down: bool, handoffs: bool, since: str, until: str, session_id: str | None = None
) -> TurnFilter:
    """The console's filter row as a `TurnFilter` ("until" includes that whole day)."""
    start, stop = parse_day(since), parse_day(until, end=True)
    if start is not None and stop is not None and stop <= start:
        raise InputError("the 'to' date is before the 'from' date; swap them")
    return TurnFilter(
        thumbs_down=bool(thumbs_down),
        handoffs=bool(handoffs),
        since=start,
        until=stop,
        session_id=session_id or None,
    )


def session_rows(traces: TraceStore) -> list[list[Any]]:
    return [
        [s["session_id"], s["turns"], _when(s["started"]), _when(s["last"]), s["handoffs"], s["thumbs_down"]]
        for s in traces.sessions()
    ]


def feedback_label(row: TurnRow) -> str:
    if row.feedback is None:
        return ""
    return "up" if row.feedback > 0 else "down"


def turn_rows(rows: Sequence[TurnRow]) -> list[list[Any]]:
    return [
        [
            r.id,
            _when(r.created_at),
            r.session_id,
            _short(r.question or r.trace.inputs.typed_text, 60),
            _short(r.answer, 80),
            feedback_label(r),
            "yes" if r.handoff else "",
        ]
        for r in rows
    ]


def turn_choice(row: TurnRow) -> tuple[str, int]:
    """A dropdown entry for one turn: label and turn id."""
    return f"#{row.id} · {_when(row.created_at)} · {_short(row.question, 40) or '(media only)'}", row.id


@dataclass(frozen=True)
class TurnView:
    """Everything the console shows about one turn."""

    summary: str
    understanding: str
    context: str
    entities: list[list[Any]]
    per_source: list[list[Any]]
    fused: list[list[Any]]
    graph: Image.Image | None
    generator_input: str
    timings: Image.Image | None
    feedback: str
    handoff: dict[str, Any] | None
    trace: dict[str, Any]


def understanding_markdown(inputs: InputsRecord) -> str:
    lines = [f"**Typed:** {inputs.typed_text or '(nothing)'}"]
    transcript = inputs.transcript
    if transcript is not None:
        lines.append(
            f"**Transcript** (confidence {transcript.confidence:.2f}, "
            f"{transcript.model}, {transcript.duration_s} s): "
            f"{transcript.text or '(no speech)'}"
        )
    elif inputs.has_audio:
        lines.append("**Transcript:** none (voice note not transcribed)")
    if inputs.sound_pattern:
        lines.append(f"**Device sound measured:** {inputs.sound_pattern}")
    ocr = inputs.ocr
    if ocr is not None:
        found = ", ".join(f"{k}: {list(v)}" for k, v in ocr.fields.items() if v)
        lines.append(
            f"**OCR text** (confidence {ocr.confidence:.2f}, {ocr.engine}): "
            f"{' '.join(ocr.text.split()) or '(no text)'}"
        )
        if found:
            lines.append(f"**Fields read:** {found}")
    elif inputs.has_image:
        lines.append("**OCR text:** none (screenshot not read)")
    for label, name in (("image name", inputs.image_name), ("audio name", inputs.audio_name)):
        if name:
            lines.append(f"**{label}:** `{name}`")
    lines.extend(f"- note: {n}" for n in inputs.notes)
    return "\n\n".join(lines)


def context_markdown(context: ContextRecord, retrieval: RetrievalRecord) -> str:
    subs = ", ".join(f"{s.surface} → {s.entity}" for s in context.substituted)
    lines = [
        f"**Resolved query:** {context.resolved_query or '(empty)'}",
        f"**Substituted:** {subs or 'nothing'}",
        f"**Carried over:** {'; '.join(context.carried) or 'nothing'} "
        f"({context.carry_kind or 'n/a'}: {context.carry_reason})",
        f"**Linked this turn:** {', '.join(context.linked_entities) or 'none'}",
        f"**Graph paths:** {len(retrieval.graph_paths)} (drawn below when there are any)",
        f"**Sources:** {', '.join(retrieval.sources)}; dense retrieval "
        f"{'on' if retrieval.dense else 'OFF'}; confidence {retrieval.confidence}",
    ]
    lines.extend(f"- note: {n}" for n in retrieval.notes)
    return "\n\n".join(lines)


def source_rows(hits: Sequence[HitRecord]) -> list[list[Any]]:
    """One row per (source, hit): every source's own rank and raw score, grouped by source."""
    rows = []
    for fused_rank, hit in enumerate(hits, start=1):
        for source, s in hit.sources.items():
            rows.append(
                [source, s.rank, round(s.score, 4), hit.doc_id, hit.chunk_id, hit.modality, fused_rank]
            )
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def fused_rows(hits: Sequence[HitRecord]) -> list[list[Any]]:
    return [
        [
            rank,
            hit.doc_id,
            hit.chunk_id,
            hit.modality,
            round(hit.score, 5),
            ", ".join(f"{name} #{s.rank}" for name, s in sorted(hit.sources.items())),
        ]
        for rank, hit in enumerate(hits, start=1)
    ]


def feedback_markdown(row: TurnRow) -> str:
    if row.feedback is None:
        return "No feedback on this answer."
    verdict = "thumbs up (helpful)" if row.feedback > 0 else "thumbs down (not helpful)"
    return f"**Customer feedback:** {verdict}" + (
        f" — “{row.feedback_comment}”" if row.feedback_comment else ""
    )


def turn_view(row: TurnRow) -> TurnView:
    trace = row.trace
    context, retrieval, generation = trace.context, trace.retrieval, trace.generation
    cited = ", ".join(f"[{c.number}] {c.doc_id}" for c in trace.answer.citations)
    summary = "\n\n".join(
        [
            f"### Turn #{row.id} · conversation `{row.session_id}` · turn {row.turn_index} · "
            f"{_when(row.created_at)}",
            f"**Question:** {row.question or '(media only)'}",
            f"**Answer:** {row.answer}",
            f"**Cited:** {cited or 'nothing'} · **abstained:** {'yes' if row.abstained else 'no'} · "
            f"**handoff:** {'yes' if row.handoff else 'no'} · **generator:** {generation.generator} "
            f"(grounded {generation.grounded}, support {generation.support})",
        ]
    )
    entities = [[e.id, e.name, e.type, e.weight] for e in context.active_entities]
    active = [e.to_dict() for e in context.active_entities]
    return TurnView(
        summary=summary,
        understanding=understanding_markdown(trace.inputs),
        context=context_markdown(context, retrieval),
        entities=entities,
        per_source=source_rows(retrieval.hits),
        fused=fused_rows(retrieval.hits),
        graph=graph_picture([g.to_dict() for g in retrieval.graph_paths], active),
        generator_input=generation.input,
        timings=timings_chart(trace.timings_ms),
        feedback=feedback_markdown(row),
        handoff=trace.handoff.to_dict() if trace.handoff is not None else None,
        trace=trace.to_dict(),
    )


def eval_line(traces: TraceStore, turn_id: int, expected: str = "") -> str:
    """The turn as one `supportbot eval` JSONL line; `expected` (comma-separated doc_ids) overrides
    the default (the documents the bot cited)."""
    row = traces.get(turn_id)
    if row is None:
        raise InputError(f"no turn #{turn_id} in the trace database")
    wanted = [d.strip() for d in expected.split(",") if d.strip()] if expected.strip() else None
    history = traces.turns_for_session(row.session_id)
    return json.dumps(eval_case(row, history, wanted), ensure_ascii=False)
