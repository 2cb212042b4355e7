"""Retrieval evaluation: JSONL query cases in, hit@1 / hit@5 / MRR and latency out.

Case lines: `{"id", "text"?, "image"?, "audio"?, "history"?, "expected": [doc_id...], "answerable"?}`,
media paths relative to the JSONL file. Cases with an empty `expected` (out-of-scope questions)
are not scored for retrieval. Metrics are over distinct documents in rank order.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import InputError
from retrieval.retriever import RetrievalResult
from retrieval.types import MODALITIES, Modality

EVAL_TOP_K = 10


@dataclass(frozen=True)
class EvalTurn:
    """One earlier turn of a conversation case (`history`)."""

    text: str = ""
    image: Path | None = None
    audio: Path | None = None


@dataclass(frozen=True)
class EvalCase:
    id: str
    expected: tuple[str, ...]
    text: str = ""
    image: Path | None = None
    audio: Path | None = None
    history: tuple[EvalTurn, ...] = ()
    answerable: bool | None = None

    @property
    def modality(self) -> Modality:
        if self.audio is not None:
            return "audio"
        if self.image is not None:
            return "image"
        return "text"


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
            EvalTurn(**_turn_fields(t, base, f"{where} history[{i}]")) for i, t in enumerate(history_raw)
        )
        answerable = raw.get("answerable")
        cases.append(
            EvalCase(
                id=case_id,
                expected=tuple(expected),
                history=history,
                answerable=None if answerable is None else bool(answerable),
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
class CaseResult:
    id: str
    modality: Modality
    expected: tuple[str, ...]
    ranked: tuple[str, ...]
    latency_ms: float
    follow_up: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvalReport:
    overall: Metrics
    by_modality: dict[str, Metrics]
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


def evaluate(
    cases: Sequence[EvalCase],
    search: Callable[[EvalCase], RetrievalResult],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Runs `search` on every answerable case (non-empty `expected`) and scores the doc rankings."""
    results: list[CaseResult] = []
    notes: set[str] = set()
    dense = True
    scored = [c for c in cases if c.expected]
    for i, case in enumerate(scored):
        started = time.perf_counter()
        result = search(case)
        elapsed = (time.perf_counter() - started) * 1000
        dense = dense and result.dense
        notes.update(result.notes)
        results.append(
            CaseResult(
                case.id, case.modality, case.expected, tuple(result.doc_ids()), elapsed, bool(case.history)
            )
        )
        if progress:
            progress(i + 1, len(scored))
    overall = score([r.ranked for r in results], [r.expected for r in results])
    by_modality: dict[str, Metrics] = {}
    for modality in MODALITIES:
        subset = [r for r in results if r.modality == modality]
        if subset:
            by_modality[modality] = score([r.ranked for r in subset], [r.expected for r in subset])
    latencies = [r.latency_ms for r in results]
    return EvalReport(
        overall=overall,
        by_modality=by_modality,
        latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95),
        cases=tuple(results),
        dense=dense,
        notes=tuple(sorted(notes)),
    )


def format_table(report: EvalReport) -> str:
    rows = [("overall", report.overall)] + sorted(report.by_modality.items())
    lines = [f"{'slice':<10} {'n':>5} {'hit@1':>7} {'hit@5':>7} {'mrr':>7}"]
    for name, m in rows:
        lines.append(f"{name:<10} {m.n:>5} {m.hit_at_1:>7.3f} {m.hit_at_5:>7.3f} {m.mrr:>7.3f}")
    lines.append(f"latency ms: p50 {report.latency_p50_ms:.1f}  p95 {report.latency_p95_ms:.1f}")
    lines.append("dense retrieval: " + ("on" if report.dense else "OFF (full-text only)"))
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)
