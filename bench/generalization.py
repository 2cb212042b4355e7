"""Generalisation benchmark: retrieval, follow-ups and abstention on knowledge nobody here wrote.

Sets (built by `bench/generalization_data.py` from `../shared/eval`, split dev/test by `--seed`):
Bitext one-answer FAQ pages (typed questions from other rows), generic follow-ups after a Bitext
question, abstention over in-scope Bitext and out-of-scope questions, the ABCD guidelines as a KB (with
its own abstention set: its questions and the same out-of-scope ones);
plus the sample KB's typed questions (`data/eval/queries.jsonl`, the product's own set, unsplit).
Every case runs through the conversation engine as `supportbot eval` runs it (extractive answers,
no ImageBind), once per mode:

* `before`: the behaviour before issue 10 — no text embedder, plain RRF (every source weight 1),
  no carry-over of earlier questions, no reading of misspellings, abstention on term coverage only;
* `after`: the defaults (text embedder, weights chosen on dev, carry-over, the default abstention
  thresholds), except that the Bitext KB's abstention is calibrated as `supportbot calibrate` does it,
  on the *dev* split's in-scope and out-of-scope questions (plus the bundled general ones), before the
  split asked is scored; `--no-calibration` keeps the default thresholds there too.

    python bench/generalization.py [--split test|dev] [--per-intent 6] [--seed 13] [--tune]
                                   [--text-embedder DIR]

`--text-embedder DIR` runs `after` (and `--tune`) with another local sentence-transformers model
instead of the bundled one; `before` never has a text embedder.

`--tune` (dev only) grid-searches the fusion weights and abstention thresholds and prints the best.
On this 2-core machine a test run takes a few minutes (162 typed, 54 follow-up, 182 abstention,
~30 ABCD, ~50 ABCD abstention and 60 sample-KB cases per mode).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.calibrate_cmd import calibrate
from app.commands import replay_case
from app.runtime import open_runtime
from bench import generalization_data as data
from chatbot.engine import ChatEngine
from core.config import Settings
from core.types import SourceScore
from retrieval.evaluation import CaseOutcome, EvalCase, EvalReport, load_cases
from retrieval.evaluation import evaluate as run_eval

REPO = Path(__file__).resolve().parent.parent
BEFORE = (
    "fusion.method=rrf",
    "fusion.bm25=1",
    "fusion.sentence=1",
    "fusion.shared=1",
    "fusion.graph=1",
    "fusion.graph_new=1",
    "carry.enabled=false",
    "abstention.use_similarity=false",
    "retrieval.spelling=false",
)
MODES: dict[str, dict[str, Any]] = {
    "before": {"text_embedder": "none", "tuning": BEFORE},
    "after": {},
}


def _outcome(
    engine: ChatEngine, case: EvalCase, features: dict[str, tuple[float, float, float, bool]]
) -> CaseOutcome:
    result = replay_case(engine, case)
    trace = result.trace.to_dict()
    retrieval, verdict = trace["retrieval"], trace["abstention"]
    hits = retrieval["hits"]
    features[case.id] = (  # what abstention weighed: coverage, similarity, unknown-word share, model rule
        float(verdict["coverage"]),
        float(verdict["similarity"]),
        float(verdict["unknown_share"]),
        bool(verdict["abstain"]) and verdict["kind"] != "out_of_scope",  # refused before the threshold
    )
    features[f"hits:{case.id}"] = [  # type: ignore[assignment]
        (
            h["doc_id"],
            h["modality"],
            {n: SourceScore(int(s["rank"]), float(s["score"])) for n, s in h["sources"].items()},
        )
        for h in hits
    ]
    return CaseOutcome(
        ranked=tuple(h["doc_id"] for h in hits),
        dense=retrieval["dense"],
        abstained=result.abstained,
        cited=tuple(c.doc_id for c in result.citations),
    )


def _summary(report: EvalReport) -> dict[str, Any]:
    judged = [c for c in report.cases if c.answerable is not None and c.abstained is not None]
    outside = [c for c in judged if not c.answerable]
    inside = [c for c in judged if c.answerable]
    out: dict[str, Any] = {"n": len(report.cases), **report.overall.to_dict()}
    out["follow_up_hit@1"] = report.by_turn["follow_up"].hit_at_1 if report.by_turn["follow_up"].n else None
    if judged:
        out["abstention_accuracy"] = round(
            sum(c.abstained == (not c.answerable) for c in judged) / len(judged), 4
        )
        out["false_answer"] = (
            round(sum(not c.abstained for c in outside) / len(outside), 4) if outside else 0.0
        )
        out["false_refusal"] = (
            round(sum(bool(c.abstained) for c in inside) / len(inside), 4) if inside else 0.0
        )
    out["p95_ms"] = report.latency_p95_ms
    return out


def mode_settings(
    data_dir: Path, mode: str, extra: Sequence[str], text_embedder: str | None = None
) -> Settings:
    values = dict(MODES[mode])
    if text_embedder is not None and mode == "after":
        values["text_embedder"] = text_embedder
    tuning = tuple(values.pop("tuning", ())) + tuple(extra)
    return Settings(
        data_dir=data_dir,
        model_dir=data_dir / "no-models",  # measured without ImageBind/T5, as the README's figures are
        allow_missing_models=True,
        generator="extractive",
        tuning=tuning,
        **values,
    )


def run_kb(
    kb: Path,
    sets: Sequence[tuple[str, Path]],
    settings: Settings,
    visit: Callable[[ChatEngine, str, list[EvalCase], dict[str, Any]], None] | None = None,
    calibrate_on: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Ingests `kb` once, calibrates its abstention on `calibrate_on` (the dev split's questions, as
    `supportbot calibrate` does), then runs each named case file through one engine."""
    results: dict[str, dict[str, Any]] = {}
    with open_runtime(settings, rebuild_outdated=True) as runtime:
        runtime.ingest(kb, progress=False)
    if calibrate_on is not None:
        fitted = calibrate(settings, calibrate_on)
        results["calibration"] = {"thresholds": fitted.summary(), "dropped": list(fitted.dropped)}
    with open_runtime(settings) as runtime:
        engine = runtime.engine()
        for name, path in sets:
            cases = load_cases(path)
            features: dict[str, Any] = {}
            report = run_eval(cases, lambda c, f=features: _outcome(engine, c, f))  # type: ignore[misc]
            results[name] = _summary(report)
            if visit is not None:
                visit(engine, name, cases, features)
    return results


