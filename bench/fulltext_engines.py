"""Benchmark: embedded full-text (BM25) engines side by side at 10k / 100k (/1M) chunks.

Every engine indexes the same synthetic chunks (60 index terms each, drawn from a 40k-word Zipf
vocabulary, as `core.textnorm.normalise` would leave them) and answers the same 6-term OR queries
for the top 20. Each (engine, size) runs in its own process so memory is its own; per cell it
prints the build rate, query p50/p95, the resident memory the index added (this
process only: milvus-lite 2.5 serves from a separate process), and the cost of an
incremental update (1 % of the chunks rewritten and 1 % deleted by id, then searchable).

Engines:
- `milvus-lite-3` : `MilvusStore` on Milvus Lite 3.2.2 (the BM25 function the product uses now);
- `milvus-lite-2.5`: the same store on milvus-lite 2.5.x's native engine, when `--ml25 DIR` names a
  `pip install --target DIR milvus-lite==2.5.1` (pymilvus 3 drives it);
- `fts5`          : SQLite FTS5 (standard library), one table, `bm25()` ranking, WAL journal;
- `tantivy`       : tantivy's official Python bindings, whitespace tokenizer, one writer thread;
- `bm25s`         : bm25s sparse-matrix BM25 (in memory; an update rebuilds the index).

    python bench/fulltext_engines.py [--sizes 10000 100000] [--engines ...] [--queries 200]
        [--ml25 /tmp/ml25] [--max-milvus 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

VOCAB = 40_000
TERMS_PER_CHUNK = 60
TOP_K = 20
ENGINES = ("milvus-lite-3", "milvus-lite-2.5", "fts5", "tantivy", "bm25s")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def word(i: int) -> str:
    out = ""
    i += 26 * 27  # at least three letters
    while i:
        i, r = divmod(i, 26)
        out += _LETTERS[r]
    return out


def corpus(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, VOCAB + 1) ** 1.05
    ids = rng.choice(VOCAB, size=(n, TERMS_PER_CHUNK), p=p / p.sum())
    words = [word(i) for i in range(VOCAB)]
    return [" ".join(words[i] for i in row) for row in ids]


def queries(count: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, VOCAB + 1) ** 1.05
    p[:30] = 0  # the most common terms behave like stop words
    ids = rng.choice(VOCAB, size=(count, 6), p=p / p.sum())
    return [[word(i) for i in row] for row in ids]


def rss_mib() -> float:
    """Resident memory now (not the peak: building the synthetic corpus costs more than some indexes)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


