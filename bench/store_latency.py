"""Benchmark: Milvus (Lite by default) write throughput and hybrid-search latency at N chunks.

Writes N synthetic chunks (random unit 1024-d vectors, support-like text drawn from a small
vocabulary) through `MilvusStore.upsert`, then times `hybrid_search` with one dense request plus
BM25 (the search every turn makes) and BM25 alone, and prints p50/p95 per kind.

On Milvus Lite, full text is served by the tantivy index beside the data dir; the same searches are
then timed once more on Milvus Lite's own BM25 function (the engine used before, the baseline).

    python bench/store_latency.py [--n 10000] [--queries 200] [--baseline-queries 20] [--uri PATH_OR_URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from core.types import Chunk, Record
from retrieval.stores.milvus import MilvusStore
from retrieval.stores.protocol import DenseQuery

_VOCABULARY = """
router extender mesh camera plug hub firmware update error reset password wifi signal led blinking red amber
green beep refund warranty shipping invoice account login app version backhaul channel adapter power cable
microsd storage motion alert subscription cancel order return label pairing zigbee offline slow speed
"""
WORDS = _VOCABULARY.split()


def synthetic(n: int, dim: int, seed: int) -> list[Record]:
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(60)) + f" E-{rng.randint(10, 99)}"
        chunk = Chunk(f"doc-{i // 4}.md", i % 4, "text", text, text[:200], f"doc-{i // 4}.md")
        records.append(Record(chunk, vectors[i]))
    return records


def percentiles(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument(
        "--baseline-queries", type=int, default=20, help="queries timed on Milvus Lite's own BM25 (0: skip)"
    )
    parser.add_argument(
        "--uri", default=None, help="a Milvus server URI (default: Milvus Lite in a temp dir)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        uri = args.uri or str(Path(tmp) / "milvus.db")
        store = MilvusStore(uri, collection="bench_latency", dim=args.dim, timeout_s=600)
        store.open()
        records = synthetic(args.n, args.dim, seed=1)
        started = time.perf_counter()
        for i in range(0, len(records), 1000):
            store.upsert(records[i : i + 1000])
        store.flush()  # as ingestion does at the end of a run
        write_s = time.perf_counter() - started
        print(f"wrote {store.count()} chunks in {write_s:.1f} s ({args.n / write_s:.0f} chunks/s)")
        rng = random.Random(2)
        queries = [" ".join(rng.choice(WORDS) for _ in range(6)) for _ in range(args.queries)]
        vectors = [records[rng.randrange(args.n)].vector for _ in range(args.queries)]
        store.hybrid_search(queries[0], [DenseQuery("dense:text", vectors[0])], 10)  # warm-up
        time.sleep(5)  # let Milvus build its indexes in the background, as a served index would have
        engines = [("tantivy", store._fulltext)] if store._fulltext is not None else [("server", None)]
        if store._fulltext is not None and args.baseline_queries:
            engines.append(("Milvus Lite BM25 (baseline)", None))
        for engine, fulltext in engines:
            store._fulltext = fulltext  # None on Lite: Milvus Lite's own BM25 function, as before
            n_queries = args.baseline_queries if engine.endswith("(baseline)") else len(queries)
            for label, use_dense in (("hybrid (dense + BM25, RRF)", True), ("BM25 only", False)):
                timings = []
                for text, vector in list(zip(queries, vectors, strict=True))[:n_queries]:
                    dense = [DenseQuery("dense:text", vector)] if use_dense and vector is not None else []
                    started = time.perf_counter()
                    store.hybrid_search(text, dense, 10)
                    timings.append((time.perf_counter() - started) * 1000)
                print(f"{label:<28} {engine:<28} over {args.n} chunks: {percentiles(timings)}", flush=True)
        store._fulltext = engines[0][1]
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
