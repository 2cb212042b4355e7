"""Benchmark: ingestion cost per document as the KB grows, and the store's text write rate.

Builds synthetic KBs of 300-word Markdown documents (front matter naming one of 40 products and a
few entities, headings, error codes, versions: enough for the knowledge graph to learn and link a
real vocabulary), then ingests each KB from scratch through the product's `Ingestor` (Milvus Lite
in a temp dir + the `NetworkxGraph` sink, no embedder, no OCR), and prints, side by side for every
size: the mean cost per document and the cost per document over the last tenth of the run (the
marginal cost once the KB is large; flat means linear ingestion). It then re-ingests after editing
1 % of the documents (the incremental path: replaced chunks deleted by primary key).
Last, it times `MilvusStore.upsert` alone on 60-word text chunks without vectors (the write rate).

    python bench/ingest_scaling.py [--sizes 1000 5000] [--write-chunks 20000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from core.config import Limits
from core.types import Chunk, Record
from knowledge_graph.graph import NetworkxGraph
from retrieval.ingest import Ingestor
from retrieval.manifest import Manifest
from retrieval.stores.milvus import MilvusStore

_WORDS = [
    "router",
    "extender",
    "mesh",
    "camera",
    "plug",
    "hub",
    "firmware",
    "update",
    "error",
    "reset",
    "password",
    "wifi",
    "signal",
    "led",
    "blinking",
    "red",
    "amber",
    "green",
    "beep",
    "refund",
    "warranty",
    "shipping",
    "invoice",
    "account",
    "login",
    "app",
    "version",
    "backhaul",
    "channel",
    "adapter",
    "power",
    "cable",
    "microsd",
    "storage",
    "motion",
    "alert",
    "subscription",
    "cancel",
    "order",
    "return",
    "label",
    "pairing",
    "zigbee",
    "offline",
    "slow",
    "speed",
    "the",
    "a",
    "to",
    "and",
    "of",
    "when",
    "your",
    "device",
    "after",
    "before",
    "press",
    "hold",
    "button",
    "seconds",
    "until",
    "light",
    "turns",
    "solid",
    "check",
    "settings",
]
_KINDS = ["Router", "Extender", "Camera", "Plug", "Hub"]
PRODUCTS = [(f"{'XMCPH'[i % 5]}{100 + i * 7}", _KINDS[i % 5]) for i in range(40)]


def document(i: int, rng: random.Random, edit: int = 0) -> str:
    """One synthetic support article (~300 words) about one product."""
    code, kind = PRODUCTS[i % len(PRODUCTS)]
    error = f"E-{rng.randint(10, 60)}"
    other = PRODUCTS[rng.randrange(len(PRODUCTS))][0]
    head = (
        f"---\ntitle: {code} {kind} note {i}\nproduct: [{code}]\nentities: [{code} {kind}, {error}]\n"
        f"tags: [troubleshooting]\n---\n# {code} {kind} note {i}\n\n"
    )
    sections = []
    for s, heading in enumerate(("Symptoms", "How to fix it", "More help")):
        words = " ".join(rng.choice(_WORDS) for _ in range(95))
        extra = f" The {code} {kind} shows {error} on firmware v{rng.randint(1, 4)}.{s}.{edit}."
        sections.append(f"## {heading}\n\n{words}.{extra} See also the {other}.\n")
    return head + "\n".join(sections)


def write_kb(root: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        folder = root / f"part{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc{i:05d}.md").write_text(document(i, rng), encoding="utf-8")


class Timed:
    """A graph sink wrapper that stamps the time of every document update (for marginal cost)."""

    def __init__(self, graph: NetworkxGraph) -> None:
        self.graph = graph
        self.stamps: list[float] = []

    def upsert_document(self, doc_id: str, chunks: list[Chunk]) -> None:
        self.graph.upsert_document(doc_id, chunks)
        self.stamps.append(time.perf_counter())

    def remove_document(self, doc_id: str) -> None:
        self.graph.remove_document(doc_id)


def ingest_once(n: int, tmp: Path) -> tuple[float, float, float, int]:
    """(mean ms/doc, ms/doc over the last tenth, ms/doc re-ingesting 1 % edited, chunks)."""
    kb = tmp / f"kb{n}"
    write_kb(kb, n, seed=n)
    store = MilvusStore(str(tmp / f"store{n}.db"), collection="bench_ingest", dim=8, timeout_s=120)
    store.open()
    try:
        sink = Timed(NetworkxGraph())
        manifest = Manifest(tmp / f"manifest{n}.json")
        ingestor = Ingestor(store, manifest, None, Limits(), sinks=[sink], progress=False)
        started = time.perf_counter()
        report = ingestor.run(kb)
        total = time.perf_counter() - started
        tail = max(1, n // 10)
        marginal = (sink.stamps[-1] - sink.stamps[-1 - tail]) / tail
        rng = random.Random(7)
        edited = rng.sample(range(n), max(1, n // 100))
        for i in edited:
            path = kb / f"part{i // 500:03d}" / f"doc{i:05d}.md"
            path.write_text(document(i, random.Random(i), edit=1), encoding="utf-8")
        started = time.perf_counter()
        again = ingestor.run(kb)
        update = (time.perf_counter() - started) / max(1, again.updated)
    finally:
        store.close()
    return total / n * 1000, marginal * 1000, update * 1000, report.chunks_written


def write_rate(n: int, tmp: Path) -> float:
    rng = random.Random(3)
    records = []
    for i in range(n):
        text = " ".join(rng.choice(_WORDS) for _ in range(60)) + f" E-{rng.randint(10, 99)}"
        records.append(Record(Chunk(f"doc-{i // 4}.md", i % 4, "text", text, text[:200], "x"), None))
    store = MilvusStore(str(tmp / "write.db"), collection="bench_write", dim=1024, timeout_s=120)
    store.open()
    try:
        started = time.perf_counter()
        for start in range(0, n, 1000):
            store.upsert(records[start : start + 1000])
        store.flush()
        return n / (time.perf_counter() - started)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--write-chunks", type=int, default=20_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for n in args.sizes:
            mean, marginal, update, chunks = ingest_once(n, Path(tmp))
            rows.append((n, mean, marginal, update, chunks))
            print(f"  ingested {n} docs ({chunks} chunks)", flush=True)
        rate = write_rate(args.write_chunks, Path(tmp)) if args.write_chunks else 0.0
    print(f"\n{'docs':>6} {'chunks':>7} {'mean ms/doc':>12} {'last 10% ms/doc':>16} {'edit ms/doc':>12}")
    for n, mean, marginal, update, chunks in rows:
        print(f"{n:>6} {chunks:>7} {mean:>12.1f} {marginal:>16.1f} {update:>12.1f}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"\nper-doc cost at {last[0]} vs {first[0]} docs: mean {last[1] / first[1]:.2f}x, "
            f"last tenth {last[2] / first[2]:.2f}x (target <= 1.30x)"
        )
    if rate:
        print(f"store write rate, text chunks without vectors: {rate:,.0f} chunks/s (target >= 1,000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
