"""Benchmark: the Milvus Lite sidecar indexes alone (FAISS dense + tantivy full text) at N chunks.

`bench/store_latency.py` times a turn's search through `MilvusStore` (the indexes plus the fetch of
the fused hits' fields from Milvus Lite); writing through the store runs at ~200 chunks/s on a busy
2-core machine, which puts 1M chunks out of reach there. This builds the same two indexes the store
keeps beside a Lite collection (`FaissDenseIndex`, `TantivyIndex`) directly from the same synthetic
chunks as `store_latency.py` (random unit vectors, 60-word texts, `core.textnorm` terms), then times
dense search, BM25 search and both fused by client RRF (the store's search, minus the fetch), and
the save and reload of the dense index.

    python bench/store_indexes.py [--n 1000000] [--dim 128] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.store_latency import WORDS, percentiles
from core import textnorm
from core.types import Chunk, SourceScore
from retrieval.fusion import FusionWeights, fuse
from retrieval.stores.dense_index import DenseRows, FaissDenseIndex
from retrieval.stores.fulltext import FullTextRow, TantivyIndex
from retrieval.stores.milvus_schema import MIN_SOURCE_LIMIT

_BATCH = 10_000


def build(n: int, dim: int, dense: FaissDenseIndex, text: TantivyIndex) -> np.ndarray:
    """Adds N synthetic chunks to both indexes; returns the vectors of the first 10,000 (queries)."""
    rng = random.Random(1)
    vectors_rng = np.random.default_rng(1)
    kept = np.zeros((0, dim), dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, n, _BATCH):
        count = min(_BATCH, n - start)
        vectors = vectors_rng.standard_normal((count, dim)).astype(np.float32)
        ids, docs, rows = [], [], []
        for i in range(start, start + count):
            words = " ".join(rng.choice(WORDS) for _ in range(60)) + f" E-{rng.randint(10, 99)}"
            chunk = Chunk(f"doc-{i // 4}.md", i % 4, "text", words, words[:200], f"doc-{i // 4}.md")
            ids.append(chunk.id)
            docs.append(chunk.doc_id)
            rows.append(FullTextRow(chunk.id, chunk.doc_id, "text", None, textnorm.normalise(words)))
        dense.add(DenseRows(ids, vectors, docs, ["text"] * count, [None] * count))
        text.upsert(rows)
        if kept.shape[0] < 10_000:
            kept = np.concatenate([kept, vectors[: 10_000 - kept.shape[0]]])
        if (start + count) % 100_000 == 0:
            print(f"  {start + count} chunks indexed, {time.perf_counter() - started:.0f} s", flush=True)
    text.commit()
    took = time.perf_counter() - started
    print(f"indexed {n} chunks in {took:.1f} s ({n / took:.0f} chunks/s)", flush=True)
    return kept


def ranks(found: list[tuple[str, float]]) -> dict[str, SourceScore]:
    return {pk: SourceScore(rank=rank, score=score) for rank, (pk, score) in enumerate(found, start=1)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-indexes-") as tmp:
        dense = FaissDenseIndex(Path(tmp) / "dense.npz", args.dim)
        text = TantivyIndex(Path(tmp) / "fulltext")
        dense.open()
        text.open()
        pool = build(args.n, args.dim, dense, text)
        rng = random.Random(2)
        queries = []
        for _ in range(args.queries):
            terms = textnorm.normalise(" ".join(rng.choice(WORDS) for _ in range(6)))
            queries.append((terms, pool[rng.randrange(len(pool))]))
        timings: dict[str, list[float]] = {
            "hybrid (dense + BM25, RRF)": [],
            "dense only": [],
            "BM25 only": [],
        }
        for terms, vector in queries:
            started = time.perf_counter()
            found = dense.search(vector, MIN_SOURCE_LIMIT)
            mid = time.perf_counter()
            hits = text.search(terms, MIN_SOURCE_LIMIT)
            end = time.perf_counter()
            fuse({"dense": ranks(found), "bm25": ranks(hits)}, FusionWeights.equal())
            timings["hybrid (dense + BM25, RRF)"].append((time.perf_counter() - started) * 1000)
            timings["dense only"].append((mid - started) * 1000)
            timings["BM25 only"].append((end - mid) * 1000)
        for label, values in timings.items():
            print(
                f"{label:<27} FAISS + tantivy, no fetch, {args.n} chunks: {percentiles(values)}", flush=True
            )
        started = time.perf_counter()
        dense.close()
        saved = time.perf_counter()
        again = FaissDenseIndex(Path(tmp) / "dense.npz", args.dim)
        again.open()
        print(f"dense index saved in {saved - started:.1f} s, loaded in {time.perf_counter() - saved:.1f} s")
        text.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
