"""Retrieval evaluation: JSONL query cases in, hit@1 / hit@5 / MRR and latency out.

Case lines: `{"id", "text"?, "image"?, "audio"?, "history"?, "expected": [doc_id...], "answerable"?,
"must_include"?: [["phrase", "or alternative"], ...]}`, media paths relative to the JSONL file. Cases
with an empty `expected` (out-of-scope questions) are not scored for retrieval. Metrics are over
distinct documents in rank order. `answer_content` is the share of answered cases with `must_include`
whose answer holds every group (one of its phrases, case-insensitive, markdown emphasis ignored).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.types import MODALITIES, Modality, leading_modality


@dataclass(frozen=True)
class EvalTurn:
    """One earlier turn of a conversation case (`history`)."""

    text: str = ""
    image: Path | None = None
    audio: Path | None = None
    role: str = "user"


@dataclass(frozen=True)
class EvalCase:
    id: str
    expected: tuple[str, ...]
    text: str = ""
    image: Path | None = None
    audio: Path | None = None
    history: tuple[EvalTurn, ...] = ()
    answerable: bool | None = None
    must_include: tuple[tuple[str, ...], ...] = ()

    @property
    def modality(self) -> Modality:
        return leading_modality(self.image, self.audio)


def _turn_fields(raw: Mapping[str, Any], base: Path, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"text": str(raw.get("text") or "")}
    for key in ("image", "audio"):
        value = raw.get(key)
        if value:
            path = (base / str(value)).resolve()
            if not path.is_file():
                raise InputError(f"{where}: {key} file {value!r} not found (looked at {path})")
            out[key] = path
    if not (out["text"].strip() or out.get("image") or out.get("audio")):
        raise InputError(f"{where}: needs at least one of text, image, audio")
    return out


def _must_include(raw: Any, where: str) -> tuple[tuple[str, ...], ...]:
    if raw is None:
        return ()
    ok = isinstance(raw, list) and all(
        isinstance(g, list) and g and all(isinstance(p, str) and p.strip() for p in g) for g in raw
    )
    if not ok:
        raise InputError(f"{where}: 'must_include' must be a list of non-empty lists of phrases")
    return tuple(tuple(p.strip() for p in group) for group in raw)


_EMPHASIS = re.compile(r"[*_`]+")


def holds(answer: str, groups: Sequence[Sequence[str]]) -> bool:
    """Does `answer` hold one phrase of every group (case-insensitive, markdown emphasis ignored)?"""
    flat = " ".join(_EMPHASIS.sub("", answer).casefold().split())
    return all(any(" ".join(p.casefold().split()) in flat for p in group) for group in groups)


def load_cases(path: Path) -> list[EvalCase]:
    """Parses and validates a query JSONL file; errors name the line and what is wrong."""
    if not path.is_file():
        raise InputError(f"queries file {path} not found")
    cases: list[EvalCase] = []
    seen: set[str] = set()
    base = path.parent
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected a JSON object")
        case_id = str(raw.get("id") or f"line-{number}")
        if case_id in seen:
            raise InputError(f"{where}: duplicate id {case_id!r}")
        seen.add(case_id)
        expected = raw.get("expected", [])
        if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
            raise InputError(f"{where}: 'expected' must be a list of doc_id strings")
        history_raw = raw.get("history") or []
        if not isinstance(history_raw, list):
            raise InputError(f"{where}: 'history' must be a list of turns")
        history = tuple(
            EvalTurn(**_turn_fields(t, base, f"{where} history[{i}]"), role=str(t.get("role", "user")))
            for i, t in enumerate(history_raw)
        )
        answerable = raw.get("answerable")
        cases.append(
            EvalCase(
                id=case_id,
                expected=tuple(expected),
                history=history,
                answerable=None if answerable is None else bool(answerable),
                must_include=_must_include(raw.get("must_include"), where),
                **_turn_fields(raw, base, where),
            )
        )
    if not cases:
        raise InputError(f"queries file {path} holds no cases")
    return cases


@dataclass(frozen=True)
class Metrics:
    n: int
    hit_at_1: float
    hit_at_5: float
    mrr: float

    def to_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "hit@1": self.hit_at_1, "hit@5": self.hit_at_5, "mrr": self.mrr}


def score(ranked: Sequence[Sequence[str]], expected: Sequence[Sequence[str]]) -> Metrics:
    """hit@1, hit@5 and MRR of ranked doc_id lists against expected doc_id sets."""
    n = len(ranked)
    if n == 0:
        return Metrics(0, 0.0, 0.0, 0.0)
    h1 = h5 = rr = 0.0
    for docs, wanted in zip(ranked, expected, strict=True):
        ranks = [i for i, d in enumerate(docs, start=1) if d in set(wanted)]
        first = ranks[0] if ranks else None
        h1 += first == 1
        h5 += first is not None and first <= 5
        rr += 1.0 / first if first else 0.0
    return Metrics(n, round(h1 / n, 4), round(h5 / n, 4), round(rr / n, 4))


@dataclass(frozen=True)
class CaseOutcome:
    """What running one case produced: the ranked documents and, when an answer was generated,
    whether the bot abstained and which documents it cited."""

    ranked: tuple[str, ...]
    dense: bool
    notes: tuple[str, ...] = ()
    abstained: bool | None = None
    cited: tuple[str, ...] = ()
    answer: str = ""
    citations: tuple[dict[str, Any], ...] = ()
    handoff: bool = False
    asked_back: bool = False


@dataclass(frozen=True)
class CaseResult:
    id: str
    modality: Modality
    expected: tuple[str, ...]
    ranked: tuple[str, ...]
    latency_ms: float
    follow_up: bool
    answerable: bool | None = None
    abstained: bool | None = None
    cited: tuple[str, ...] = ()
    answer: str = ""
    citations: tuple[dict[str, Any], ...] = ()
    handoff: bool = False
    asked_back: bool = False
    must_include: tuple[tuple[str, ...], ...] = ()

    @property
    def content_ok(self) -> bool | None:
        """Whether the answer holds every `must_include` group (None: no groups, or not answered)."""
        if not self.must_include or self.abstained is None or self.abstained:
            return None
        return holds(self.answer, self.must_include)


@dataclass(frozen=True)
class AnswerMetrics:
    """`abstention_accuracy` over cases with `answerable` set; `citation_accuracy` over answered
    answerable cases: the share whose citations include an expected document; `answer_content` over
    answered cases with `must_include` (`content_n` of them; `content_abstained`: such cases the bot
    declined, which do not count)."""

    n: int
    abstention_accuracy: float
    citation_accuracy: float
    answer_content: float | None = None
    content_n: int = 0
    content_abstained: int = 0

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "n": self.n,
            "abstention_accuracy": self.abstention_accuracy,
            "citation_accuracy": self.citation_accuracy,
            "answer_content": self.answer_content,
            "answer_content_n": self.content_n,
            "answer_content_abstained": self.content_abstained,
        }


def answer_metrics(results: Sequence[CaseResult]) -> AnswerMetrics | None:
    judged = [r for r in results if r.answerable is not None and r.abstained is not None]
    if not judged:
        return None
    correct = sum(r.abstained == (not r.answerable) for r in judged)
    answered = [r for r in judged if r.answerable and not r.abstained and r.expected]
    cited_ok = sum(bool(set(r.cited) & set(r.expected)) for r in answered)
    content = [r.content_ok for r in results if r.content_ok is not None]
    declined = sum(1 for r in results if r.must_include and r.abstained)
    return AnswerMetrics(
        len(judged),
        round(correct / len(judged), 4),
        round(cited_ok / len(answered), 4) if answered else 0.0,
        round(sum(content) / len(content), 4) if content else None,
        len(content),
        declined,
    )


@dataclass(frozen=True)
class EvalReport:
    overall: Metrics
    by_modality: dict[str, Metrics]
    by_turn: dict[str, Metrics]
    answers: AnswerMetrics | None
    latency_p50_ms: float
    latency_p95_ms: float
    cases: tuple[CaseResult, ...]
    dense: bool
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "overall": self.overall.to_dict(),
            "by_modality": {m: v.to_dict() for m, v in self.by_modality.items()},
            "by_turn": {t: v.to_dict() for t, v in self.by_turn.items()},
            "answers": self.answers.to_dict() if self.answers else None,
            "latency_ms": {"p50": self.latency_p50_ms, "p95": self.latency_p95_ms},
            "dense_retrieval": self.dense,
            "notes": list(self.notes),
            "cases": [
                {
                    "id": c.id,
                    "modality": c.modality,
                    "expected": list(c.expected),
                    "ranked": list(c.ranked),
                    "latency_ms": round(c.latency_ms, 2),
                    "follow_up": c.follow_up,
                    "answerable": c.answerable,
                    "abstained": c.abstained,
                    "cited": list(c.cited),
                    "answer": c.answer,
                    "citations": list(c.citations),
                    "handoff": c.handoff,
                    "asked_back": c.asked_back,
                    "must_include": [list(g) for g in c.must_include],
                    "content_ok": c.content_ok,
                }
                for c in self.cases
            ],
        }
        out.update(self.extra)
        return out


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1], 2)


def _slice(results: Sequence[CaseResult]) -> Metrics:
    return score([r.ranked for r in results], [r.expected for r in results])


def evaluate(
    cases: Sequence[EvalCase],
    run: Callable[[EvalCase], CaseOutcome],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Runs every case; retrieval is scored on cases with a non-empty `expected`, answers on cases
    with `answerable` set (when `run` generated answers)."""
    results: list[CaseResult] = []
    notes: set[str] = set()
    dense = True
    for i, case in enumerate(cases):
        started = time.perf_counter()
        outcome = run(case)
        elapsed = (time.perf_counter() - started) * 1000
        dense = dense and outcome.dense
        notes.update(outcome.notes)
        results.append(
            CaseResult(
                case.id,
                case.modality,
                case.expected,
                tuple(dict.fromkeys(outcome.ranked)),
                elapsed,
                bool(case.history),
                case.answerable,
                outcome.abstained,
                outcome.cited,
                outcome.answer,
                outcome.citations,
                outcome.handoff,
                outcome.asked_back,
                case.must_include,
            )
        )
        if progress:
            progress(i + 1, len(cases))
    scored = [r for r in results if r.expected]
    by_modality = {m: _slice([r for r in scored if r.modality == m]) for m in MODALITIES}
    by_turn = {
        "first": _slice([r for r in scored if not r.follow_up]),
        "follow_up": _slice([r for r in scored if r.follow_up]),
    }
    latencies = [r.latency_ms for r in scored]
    return EvalReport(
        overall=_slice(scored),
        by_modality={m: v for m, v in by_modality.items() if v.n},
        by_turn=by_turn,
        answers=answer_metrics(results),
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        cases=tuple(results),
        dense=dense,
        notes=tuple(sorted(notes)),
    )