def build(
    root: Path, split: str, per_intent: int, seed: int, tune: bool = False
) -> list[tuple[Path, list[tuple[str, Path]]]]:
    """Every KB with its case files for `split`; `tune` adds the sample KB's near-domain scope probes
    (`data/eval/near_scope.jsonl`: questions close to the KB's products that it does not answer, and
    paraphrases it does), which the abstention thresholds must also get right."""
    out: list[tuple[Path, list[tuple[str, Path]]]] = []
    for kb, sets in (data.bitext(root, split, per_intent, seed), data.abcd(root, split, seed)):
        files = [
            (s.name, data.write_cases(root / f"{s.name.replace(' ', '_')}.jsonl", s.cases)) for s in sets
        ]
        out.append((kb, files))
    sample = [
        json.loads(line) for line in (REPO / "data/eval/queries.jsonl").read_text().splitlines() if line
    ]
    typed = [c for c in sample if not c.get("image") and not c.get("audio") and not c.get("history")]
    sample_sets = [("sample KB typed", data.write_cases(root / "sample.jsonl", typed))]
    if tune:
        sample_sets.append(("sample KB near scope", REPO / "data" / "eval" / "near_scope.jsonl"))
    out.append((REPO / "data" / "kb", sample_sets))
    return out


def calibration_sets(root: Path, per_intent: int, seed: int) -> dict[str, Path]:
    """KB name -> the dev split's in-scope and out-of-scope questions its abstention is calibrated on
    (the pages are the same in both splits; the sample KB keeps the default thresholds)."""
    out: dict[str, Path] = {}
    for kb, sets in (
        data.bitext(root / "calibration", "dev", per_intent, seed),
        data.abcd(root / "calibration", "dev", seed),
    ):
        scope = next(s for s in sets if "abstention" in s.name)
        out[kb.name] = data.write_cases(root / "calibration" / f"{kb.name}-scope.jsonl", scope.cases)
    return out


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    keys = ("n", "hit@1", "hit@5", "mrr", "follow_up_hit@1", "abstention_accuracy", "false_answer", "p95_ms")
    lines = [f"{'set':<20} {'mode':<7} " + " ".join(f"{k:>10}" for k in keys)]
    names = list(next(iter(results.values())))
    for name in names:
        for mode, by_set in results.items():
            row = by_set.get(name, {})
            cells = [row.get(k) for k in keys]
            lines.append(
                f"{name:<20} {mode:<7} "
                + " ".join(
                    f"{'-':>10}" if v is None else f"{v:>10.3f}" if isinstance(v, float) else f"{v:>10}"
                    for v in cells
                )
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["dev", "test"], default="test")
    parser.add_argument("--per-intent", type=int, default=6, help="typed questions per Bitext intent")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--modes", default="before,after")
    parser.add_argument(
        "--set", dest="extra", action="append", default=[], help="SECTION.KEY=VALUE for 'after'"
    )
    parser.add_argument(
        "--text-embedder",
        default=None,
        help="'after' with this local sentence-transformers directory as the text embedder",
    )
    parser.add_argument("--tune", action="store_true", help="dev split: grid-search weights and thresholds")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON results here")
    parser.add_argument(
        "--no-calibration",
        action="store_true",
        help="'after' with the default abstention thresholds on every KB (no per-KB calibration)",
    )
    args = parser.parse_args(argv)
    if not data.BITEXT_CSV.is_file() or not (data.ABCD_DIR / "guidelines.json").is_file():
        print(f"outside eval data not found under {data.SHARED} (the team's ../shared/eval)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-generalization-") as tmp:
        root = Path(tmp)
        kbs = build(root, "dev" if args.tune else args.split, args.per_intent, args.seed, args.tune)
        if args.tune:
            from bench.generalization_tune import tune

            tune(
                kbs,
                lambda i, extra: mode_settings(root / f"tune-{i}", "after", extra, args.text_embedder),
                run_kb,
                args.out,
            )
            return 0
        results: dict[str, dict[str, dict[str, Any]]] = {}
        calibration = {} if args.no_calibration else calibration_sets(root, args.per_intent, args.seed)
        for mode in args.modes.split(","):
            results[mode] = {}
            for i, (kb, sets) in enumerate(kbs):
                extra = args.extra if mode == "after" else ()
                on = calibration.get(kb.name) if mode == "after" else None
                found = run_kb(
                    kb,
                    sets,
                    mode_settings(root / f"{mode}-{i}", mode, extra, args.text_embedder),
                    calibrate_on=on,
                )
                if "calibration" in found:
                    print(f"{kb.name} abstention calibrated on the dev split: {found.pop('calibration')}")
                results[mode].update(found)
    print(f"split {args.split}, seed {args.seed}, {time.perf_counter() - started:.0f} s")
    print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
