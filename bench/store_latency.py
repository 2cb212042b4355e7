"""Benchmark: Milvus (Lite by default) write throughput and search latency at N chunks, side by side.

Writes N synthetic chunks (random unit vectors, support-like text drawn from a small vocabulary)
through `MilvusStore.upsert`, then times `hybrid_search` with one dense request plus BM25 (the
search every turn makes), dense alone and BM25 alone, and prints p50/p95 per kind.

On Milvus Lite, dense search is served by the FAISS index and full text by the tantivy index beside
the data dir; the same searches are then timed on the paths used before, in the same run: Milvus
Lite's own dense search with tantivy (the previous build), and optionally Milvus Lite's own dense
search and BM25 function (`--milvus-bm25-queries`). Last, it reopens the store (loading the saved
indexes) and times that.

    python bench/store_latency.py [--n 10000] [--dim 1024] [--queries 200] [--baseline-queries 20]
        [--milvus-bm25-queries 0] [--uri PATH_OR_URL]
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument(
        "--baseline-queries",
        type=int,
        default=20,
        help="queries timed on Milvus Lite's own dense search (with tantivy; 0: skip)",
    )
    parser.add_argument(
        "--milvus-bm25-queries",
        type=int,
        default=0,
        help="queries timed on Milvus Lite's own dense search and BM25 function (0: skip)",
    )
    parser.add_argument(
        "--uri", default=None, help="a Milvus server URI (default: Milvus Lite in a temp dir)"
    )
    return parser.parse_args()


def write(store: MilvusStore, records: list[Record]) -> None:
    started = time.perf_counter()
    for i in range(0, len(records), 1000):
        store.upsert(records[i : i + 1000])
        if (i + 1000) % 100_000 == 0:
            print(f"  {i + 1000} chunks written, {time.perf_counter() - started:.0f} s", flush=True)
    store.flush()  # as ingestion does at the end of a run
    write_s = time.perf_counter() - started
    print(
        f"wrote {store.count()} chunks in {write_s:.1f} s ({len(records) / write_s:.0f} chunks/s)", flush=True
    )


def time_searches(
    store: MilvusStore, queries: list[tuple[str, np.ndarray]], engine: str, kinds: tuple[str, ...]
) -> None:
    """p50/p95 of each kind of search (`hybrid`, `dense`, `bm25`) over `queries`."""
    for kind in kinds:
        timings = []
        for text, vector in queries:
            dense = [DenseQuery("dense:text", vector)] if kind != "bm25" else []
            started = time.perf_counter()
            store.hybrid_search(text if kind != "dense" else None, dense, 10)
            timings.append((time.perf_counter() - started) * 1000)
        label = {"hybrid": "hybrid (dense + BM25, RRF)", "dense": "dense only", "bm25": "BM25 only"}[kind]
        print(f"{label:<27} {engine:<40} {len(queries):>4} queries: {percentiles(timings)}", flush=True)


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        uri = args.uri or str(Path(tmp) / "milvus.db")
        store = MilvusStore(uri, collection="bench_latency", dim=args.dim, timeout_s=600)
        store.open()
        records = synthetic(args.n, args.dim, seed=1)
        write(store, records)
        rng = random.Random(2)
        queries = []
        for _ in range(args.queries):
            vector = records[rng.randrange(args.n)].vector
            assert vector is not None
            queries.append((" ".join(rng.choice(WORDS) for _ in range(6)), vector))
        store.hybrid_search(queries[0][0], [DenseQuery("dense:text", queries[0][1])], 10)  # warm-up
        time.sleep(5)  # let Milvus build its indexes in the background, as a served index would have
        lite = store._fulltext is not None
        dense, fulltext = store._dense, store._fulltext
        time_searches(store, queries, "FAISS + tantivy" if lite else "server", ("hybrid", "dense", "bm25"))
        if lite and args.baseline_queries:
            store._dense = None  # Milvus Lite's own dense search, as before
            time_searches(
                store,
                queries[: args.baseline_queries],
                "Milvus Lite dense + tantivy (before)",
                ("hybrid", "dense"),
            )
        if lite and args.milvus_bm25_queries:
            store._dense = store._fulltext = None
            engine = "Milvus Lite dense + Milvus Lite BM25"
            time_searches(store, queries[: args.milvus_bm25_queries], engine, ("hybrid",))
        store._dense, store._fulltext = dense, fulltext
        store.close()
        if lite:
            started = time.perf_counter()
            store.open()
            print(f"reopened (saved indexes loaded, counts checked) in {time.perf_counter() - started:.1f} s")
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