def format_table(report: EvalReport) -> str:
    rows = [("overall", report.overall)] + sorted(report.by_modality.items())
    rows += [(f"turn:{k}", v) for k, v in report.by_turn.items() if v.n]
    lines = [f"{'slice':<15} {'n':>5} {'hit@1':>7} {'hit@5':>7} {'mrr':>7}"]
    for name, m in rows:
        lines.append(f"{name:<15} {m.n:>5} {m.hit_at_1:>7.3f} {m.hit_at_5:>7.3f} {m.mrr:>7.3f}")
    lines.append(f"latency ms: p50 {report.latency_p50_ms:.1f}  p95 {report.latency_p95_ms:.1f}")
    if report.answers is not None:
        a = report.answers
        lines.append(
            f"answers: n {a.n}  abstention accuracy {a.abstention_accuracy:.3f}  "
            f"citation accuracy {a.citation_accuracy:.3f}"
        )
        if a.answer_content is not None:
            lines.append(
                f"answer content: {a.answer_content:.3f} of {a.content_n} answered cases hold every "
                f"must_include group ({a.content_abstained} such cases declined)"
            )
    else:
        lines.append("answers: not evaluated (no answer generator)")
    lines.append("ImageBind (cross-modal) dense retrieval: " + ("on" if report.dense else "OFF"))
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)
