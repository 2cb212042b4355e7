"""Calibrating the abstention threshold: retrieval confidence vs. "is this question answerable?".

Ingests the sample KB into a temporary Milvus Lite data dir (dense retrieval only when the ImageBind
weights are present; `--allow-missing-models` behaviour otherwise), runs every case of the eval
files through the conversation engine (history turns first, as `supportbot eval` does) with the
extractive generator and an abstention policy that never abstains on confidence, and records each
case's retrieval confidence (`chatbot.abstention`) with its `answerable` label. Then, for each
threshold from 0.10 to 0.90, it prints:

    accuracy       share of cases where "confidence < threshold" agrees with "not answerable"
    false-abstain  share of answerable cases that would be abstained on
    false-answer   share of out-of-scope cases that would be answered
    e2e accuracy   the same as accuracy, counting the extractive generator's own abstentions too

and picks the threshold with the best accuracy whose false-answer rate is at most `--max-false-answer`
(ties: the lowest such threshold, so fewer answerable questions are handed over). Voice notes,
screenshots and the unreliable-reading rules take part as in the engine (a case the engine abstains
on for another reason, e.g. nothing retrieved, has confidence 0).

    python bench/calibrate_abstention.py [--queries F.jsonl ...] [--asr-model bundled-tiny.en]
        [--cases] [--out report.json]

Default files: data/eval/queries.jsonl and, when present, data/eval/multimodal_queries.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.commands import replay_case  # noqa: E402
from app.runtime import open_runtime  # noqa: E402
from chatbot.abstention import AbstentionPolicy  # noqa: E402
from chatbot.engine import ChatEngine, EngineOptions  # noqa: E402
from chatbot.generators.composer import ComposerGenerator  # noqa: E402
from core.config import Settings  # noqa: E402
from retrieval.evaluation import EvalCase, load_cases  # noqa: E402

EVAL = REPO / "data" / "eval"
DEFAULT_FILES = (EVAL / "queries.jsonl", EVAL / "multimodal_queries.jsonl")
THRESHOLDS = tuple(round(0.10 + 0.05 * i, 2) for i in range(17))


@dataclass(frozen=True)
class Observation:
    """One case: its label, the engine's retrieval confidence, and whether the generator abstained."""

    id: str
    answerable: bool
    confidence: float
    generator_abstained: bool
    reason: str


@dataclass(frozen=True)
class Row:
    threshold: float
    accuracy: float
    false_abstain: float
    false_answer: float
    e2e_accuracy: float

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def observe(engine: ChatEngine, case: EvalCase) -> Observation:
    """Runs one case as a fresh conversation; the engine's policy must never abstain on confidence."""
    result = replay_case(engine, case)
    trace = result.trace
    return Observation(
        case.id, bool(case.answerable), trace.retrieval.confidence, result.abstained, trace.answer.reason
    )


def table(observations: list[Observation], thresholds: tuple[float, ...] = THRESHOLDS) -> list[Row]:
    answerable = [o for o in observations if o.answerable]
    out_of_scope = [o for o in observations if not o.answerable]
    rows = []
    for t in thresholds:
        correct = sum((o.confidence < t) != o.answerable for o in observations)
        e2e = sum((o.confidence < t or o.generator_abstained) != o.answerable for o in observations)
        rows.append(
            Row(
                t,
                round(correct / len(observations), 4),
                round(sum(o.confidence < t for o in answerable) / max(1, len(answerable)), 4),
                round(sum(o.confidence >= t for o in out_of_scope) / max(1, len(out_of_scope)), 4),
                round(e2e / len(observations), 4),
            )
        )
    return rows


def choose(rows: list[Row], max_false_answer: float) -> Row | None:
    allowed = [r for r in rows if r.false_answer <= max_false_answer]
    if not allowed:
        return None
    return max(allowed, key=lambda r: (r.accuracy, -r.threshold))


