"""Multi-turn benchmark: does conversation context retrieve better than the last message alone?

Ingests the sample KB (`data/kb`) into a temporary data dir (Milvus Lite; without ImageBind weights its
cross-modal channel is OFF, so this measures the text embedder, BM25, the knowledge graph and the
carried questions of `chatbot.followups`) and runs every case of
`data/eval/conversations.jsonl` through the conversation engine two ways:

* `context`: the case's history turns (text, screenshots, voice notes) and then the final turn,
  in one session, exactly as `supportbot eval` does (`app.commands.run_case`);
* `last-message`: only the final turn, in a fresh session with no history.

It prints hit@1 / hit@5 / MRR for both, and with `--cases` each case's rank of its first
expected document in both modes, the resolved query and the top documents.

    python bench/conversations.py [--queries FILE.jsonl] [--kb DIR] [--cases] [--out R.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app.commands import replay_case, run_case
from app.runtime import open_runtime
from chatbot.engine import ChatEngine
from chatbot.turn_trace import TurnTrace
from core.config import Settings
from retrieval.evaluation import EvalCase, Metrics, load_cases, score

REPO = Path(__file__).resolve().parent.parent
DEFAULT_KB = REPO / "data" / "kb"
DEFAULT_QUERIES = REPO / "data" / "eval" / "conversations.jsonl"


def last_message(engine: ChatEngine, case: EvalCase) -> tuple[tuple[str, ...], TurnTrace]:
    """The final turn alone, in a fresh session: the ranked doc_ids and the turn's trace."""
    result = replay_case(engine, case, with_history=False)
    return tuple(result.trace.retrieval.doc_ids()), result.trace


def _rank(ranked: tuple[str, ...], expected: tuple[str, ...]) -> int | None:
    return next((i for i, d in enumerate(ranked, start=1) if d in expected), None)


def run(kb: Path, queries: Path, *, show_cases: bool) -> dict[str, Any]:
    cases = [c for c in load_cases(queries) if c.expected]
    with tempfile.TemporaryDirectory(prefix="bench-conversations-") as tmp:
        settings = Settings.from_env(
            data_dir=Path(tmp),
            allow_missing_models=True,
            generator="extractive",
            asr_model="bundled-tiny.en",
        )
        with open_runtime(settings) as runtime:
            started = time.perf_counter()
            report = runtime.ingest(kb, progress=False)
            print(f"ingest: {report.summary()} in {time.perf_counter() - started:.1f} s")
            engine = runtime.engine()
            rows: list[dict[str, Any]] = []
            for case in cases:
                outcome = run_case(engine, case)
                with_context = tuple(dict.fromkeys(outcome.ranked))
                alone, trace = last_message(engine, case)
                rows.append(
                    {
                        "id": case.id,
                        "expected": list(case.expected),
                        "context": list(with_context),
                        "last_message": list(alone),
                        "rank_context": _rank(with_context, case.expected),
                        "rank_last_message": _rank(alone, case.expected),
                        "last_message_query": trace.context.resolved_query,
                    }
                )
    expected = [tuple(r["expected"]) for r in rows]
    metrics: dict[str, Metrics] = {
        "context": score([r["context"] for r in rows], expected),
        "last-message": score([r["last_message"] for r in rows], expected),
    }
    if show_cases:
        for r in rows:
            ranks = f"context #{r['rank_context'] or '-':<3} last-message #{r['rank_last_message'] or '-':<3}"
            print(f"{r['id']:<9} {ranks} top: {', '.join(r['context'][:3])}")
    print(f"\n{'mode':<14} {'n':>3} {'hit@1':>7} {'hit@5':>7} {'MRR':>7}")
    for mode, m in metrics.items():
        print(f"{mode:<14} {m.n:>3} {m.hit_at_1:>7.3f} {m.hit_at_5:>7.3f} {m.mrr:>7.3f}")
    return {"metrics": {k: v.to_dict() for k, v in metrics.items()}, "cases": rows}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB)
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--cases", action="store_true", help="print every case's ranks in both modes")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args()
    if not args.kb.is_dir():
        print(f"knowledge base {args.kb} not found", file=sys.stderr)
        return 2
    started = time.perf_counter()
    result = run(args.kb, args.queries, show_cases=args.cases)
    elapsed = time.perf_counter() - started
    print(f"bench: total {elapsed:.1f} s (ImageBind's cross-modal channel OFF without its weights)")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