# ---- engines: build(texts), search(terms) -> ids, update(replace: {id: text}, delete: [id]) ----
class Fts5:
    def __init__(self, tmp: Path) -> None:
        self.db = sqlite3.connect(tmp / "fts.db", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE VIRTUAL TABLE fts USING fts5(terms, tokenize=\"unicode61 tokenchars '.'\")")

    def build(self, texts: list[str]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO fts(rowid, terms) VALUES (?, ?)", enumerate(texts))
        self.db.execute("INSERT INTO fts(fts) VALUES ('optimize')")

    def search(self, terms: list[str]) -> list[int]:
        match = " OR ".join(f'"{t}"' for t in terms)
        sql = "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ?"
        return [r[0] for r in self.db.execute(sql, (match, TOP_K))]

    def update(self, replace: dict[int, str], delete: list[int]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM fts WHERE rowid = ?", [(i,) for i in [*replace, *delete]])
            self.db.executemany("INSERT INTO fts(rowid, terms) VALUES (?, ?)", replace.items())


class Tantivy:
    def __init__(self, tmp: Path) -> None:
        import tantivy

        self.t = tantivy
        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("pk", stored=True, indexed=True, fast=True)
        builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
        self.index = tantivy.Index(builder.build(), path=str(tmp))
        self.writer = self.index.writer(heap_size=64_000_000, num_threads=1)

    def build(self, texts: list[str]) -> None:
        for i, text in enumerate(texts):
            self.writer.add_document(self.t.Document(pk=i, terms=text))
        self._commit()

    def _commit(self) -> None:
        self.writer.commit()
        self.writer.wait_merging_threads()
        self.writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, terms: list[str]) -> list[int]:
        query = self.index.parse_query(" ".join(terms), ["terms"])
        hits = self.searcher.search(query, TOP_K).hits
        return [self.searcher.doc(addr)["pk"][0] for _, addr in hits]

    def update(self, replace: dict[int, str], delete: list[int]) -> None:
        for i in [*replace, *delete]:
            self.writer.delete_documents_by_term("pk", i)
        for i, text in replace.items():
            self.writer.add_document(self.t.Document(pk=i, terms=text))
        self._commit()


class Bm25s:
    def __init__(self, tmp: Path) -> None:
        import bm25s

        self.bm25s = bm25s
        self.texts: dict[int, str] = {}

    def build(self, texts: list[str]) -> None:
        self.texts = dict(enumerate(texts))
        self._index()

    def _index(self) -> None:
        self.ids = list(self.texts)
        self.retriever = self.bm25s.BM25()
        self.retriever.index([t.split() for t in self.texts.values()], show_progress=False)

    def search(self, terms: list[str]) -> list[int]:
        # bm25s wants known tokens only; the vocab lookup is part of its query cost
        vocab = self.retriever.vocab_dict
        tokens = [t for t in terms if t in vocab]
        if not tokens:
            return []
        docs, _ = self.retriever.retrieve([tokens], k=TOP_K, show_progress=False, n_threads=1)
        return [self.ids[int(d)] for d in docs[0]]

    def update(self, replace: dict[int, str], delete: list[int]) -> None:
        for i in delete:
            self.texts.pop(i, None)
        self.texts.update(replace)
        self._index()


class Milvus:
    def __init__(self, tmp: Path) -> None:
        from retrieval.stores.milvus import MilvusStore

        self.store = MilvusStore(str(tmp / "m.db"), collection="bench_fts", dim=8, timeout_s=600)
        self.store.open()

    def _records(self, items: list[tuple[int, str]]) -> list[Any]:
        from core.types import Chunk, Record

        return [Record(Chunk(f"d{i}", 0, "text", t, "", "x"), None) for i, t in items]

    def build(self, texts: list[str]) -> None:
        records = self._records(list(enumerate(texts)))
        for start in range(0, len(records), 2000):
            self.store.upsert(records[start : start + 2000])
        self.store.flush()
        time.sleep(3)  # let it build its indexes, as a served KB would have

    def search(self, terms: list[str]) -> list[int]:
        return [int(h.doc_id[1:]) for h in self.store.hybrid_search(" ".join(terms), [], TOP_K)]

    def update(self, replace: dict[int, str], delete: list[int]) -> None:
        self.store.delete_docs([f"d{i}" for i in delete])
        self.store.upsert(self._records(list(replace.items())))
        self.store.flush()


class Milvus25:
    """milvus-lite 2.5.x's native engine through pymilvus 3's MilvusClient: the product's layout (BM25
    function on a terms field), except a FLAT dense index (2.5's local mode has no HNSW)."""

    def __init__(self, tmp: Path) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        self.client = MilvusClient(str(tmp / "m.db"))
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        analyzer = {"tokenizer": "whitespace"}
        schema.add_field(
            "terms", DataType.VARCHAR, max_length=16384, enable_analyzer=True, analyzer_params=analyzer
        )
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=8)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function("bm25", FunctionType.BM25, ["terms"], ["sparse"]))
        index = self.client.prepare_index_params()
        index.add_index("dense", index_type="FLAT", metric_type="COSINE")
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection("bench_fts", schema=schema, index_params=index)

    def _rows(self, items: list[tuple[int, str]]) -> list[dict[str, Any]]:
        return [{"id": i, "terms": t, "dense": [1.0] + [0.0] * 7} for i, t in items]

    def build(self, texts: list[str]) -> None:
        rows = self._rows(list(enumerate(texts)))
        for start in range(0, len(rows), 2000):
            self.client.insert("bench_fts", rows[start : start + 2000])
        self.client.flush("bench_fts")
        time.sleep(3)

    def search(self, terms: list[str]) -> list[int]:
        res = self.client.search(
            "bench_fts",
            data=[" ".join(terms)],
            anns_field="sparse",
            limit=TOP_K,
            search_params={"metric_type": "BM25"},
            consistency_level="Strong",
        )
        return [int(h["id"]) for h in res[0]]

    def update(self, replace: dict[int, str], delete: list[int]) -> None:
        self.client.delete("bench_fts", ids=delete)
        self.client.upsert("bench_fts", self._rows(list(replace.items())))
        self.client.flush("bench_fts")