def format_table(rows: list[Row], chosen: Row | None) -> str:
    lines = [
        "| threshold | accuracy | false-abstain | false-answer | e2e accuracy (extractive) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = " **chosen**" if chosen is not None and r.threshold == chosen.threshold else ""
        lines.append(
            f"| {r.threshold:.2f}{mark} | {r.accuracy:.3f} | {r.false_abstain:.3f} | {r.false_answer:.3f} "
            f"| {r.e2e_accuracy:.3f} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    files = [Path(f) for f in args.queries] if args.queries else [f for f in DEFAULT_FILES if f.is_file()]
    cases: list[EvalCase] = []
    for path in files:
        cases += [c for c in load_cases(path) if c.answerable is not None]
    if not cases:
        raise SystemExit("no case has an `answerable` label")
    # Never abstain on retrieval confidence here: every case's confidence is wanted, the table applies
    # each threshold afterwards. The reading-confidence rules stay as the engine has them.
    policy = AbstentionPolicy(min_coverage=0.0, min_dense=0.0)
    with tempfile.TemporaryDirectory(prefix="calibrate-abstention-") as tmp:
        settings = Settings.from_env(
            data_dir=Path(tmp) / "data",
            allow_missing_models=True,
            generator="extractive",
            asr_model=args.asr_model or None,
            model_dir=args.model_dir,
        )
        with open_runtime(settings) as runtime:
            started = time.perf_counter()
            report = runtime.ingest(args.kb, progress=False)
            ingest_s = time.perf_counter() - started
            engine = runtime.engine(generator=ComposerGenerator(), options=EngineOptions(policy=policy))
            dense = engine.status().dense
            started = time.perf_counter()
            observations = [observe(engine, case) for case in cases]
            run_s = time.perf_counter() - started
    rows = table(observations)
    chosen = choose(rows, args.max_false_answer)
    return {
        "files": [str(f.relative_to(REPO) if f.is_relative_to(REPO) else f) for f in files],
        "ingest": report.summary(),
        "dense_retrieval": dense,
        "cases": len(observations),
        "answerable": sum(o.answerable for o in observations),
        "out_of_scope": sum(not o.answerable for o in observations),
        "seconds": {"ingest": round(ingest_s, 1), "cases": round(run_s, 1)},
        "max_false_answer": args.max_false_answer,
        "rows": [r.to_dict() for r in rows],
        "chosen": chosen.to_dict() if chosen else None,
        "observations": [o.__dict__ for o in observations],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kb", type=Path, default=REPO / "data" / "kb")
    parser.add_argument("--queries", nargs="*", default=None, help="eval JSONL files (default: see above)")
    parser.add_argument(
        "--asr-model",
        default="bundled-tiny.en",
        help="speech model for voice notes (default bundled-tiny.en from the dev extras; '' = configured)",
    )
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--max-false-answer", type=float, default=0.05
    )  # a confident wrong answer costs more than a handoff
    parser.add_argument("--cases", action="store_true", help="also list every case's confidence")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args()
    result = run(args)
    chosen = result["chosen"]
    dense = "on" if result["dense_retrieval"] else "OFF"
    seconds = result["seconds"]
    print(
        f"files: {', '.join(result['files'])}; {result['cases']} cases ({result['answerable']} answerable, "
        f"{result['out_of_scope']} out of scope); dense retrieval {dense}"
    )
    print(f"ingest: {result['ingest']} in {seconds['ingest']} s; cases in {seconds['cases']} s")
    if args.cases:
        for o in result["observations"]:
            label = "answerable" if o["answerable"] else "out-of-scope"
            print(f"  {o['id']:<10} {label:<12} confidence {o['confidence']:.3f}  {o['reason'][:70]}")
    print(format_table([Row(**r) for r in result["rows"]], Row(**chosen) if chosen else None))
    if chosen is None:
        print(f"no threshold keeps false answers <= {args.max_false_answer:.0%}")
    else:
        print(
            f"chosen min_coverage = {chosen['threshold']:.2f} (accuracy {chosen['accuracy']:.3f}, "
            f"false answers {chosen['false_answer']:.3f} <= {args.max_false_answer:.2f}, false abstentions "
            f"{chosen['false_abstain']:.3f})"
        )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
