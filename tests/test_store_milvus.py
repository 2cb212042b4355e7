"""MilvusStore against a real Milvus Lite in a temp dir: the VectorStore contract plus Milvus specifics.

One Lite data dir serves the whole module (starting one costs about a second); each contract test
gets its own collection state by deleting everything first.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import InputError, StoreError
from core.types import Record, SearchFilter
from retrieval.stores import filters
from retrieval.stores import milvus as milvus_module
from retrieval.stores.factory import make_store
from retrieval.stores.milvus import MilvusStore
from retrieval.stores.milvus_schema import TEXT_MAX_BYTES, truncate_utf8
from retrieval.stores.protocol import DenseQuery, VectorStore
from tests.contract_vector_store import DIM, VectorStoreContract, corpus_records, make_record, one_hot

pytestmark = pytest.mark.slow  # the Milvus Lite backend itself

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("lite") / "data" / "milvus.db")


@pytest.fixture(scope="module")
def shared_store(lite_uri: str) -> Iterator[MilvusStore]:
    store = MilvusStore(lite_uri, collection="contract", dim=DIM)
    store.open()
    yield store
    store.close()


def _clear(store: MilvusStore) -> MilvusStore:
    store.delete_docs(sorted(store.doc_ids()))
    assert store.count() == 0
    return store


class TestMilvusContract(VectorStoreContract):
    @pytest.fixture
    def store(self, shared_store: MilvusStore) -> MilvusStore:
        return _clear(shared_store)


# ---- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["plain", 'say "hi"', "it's", "back\\slash", "tab\tnew\nline\r", "日本語 café", "", '\\"']
)
def test_quote_round_trips_through_the_lite_parser(value: str) -> None:
    from milvus_lite.search.filter.tokens import tokenize

    tokens = tokenize(filters.quote(value))
    assert tokens[0].value == value
    assert filters.quote(value).startswith('"') and filters.quote(value).endswith('"')


def test_filter_expr_shapes() -> None:
    assert filters.filter_expr(None) == ""
    assert filters.filter_expr(SearchFilter()) == ""
    assert filters.filter_expr(SearchFilter(modalities=("text",))) == 'modality in ["text"]'
    expr = filters.filter_expr(SearchFilter(doc_ids=("a", "a", "b"), products=('p"1',)))
    assert expr == '(doc_id in ["a", "b"]) and ((metadata["product"] == "p\\"1"))'
    assert filters.batched(["a", "b", "a", "c"], 2) == [["a", "b"], ["c"]]


def test_truncate_utf8_never_splits_characters() -> None:
    text = "é" * TEXT_MAX_BYTES  # 2 bytes each
    cut = truncate_utf8(text, TEXT_MAX_BYTES)
    assert len(cut.encode("utf-8")) <= TEXT_MAX_BYTES
    assert cut == "é" * (TEXT_MAX_BYTES // 2)
    assert truncate_utf8("short", 10) == "short"
    assert len(truncate_utf8("a€b", 3).encode("utf-8")) <= 3


# ---- Milvus specifics on the shared Lite dir ------------------------------------------------------


def test_long_text_is_truncated_on_write(shared_store: MilvusStore) -> None:
    store = _clear(shared_store)
    long_text = "zebra " + "ü" * 20_000
    store.upsert([make_record("long.md", 0, "text", long_text, "p", 0)])
    hit = store.hybrid_search("zebra", [], top_k=1)[0]
    assert hit.doc_id == "long.md"
    assert hit.text.startswith("zebra ü")
    assert len(hit.text.encode("utf-8")) <= TEXT_MAX_BYTES


def test_dense_populated_tracks_placeholder_rows(shared_store: MilvusStore) -> None:
    store = _clear(shared_store)
    assert store.dense_populated()
    store.upsert(corpus_records())
    assert store.dense_populated()
    store.upsert([make_record("novec.md", 0, "text", "no vector here", "p", None)])
    assert not store.dense_populated()
    store.delete_docs(["novec.md"])
    assert store.dense_populated()


def test_bad_inputs_are_rejected(shared_store: MilvusStore) -> None:
    store = _clear(shared_store)
    with pytest.raises(StoreError, match="fresh --data-dir"):
        store.upsert([make_record("wrongdim.md", 0, "text", "x", "p", 0, dim=DIM + 1)])
    with pytest.raises(StoreError, match="dims"):
        store.hybrid_search("x", [DenseQuery("d", one_hot(0, DIM * 2))], top_k=3)
    with pytest.raises(InputError, match="unique"):
        store.hybrid_search("x", [DenseQuery("d", one_hot(0)), DenseQuery("d", one_hot(1))], top_k=3)
    with pytest.raises(InputError, match="top_k"):
        store.hybrid_search("x", [], top_k=0)
    assert store.count() == 0


def test_dim_mismatch_on_open(lite_uri: str, shared_store: MilvusStore) -> None:
    other = MilvusStore(lite_uri, collection="contract", dim=DIM * 2)
    with pytest.raises(StoreError, match=r"holds 8-dim vectors .*fresh --data-dir or re-ingest"):
        other.open()
    # The failed open must not have stopped the server the shared store still uses.
    assert shared_store.count() >= 0


def test_dense_disabled_mode(lite_uri: str, shared_store: MilvusStore) -> None:
    store = MilvusStore(lite_uri, collection="no_weights", dim=DIM, dense_enabled=False)
    store.open()
    try:
        records = [Record(chunk=r.chunk, vector=None) for r in corpus_records()]
        store.upsert(records)
        assert store.count() == len(records)
        assert not store.dense_populated()
        # Dense requests are skipped: BM25 alone ranks, and a dense-only query finds nothing.
        hits = store.hybrid_search("paper jam", [DenseQuery("dense:text", one_hot(2))], top_k=3)
        assert hits[0].doc_id == "printer.md"
        assert all(set(h.sources) == {"bm25"} for h in hits)
        assert store.hybrid_search(None, [DenseQuery("dense:text", one_hot(2))], top_k=3) == []
    finally:
        store.close()
    assert shared_store.count() >= 0  # closing a second store on the dir keeps the first one working


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = MilvusStore(str(tmp_path / "never.db"), dim=DIM)
    with pytest.raises(StoreError, match="not open"):
        store.count()
    store.close()  # closing an unopened store is harmless
    assert not (tmp_path / "never.db").exists(), "the constructor must not touch the disk"


def test_factory_builds_a_lite_store(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", collection="kb_x", milvus_timeout_s=3.0)
    store = make_store(settings, dim=DIM, dense_enabled=False)
    assert isinstance(store, MilvusStore) and isinstance(store, VectorStore)
    assert store.uri == str(tmp_path / "data" / "milvus.db")
    assert (store.collection, store.dim, store.dense_enabled) == ("kb_x", DIM, False)


@pytest.mark.slow
def test_reopen_keeps_the_data(tmp_path: Path) -> None:
    uri = str(tmp_path / "fresh" / "milvus.db")
    store = MilvusStore(uri, dim=DIM)
    store.open()
    store.upsert(corpus_records())
    store.open()  # safe twice
    store.close()
    assert Path(uri).is_dir()
    again = MilvusStore(uri, dim=DIM)
    again.open()
    try:
        assert again.count() == len(corpus_records())
        assert again.hybrid_search("firmware", [], top_k=1)[0].doc_id == "router.md"
        assert again.hybrid_search(None, [DenseQuery("d", one_hot(2))], top_k=1)[0].doc_id == "printer.md"
    finally:
        again.close()


@pytest.mark.slow
def test_second_process_gets_in_use_error(lite_uri: str, shared_store: MilvusStore) -> None:
    code = textwrap.dedent(
        f"""
        from core.errors import StoreError
        from retrieval.stores.milvus import MilvusStore
        try:
            MilvusStore({lite_uri!r}, collection="contract", dim={DIM}).open()
        except StoreError as exc:
            print("STORE_ERROR:", exc)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert "STORE_ERROR:" in proc.stdout, proc.stdout + proc.stderr
    assert "in use by another supportbot process" in proc.stdout
    assert "--data-dir" in proc.stdout
    assert shared_store.count() >= 0