FACTORIES: dict[str, Callable[[Path], Any]] = {
    "milvus-lite-3": Milvus,
    "milvus-lite-2.5": Milvus25,
    "fts5": Fts5,
    "tantivy": Tantivy,
    "bm25s": Bm25s,
}


def worker(engine: str, n: int, n_queries: int) -> dict[str, float]:
    texts = corpus(n, seed=1)
    qs = queries(n_queries, seed=2)
    base = rss_mib()
    with tempfile.TemporaryDirectory(prefix=f"bench-fts-{engine}-") as tmp:
        index = FACTORIES[engine](Path(tmp))
        started = time.perf_counter()
        index.build(texts)
        build_s = time.perf_counter() - started
        index.search(qs[0])  # warm-up
        timings = []
        for q in qs:
            t0 = time.perf_counter()
            index.search(q)
            timings.append((time.perf_counter() - t0) * 1000)
        rng = np.random.default_rng(3)
        touched = rng.choice(n, size=max(2, n // 50), replace=False)
        half = len(touched) // 2
        replace = {int(i): texts[int(touched[-1 - k])] for k, i in enumerate(touched[:half])}
        delete = [int(i) for i in touched[half:]]
        started = time.perf_counter()
        index.update(replace, delete)
        found = index.search(texts[int(touched[-1])].split()[:8])
        update_ms = (time.perf_counter() - started) * 1000
        ok = int(touched[0]) in found and not set(delete) & set(found)
        disk = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file()) / 2**20
    q = statistics.quantiles(timings, n=100, method="inclusive") if len(timings) > 1 else timings * 99
    return {
        "build_per_s": n / build_s,
        "p50": q[49],
        "p95": q[94],
        "rss_mib": rss_mib() - base,
        "disk_mib": disk,
        "update_ms": update_ms,
        "update_ok": float(ok),
    }


def run_cell(engine: str, n: int, n_queries: int, ml25: str | None) -> dict[str, float] | str:
    env = dict(os.environ)
    if engine == "milvus-lite-2.5":
        if not ml25:
            return "skipped: no --ml25 dir"
        env["PYTHONPATH"] = os.pathsep.join([ml25, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, __file__, "--worker", engine, str(n), str(n_queries)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return f"failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
    return dict(json.loads(lines[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--milvus-queries", type=int, default=20, help="queries for the slow Milvus Lite 3")
    parser.add_argument("--max-milvus", type=int, default=100_000, help="largest size run on Milvus engines")
    parser.add_argument("--ml25", default=None, help="a --target dir holding milvus-lite 2.5.x")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        engine, n, nq = args.worker
        print(json.dumps(worker(engine, int(n), int(nq))))
        return 0
    header = f"{'engine':<16} {'chunks':>8} {'build/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'RSS MiB':>8}"
    print(header + f" {'disk MiB':>8} {'update ms':>9} {'update ok':>9}")
    for n in args.sizes:
        for engine in args.engines:
            if engine.startswith("milvus") and n > args.max_milvus:
                print(f"{engine:<16} {n:>8} not run (over --max-milvus)")
                continue
            nq = args.milvus_queries if engine == "milvus-lite-3" else args.queries
            cell = run_cell(engine, n, nq, args.ml25)
            if isinstance(cell, str):
                print(f"{engine:<16} {n:>8} {cell}")
                continue
            print(
                f"{engine:<16} {n:>8} {cell['build_per_s']:>9,.0f} {cell['p50']:>8.2f} {cell['p95']:>8.2f} "
                f"{cell['rss_mib']:>8.0f} {cell['disk_mib']:>8.0f} {cell['update_ms']:>9.0f} "
                f"{'yes' if cell['update_ok'] else 'NO':>9}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
