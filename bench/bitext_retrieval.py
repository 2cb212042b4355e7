"""Retrieval benchmark on real customer questions nobody on the team wrote (Bitext sample, CDLA-Sharing-1.0).

Builds a knowledge base of one FAQ document per intent from a training split of
`../shared/eval/bitext/customer_support_sample.csv` (its intent, category, a few example
questions and one agent answer), then asks held-out instructions as customer questions and
scores whether the right intent's document comes back (hit@1, hit@5, MRR), through the same
`supportbot eval` path users run. The data is read in place, never copied into the repository.

    python bench/bitext_retrieval.py [--csv PATH] [--per-intent-test 10] [--allow-missing-models]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from app.cli import main as supportbot

DEFAULT_CSV = (
    Path(__file__).resolve().parents[2] / "shared" / "eval" / "bitext" / "customer_support_sample.csv"
)


def build(csv_path: Path, out: Path, *, examples: int, per_intent_test: int, seed: int) -> tuple[Path, Path]:
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    by_intent: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_intent[row["intent"]].append(row)
    rng = random.Random(seed)
    kb = out / "kb"
    kb.mkdir(parents=True)
    cases = []
    for intent, items in sorted(by_intent.items()):
        rng.shuffle(items)
        test, train = items[:per_intent_test], items[per_intent_test:]
        title = intent.replace("_", " ")
        shown = "\n".join(f"- {r['instruction']}" for r in train[:examples])
        body = (
            f"---\ntitle: {title}\ntags: [{train[0]['category'].lower()}]\n---\n# {title.capitalize()}\n\n"
            f"Customers ask, for example:\n{shown}\n\n## Answer\n\n{train[0]['response']}\n"
        )
        (kb / f"{intent}.md").write_text(body, encoding="utf-8")
        for i, r in enumerate(test):
            cases.append({"id": f"{intent}-{i}", "text": r["instruction"], "expected": [f"{intent}.md"]})
    queries = out / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(c) for c in cases) + "\n", encoding="utf-8")
    return kb, queries


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--examples", type=int, default=8, help="example questions per intent document")
    parser.add_argument("--per-intent-test", type=int, default=10, help="held-out questions per intent")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--allow-missing-models", action="store_true")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    args = parser.parse_args()
    if not args.csv.is_file():
        print(f"bitext CSV not found at {args.csv} (it lives in the team's ../shared/eval)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-bitext-") as tmp:
        kb, queries = build(
            args.csv, Path(tmp), examples=args.examples, per_intent_test=args.per_intent_test, seed=args.seed
        )
        argv = ["eval", "--kb", str(kb), "--queries", str(queries)]
        if args.out:
            argv += ["--out", str(args.out)]
        if args.allow_missing_models:
            argv.append("--allow-missing-models")
        started = time.perf_counter()
        code = supportbot(argv)
        print(
            f"bench: {len(list(kb.iterdir()))} intent documents, total {time.perf_counter() - started:.1f} s"
        )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