def test_unreachable_server_fails_fast() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = MilvusStore(f"http://127.0.0.1:{port}", dim=DIM, timeout_s=2.0)
    started = time.monotonic()
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}.*server is running"):
        store.open()
    assert time.monotonic() - started < 10


def test_doc_ids_pages_past_one_query(shared_store: MilvusStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _clear(shared_store)
    store.upsert(corpus_records())
    # A page smaller than the corpus forces the iterator path used for KBs over 16384 chunks.
    monkeypatch.setattr(milvus_module, "_QUERY_PAGE", 2)
    assert store.doc_ids() == {r.chunk.doc_id for r in corpus_records()}


# ---- full text on Milvus Lite: the tantivy index beside the data dir --------------------------


def _bm25(store: MilvusStore, text: str, search_filter: SearchFilter | None = None) -> list[tuple[str, int]]:
    return [(h.doc_id, h.chunk_id) for h in store.hybrid_search(text, [], 10, search_filter)]


def _scores(store: MilvusStore, text: str) -> dict[tuple[str, int], float]:
    return {
        (h.doc_id, h.chunk_id): round(h.sources["bm25"].score, 3) for h in store.hybrid_search(text, [], 10)
    }


def test_lite_full_text_ranks_like_milvus_bm25_and_is_rebuilt_when_out_of_step(tmp_path: Path) -> None:
    import shutil

    from retrieval.stores.lite_fulltext import index_path

    uri = str(tmp_path / "data" / "milvus.db")
    store = MilvusStore(uri, collection="ft", dim=DIM)
    store.open()
    try:
        store.upsert(corpus_records())
        store.flush()
        queries = ["router guide", "printer paper jam", "café guide", "beeping printer recording"]
        ours = {q: _bm25(store, q) for q in queries}
        scores = {q: _scores(store, q) for q in queries}
        fulltext, store._fulltext = store._fulltext, None  # Milvus Lite's own BM25, for reference
        try:
            milvus = {q: _scores(store, q) for q in queries}
        finally:
            store._fulltext = fulltext
        # the same hits with the same BM25 scores, up to tantivy's 1-byte document-length norms
        assert all(scores.values()) and all(scores[q] == pytest.approx(milvus[q], rel=0.03) for q in queries)
        product = SearchFilter(products=("routerx",), modalities=("text",))
        assert _bm25(store, "router photo guide", product) == [("router.md", 1), ("router.md", 0)]
    finally:
        store.close()
    shutil.rmtree(index_path(uri, "ft"))
    again = MilvusStore(uri, collection="ft", dim=DIM)
    again.open()
    try:
        assert {q: _bm25(again, q) for q in queries} == ours
        again.delete_ids([corpus_records()[2].chunk.id])  # printer.md
        assert ("printer.md", 0) not in _bm25(again, "printer paper jam")
    finally:
        again.close()


# ---- dense search on Milvus Lite: the FAISS indexes beside the data dir -----------------------


def _dense_hits(store: MilvusStore, vector: object, flt: SearchFilter | None) -> list[tuple[str, float]]:
    hits = store.hybrid_search(None, [DenseQuery("d", vector)], 20, flt)  # type: ignore[arg-type]
    return [(h.id, round(h.sources["d"].score, 4)) for h in hits]


def _brute_force(records: list[Record], query: object, flt: SearchFilter) -> list[tuple[str, float]]:
    import numpy as np

    q = np.asarray(query) / np.linalg.norm(np.asarray(query))
    found = []
    for r in records:
        c = r.chunk
        if r.vector is not None and c.modality in flt.modalities and c.doc_id in flt.doc_ids:
            found.append((c.id, round(float(np.dot(r.vector, q) / np.linalg.norm(r.vector)), 4)))
    return sorted(found, key=lambda f: -f[1])[:20]


def test_lite_dense_index_answers_as_milvus_and_is_rebuilt_when_out_of_step(tmp_path: Path) -> None:
    import numpy as np

    from retrieval.stores.lite_dense import index_dir

    rng = np.random.default_rng(5)
    records = []
    for i in range(300):
        modality = ("text", "image", "audio")[i % 3]
        rec = make_record(f"doc-{i // 3}.md", i % 3, modality, f"chunk {i}", f"prod-{i % 4}", None)
        records.append(Record(rec.chunk, rng.standard_normal(DIM).astype(np.float32)))
    records.append(make_record("novec.md", 0, "text", "no vector", "prod-0", None))
    uri = str(tmp_path / "data" / "milvus.db")
    store = MilvusStore(uri, collection="dn", dim=DIM)
    store.open()
    queries = list(rng.standard_normal((6, DIM)).astype(np.float32))
    flts = [None, SearchFilter(modalities=("image",)), SearchFilter(products=("prod-1", "prod-2"))]
    flts.append(SearchFilter(doc_ids=("doc-4.md", "doc-9.md"), modalities=("text", "audio")))
    try:
        store.upsert(records)
        store.delete_ids([records[0].chunk.id])
        store.flush()
        assert store._dense is not None
        for index in store._dense.indexes.values():
            index.exact_max = 0  # the HNSW path, not the exact scan small collections get
        ours = {(i, j): _dense_hits(store, q, f) for i, q in enumerate(queries) for j, f in enumerate(flts)}
        dense, store._dense = store._dense, None  # Milvus Lite's own dense search, for reference
        try:
            milvus = {
                (i, j): _dense_hits(store, q, f) for i, q in enumerate(queries) for j, f in enumerate(flts)
            }
        finally:
            store._dense = dense
        # Milvus Lite's own dense search is exact on the FLAT index a Lite collection gets: the same hits,
        # also for a narrow filter (4 of 300 rows) where an HNSW walk alone would miss some.
        assert ours == milvus and all(ours.values())
        assert all(ours[i, 3] == _brute_force(records[1:], q, flts[3]) for i, q in enumerate(queries))
    finally:
        store.close()
    marker = index_dir(uri, "dn") / "dense.npz.dirty"
    marker.touch()  # as a process that stopped before saving leaves it
    again = MilvusStore(uri, collection="dn", dim=DIM)
    again.open()
    try:
        assert again._dense is not None and again._dense.indexes["dense"].count() == 299
        assert not marker.exists()
        assert {
            (i, j): _dense_hits(again, q, f) for i, q in enumerate(queries) for j, f in enumerate(flts)
        } == ours
        again.delete_docs(["doc-1.md"])
        hits = again.hybrid_search(None, [DenseQuery("d", records[4].vector)], 5)  # type: ignore[arg-type]
        assert "doc-1.md" not in {h.doc_id for h in hits}
    finally:
        again.close()
    from pymilvus import MilvusClient

    behind = MilvusClient(uri)  # a write the indexes never saw: the row count differs from the recorded one
    behind.delete("dn", ids=[records[10].chunk.id])
    behind.close()
    milvus_module.milvus_lite.release(uri)
    third = MilvusStore(uri, collection="dn", dim=DIM)
    third.open()
    try:
        assert third._dense is not None and third._dense.indexes["dense"].count() == 295
        hits = third.hybrid_search(None, [DenseQuery("d", records[10].vector)], 5)  # type: ignore[arg-type]
        assert records[10].chunk.id not in {h.id for h in hits}
        assert not third.dense_populated() and third.dense_populated("text_dense") is False
    finally:
        third.close()
