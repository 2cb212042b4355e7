"""FaissDenseIndex on its own (no Milvus): exact answers, filters, replacement, deletes, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import StoreError
from core.types import SearchFilter
from retrieval.stores import dense_index
from retrieval.stores.dense_index import DenseRows, FaissDenseIndex

DIM = 16
N = 400


def _data(n: int = N, seed: int = 0) -> tuple[np.ndarray, DenseRows]:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    rows = DenseRows(
        ids=[f"pk-{i}" for i in range(n)],
        vectors=vectors,
        doc_ids=[f"doc-{i // 4}" for i in range(n)],
        modalities=["image" if i % 5 == 0 else "text" for i in range(n)],
        products=[None if i % 3 == 0 else f"prod-{i % 3}" for i in range(n)],
    )
    return vectors, rows


def _exact(vectors: np.ndarray, rows: DenseRows, query: np.ndarray, k: int, keep: list[bool]) -> list[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ (query / np.linalg.norm(query))
    order = sorted((i for i in range(len(keep)) if keep[i]), key=lambda i: (-scores[i], rows.ids[i]))
    return [rows.ids[i] for i in order[:k]]


@pytest.fixture(params=[4096, 0], ids=["exact-scan", "hnsw"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> FaissDenseIndex:
    idx = FaissDenseIndex(tmp_path / "dense.npz", DIM, exact_max=request.param)
    idx.open()
    return idx


def test_nearest_rows_match_a_brute_force_search(index: FaissDenseIndex) -> None:
    vectors, rows = _data()
    index.add(rows)
    assert index.count() == N
    queries = np.random.default_rng(1).standard_normal((20, DIM)).astype(np.float32)
    for q in queries:
        found = index.search(q, 10)
        assert [pk for pk, _ in found] == _exact(vectors, rows, q, 10, [True] * N)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        assert -1.0 - 1e-5 <= found[-1][1] <= found[0][1] <= 1.0 + 1e-5


def test_filters_are_honoured_exactly(index: FaissDenseIndex) -> None:
    vectors, rows = _data()
    index.add(rows)
    q = np.random.default_rng(2).standard_normal(DIM).astype(np.float32)
    cases = [
        (SearchFilter(modalities=("image",)), [m == "image" for m in rows.modalities]),
        (SearchFilter(doc_ids=("doc-3", "doc-7", "nope")), [d in ("doc-3", "doc-7") for d in rows.doc_ids]),
        (SearchFilter(products=("prod-1",)), [p == "prod-1" for p in rows.products]),
        (
            SearchFilter(modalities=("text",), products=("prod-2", "prod-1")),
            [m == "text" and p is not None for m, p in zip(rows.modalities, rows.products, strict=True)],
        ),
        (SearchFilter(doc_ids=("nope",)), [False] * N),
    ]
    for flt, keep in cases:
        assert [pk for pk, _ in index.search(q, 10, flt)] == _exact(vectors, rows, q, 10, keep), flt


def test_replacing_and_deleting_rows(index: FaissDenseIndex) -> None:
    vectors, rows = _data()
    index.add(rows)
    target = np.zeros(DIM, dtype=np.float32)
    target[3] = 1.0
    index.add(DenseRows(["pk-5"], target[None, :], ["doc-1"], ["text"], ["prod-2"]))
    assert index.count() == N
    assert index.search(target, 1) == [("pk-5", pytest.approx(1.0, abs=1e-5))]
    assert index.search(target, 1, SearchFilter(modalities=("image",)))[0][0] != "pk-5"  # pk-5 is text now
    index.delete_ids(["pk-5", "pk-9", "unknown"])
    index.delete_docs(["doc-0", "unknown"])  # pk-0..pk-3
    assert index.count() == N - 6
    gone = {"pk-0", "pk-1", "pk-2", "pk-3", "pk-5", "pk-9"}
    keep = [pk not in gone for pk in rows.ids]
    for q in np.random.default_rng(3).standard_normal((10, DIM)).astype(np.float32):
        assert [pk for pk, _ in index.search(q, 15)] == _exact(vectors, rows, q, 15, keep)


def test_saved_index_loads_back_and_a_marked_one_does_not(tmp_path: Path) -> None:
    vectors, rows = _data()
    path = tmp_path / "sub" / "dense.npz"
    index = FaissDenseIndex(path, DIM)
    index.open()
    index.add(rows)
    index.delete_ids(["pk-1"])
    q = vectors[7]
    before = index.search(q, 5, SearchFilter(products=("prod-1",)))
    index.close()
    assert path.exists() and not path.with_name("dense.npz.dirty").exists()
    again = FaissDenseIndex(path, DIM)
    again.open()
    assert again.loaded_clean and again.count() == N - 1
    assert again.search(q, 5, SearchFilter(products=("prod-1",))) == before
    again.delete_ids(["pk-2"])  # changed, not saved: a crash now leaves the marker
    assert path.with_name("dense.npz.dirty").exists()
    stale = FaissDenseIndex(path, DIM)
    stale.open()
    assert not stale.loaded_clean and stale.count() == 0  # the store rebuilds it from the collection


def test_compaction_drops_tombstones_on_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dense_index, "_COMPACT_MIN_DEAD", 10)
    vectors, rows = _data()
    index = FaissDenseIndex(tmp_path / "dense.npz", DIM, exact_max=0)
    index.open()
    index.add(rows)
    index.delete_ids(rows.ids[:300])
    q = vectors[390]
    before = index.search(q, 10)
    index.save()
    assert index._dead == 0 and index._hnsw.ntotal == N - 300
    assert index.search(q, 10) == before
    assert before[0] == ("pk-390", pytest.approx(1.0, abs=1e-5))


def test_bad_vectors_are_refused(index: FaissDenseIndex) -> None:
    with pytest.raises(StoreError, match="16-dim"):
        index.add(DenseRows(["a"], np.ones((1, 8), dtype=np.float32), ["d"], ["text"], [None]))
    with pytest.raises(StoreError, match="all zeros"):
        index.search(np.zeros(DIM, dtype=np.float32), 3)
    unopened = FaissDenseIndex(Path("unused.npz"), DIM)
    with pytest.raises(StoreError, match="not open"):
        unopened.search(np.ones(DIM, dtype=np.float32), 3)
