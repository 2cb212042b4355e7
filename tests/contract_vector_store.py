"""Reusable contract tests every `VectorStore` backend must pass.

Use it by subclassing in a `test_*.py` file and providing a `store` fixture that yields an OPEN,
EMPTY store of dimension `VectorStoreContract.DIM` with dense search enabled:

    class TestMyStoreContract(VectorStoreContract):
        @pytest.fixture
        def store(self, tmp_path): ...

The corpus is tiny and deterministic: each record's dense vector is a distinct one-hot vector, so
dense nearest neighbours are exact, and texts share few words, so BM25 rankings are unambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from core import textnorm
from core.types import Chunk, Hit, Modality, Record, SearchFilter
from retrieval.stores.protocol import DenseQuery, VectorStore

DIM = 8
RRF_K = 60
QUOTED_DOC = 'manuals/O\'Brien "Pro" – café\\naïve 日本.md'
QUOTED_PRODUCT = 'Acme "Pro" 5\' ünïcode'

# doc_id, chunk_id, modality, text, product, one-hot index (None: no dense vector)
_CORPUS: tuple[tuple[str, int, Modality, str, str, int | None], ...] = (
    ("router.md", 0, "text", "How to reset the router password to factory defaults", "routerx", 0),
    ("router.md", 1, "text", "Router firmware update guide with step by step screenshots", "routerx", 1),
    ("printer.md", 0, "text", "Fix a paper jam in the printer tray", "printjet", 2),
    ("battery.md", 0, "text", "Battery does not charge overnight", "phoneone", 3),
    ("router-back.png", 0, "image", "Photo of the router back panel with its ports", "routerx", 4),
    ("beeping.wav", 0, "audio", "Recording of a customer describing a beeping printer", "printjet", 5),
    (QUOTED_DOC, 0, "text", "Unicode café résumé guide for the espresso machine", QUOTED_PRODUCT, 6),
)


def one_hot(index: int, dim: int = DIM) -> np.ndarray:
    vec = np.zeros(dim, dtype=np.float32)
    vec[index] = 1.0
    return vec


def make_record(
    doc_id: str,
    chunk_id: int,
    modality: Modality,
    text: str,
    product: str,
    hot: int | None,
    dim: int = DIM,
) -> Record:
    chunk = Chunk(
        doc_id=doc_id,
        chunk_id=chunk_id,
        modality=modality,
        text=text,
        dense_text=text[:60],
        source=f"kb/{doc_id}",
        title=f"Title of {doc_id}",
        media_path=f"kb/{doc_id}" if modality != "text" else None,
        metadata={"product": product},
    )
    return Record(chunk=chunk, vector=None if hot is None else one_hot(hot, dim))


def corpus_records(dim: int = DIM) -> list[Record]:
    return [make_record(*row, dim=dim) for row in _CORPUS]


def ids_of(hits: Sequence[Hit]) -> list[tuple[str, int]]:
    return [(h.doc_id, h.chunk_id) for h in hits]


class VectorStoreContract:
    """The behaviour `retrieval.stores.protocol.VectorStore` promises; subclasses supply `store`."""

    DIM = DIM

    @pytest.fixture
    def store(self) -> VectorStore:
        raise NotImplementedError("subclasses provide an open, empty store of dimension DIM")

    @pytest.fixture
    def loaded(self, store: VectorStore) -> VectorStore:
        store.upsert(corpus_records(self.DIM))
        return store

    def test_is_a_vector_store(self, store: VectorStore) -> None:
        assert isinstance(store, VectorStore)
        assert store.dim == self.DIM
        assert store.count() == 0
        assert store.doc_ids() == set()

    def test_upsert_count_and_doc_ids(self, loaded: VectorStore) -> None:
        assert loaded.count() == len(_CORPUS)
        assert loaded.doc_ids() == {row[0] for row in _CORPUS}

    def test_open_twice_is_harmless(self, loaded: VectorStore) -> None:
        loaded.open()
        assert loaded.count() == len(_CORPUS)

    def test_flush_keeps_everything_searchable_and_is_repeatable(self, loaded: VectorStore) -> None:
        loaded.flush()
        loaded.flush()
        assert loaded.count() == len(_CORPUS)
        assert ids_of(loaded.hybrid_search("paper jam", [], top_k=1)) == [("printer.md", 0)]

    def test_first_chunks_in_the_order_asked(self, loaded: VectorStore) -> None:
        hits = loaded.first_chunks(["router.md", "nope.md", "printer.md"])
        assert [(h.doc_id, h.chunk_id) for h in hits] == [("router.md", 0), ("printer.md", 0)]
        assert all(h.sources == {} for h in hits)

    def test_document_chunks_whole_documents_in_order(self, loaded: VectorStore) -> None:
        hits = loaded.document_chunks(["printer.md", "nope.md", "router.md", QUOTED_DOC])
        assert [(h.doc_id, h.chunk_id) for h in hits] == [
            ("printer.md", 0),
            ("router.md", 0),
            ("router.md", 1),
            (QUOTED_DOC, 0),
        ]
        assert all(h.sources == {} and h.score == 0.0 for h in hits)
        assert loaded.document_chunks([]) == []

    def test_upsert_replaces_same_chunk(self, loaded: VectorStore) -> None:
        loaded.upsert(
            [make_record("battery.md", 0, "text", "Battery swelling warning", "phoneone", 3, self.DIM)]
        )
        assert loaded.count() == len(_CORPUS)
        hits = loaded.hybrid_search("swelling", [], top_k=3)
        assert ids_of(hits)[:1] == [("battery.md", 0)]
        assert not loaded.hybrid_search("overnight", [], top_k=3)

    def test_bm25_ranks_matching_text_first(self, loaded: VectorStore) -> None:
        hits = loaded.hybrid_search("paper jam", [], top_k=3)
        assert ids_of(hits)[0] == ("printer.md", 0)
        top = hits[0]
        assert set(top.sources) == {"bm25"}
        assert top.sources["bm25"].rank == 1
        assert top.sources["bm25"].score > 0
        # A word in one chunk only: that chunk alone matches.
        assert ids_of(loaded.hybrid_search("firmware", [], top_k=5)) == [("router.md", 1)]

    def test_bm25_scores_decrease_with_rank(self, loaded: VectorStore) -> None:
        hits = loaded.hybrid_search("router printer", [], top_k=5)
        ranks = [h.sources["bm25"].rank for h in hits]
        scores = [h.sources["bm25"].score for h in hits]
        assert ranks == list(range(1, len(hits) + 1))
        assert scores == sorted(scores, reverse=True)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_dense_nearest_neighbour(self, loaded: VectorStore) -> None:
        hits = loaded.hybrid_search(None, [DenseQuery("dense:text", one_hot(2, self.DIM))], top_k=3)
        assert ids_of(hits)[0] == ("printer.md", 0)
        assert hits[0].sources["dense:text"].rank == 1
        assert hits[0].sources["dense:text"].score == pytest.approx(1.0, abs=1e-4)
        assert "bm25" not in hits[0].sources
        assert len(hits) == 3

    def test_hit_carries_the_stored_fields(self, loaded: VectorStore) -> None:
        hit = loaded.hybrid_search(None, [DenseQuery("dense:image", one_hot(4, self.DIM))], top_k=1)[0]
        assert (hit.doc_id, hit.chunk_id, hit.modality) == ("router-back.png", 0, "image")
        assert hit.text == "Photo of the router back panel with its ports"
        assert hit.source == "kb/router-back.png"
        assert hit.metadata["product"] == "routerx"
        assert hit.metadata["title"] == "Title of router-back.png"
        assert hit.id == make_record("router-back.png", 0, "image", "", "", 4).chunk.id

    def test_hits_carry_the_index_terms_of_their_text(self, loaded: VectorStore) -> None:
        """Stemmed once at ingestion, so abstention need not stem every hit again on each turn."""
        hits = loaded.hybrid_search(textnorm.normalise("router password"), [], top_k=3)
        assert hits
        for hit in hits:
            assert hit.terms == textnorm.normalise(hit.text)
        for hit in loaded.document_chunks(["router.md"]) + loaded.first_chunks(["printer.md"]):
            assert hit.terms == textnorm.normalise(hit.text)

    def test_hybrid_fuses_and_reports_every_source(self, loaded: VectorStore) -> None:
        queries = [
            DenseQuery("dense:text", one_hot(0, self.DIM)),
            DenseQuery("dense:image", one_hot(4, self.DIM)),
        ]
        hits = loaded.hybrid_search("router", queries, top_k=4)
        by_id = {(h.doc_id, h.chunk_id): h for h in hits}
        reset = by_id[("router.md", 0)]
        assert reset.sources["dense:text"].rank == 1
        assert "bm25" in reset.sources
        photo = by_id[("router-back.png", 0)]
        assert photo.sources["dense:image"].rank == 1
        assert "bm25" in photo.sources
        for hit in hits:
            assert hit.sources, "every fused hit names at least one source"
            rrf = sum(1.0 / (RRF_K + s.rank) for s in hit.sources.values())
            assert hit.score == pytest.approx(rrf, rel=1e-3)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_top_k_is_respected(self, loaded: VectorStore) -> None:
        assert len(loaded.hybrid_search(None, [DenseQuery("d", one_hot(0, self.DIM))], top_k=2)) == 2
        assert len(loaded.hybrid_search("router", [DenseQuery("d", one_hot(0, self.DIM))], top_k=1)) == 1

    def test_nothing_to_search_gives_no_hits(self, loaded: VectorStore) -> None:
        assert loaded.hybrid_search(None, [], top_k=5) == []
        assert loaded.hybrid_search("", [], top_k=5) == []
        assert loaded.hybrid_search("   ", [], top_k=5) == []
        assert loaded.hybrid_search("zzzunknownword", [], top_k=5) == []

    def test_filter_by_modality(self, loaded: VectorStore) -> None:
        flt = SearchFilter(modalities=("image", "audio"))
        hits = loaded.hybrid_search("router printer", [DenseQuery("d", one_hot(0, self.DIM))], 10, flt)
        assert {h.modality for h in hits} <= {"image", "audio"}
        assert set(ids_of(hits)) == {("router-back.png", 0), ("beeping.wav", 0)}

    def test_filter_by_doc_ids(self, loaded: VectorStore) -> None:
        flt = SearchFilter(doc_ids=("router.md",))
        hits = loaded.hybrid_search("printer router", [DenseQuery("d", one_hot(2, self.DIM))], 10, flt)
        assert {h.doc_id for h in hits} == {"router.md"}

    def test_filter_by_product(self, loaded: VectorStore) -> None:
        flt = SearchFilter(products=("printjet", "phoneone"))
        hits = loaded.hybrid_search(None, [DenseQuery("d", one_hot(0, self.DIM))], 10, flt)
        assert {h.doc_id for h in hits} == {"printer.md", "beeping.wav", "battery.md"}

    def test_filters_combine(self, loaded: VectorStore) -> None:
        flt = SearchFilter(modalities=("text",), products=("routerx",))
        hits = loaded.hybrid_search("router", [DenseQuery("d", one_hot(4, self.DIM))], 10, flt)
        assert set(ids_of(hits)) == {("router.md", 0), ("router.md", 1)}

    def test_filter_values_with_quotes_and_unicode(self, loaded: VectorStore) -> None:
        query = [DenseQuery("d", one_hot(0, self.DIM))]
        by_doc = loaded.hybrid_search("guide", query, 10, SearchFilter(doc_ids=(QUOTED_DOC,)))
        assert ids_of(by_doc) == [(QUOTED_DOC, 0)]
        by_product = loaded.hybrid_search("guide", query, 10, SearchFilter(products=(QUOTED_PRODUCT,)))
        assert ids_of(by_product) == [(QUOTED_DOC, 0)]
        injection = 'x" or doc_id != "'
        assert loaded.hybrid_search("guide", query, 10, SearchFilter(doc_ids=(injection,))) == []

    def test_delete_docs(self, loaded: VectorStore) -> None:
        loaded.delete_docs(["router.md", QUOTED_DOC, "not-there.md"])
        assert loaded.count() == len(_CORPUS) - 3
        assert loaded.doc_ids() == {row[0] for row in _CORPUS} - {"router.md", QUOTED_DOC}
        hits = loaded.hybrid_search("router guide", [DenseQuery("d", one_hot(0, self.DIM))], 10)
        assert not {"router.md", QUOTED_DOC} & {h.doc_id for h in hits}
        loaded.delete_docs([])
        assert loaded.count() == len(_CORPUS) - 3

    def test_delete_ids(self, loaded: VectorStore) -> None:
        router_1 = corpus_records(self.DIM)[1].chunk.id
        quoted = corpus_records(self.DIM)[-1].chunk.id
        loaded.delete_ids([router_1, quoted, "no-such-id"])
        assert loaded.count() == len(_CORPUS) - 2
        assert loaded.doc_ids() == {row[0] for row in _CORPUS} - {QUOTED_DOC}
        hits = loaded.hybrid_search("router firmware guide", [DenseQuery("d", one_hot(1, self.DIM))], 10)
        assert ("router.md", 1) not in ids_of(hits) and ("router.md", 0) in ids_of(hits)
        loaded.delete_ids([])
        assert loaded.count() == len(_CORPUS) - 2

    def test_records_without_vectors_are_found_by_text_only(self, store: VectorStore) -> None:
        store.upsert(corpus_records(self.DIM))
        store.upsert([make_record("novec.md", 0, "text", "Toaster smoke alarm", "toastit", None, self.DIM)])
        assert store.count() == len(_CORPUS) + 1
        assert ids_of(store.hybrid_search("toaster", [], top_k=3)) == [("novec.md", 0)]
        dense_hits = store.hybrid_search(None, [DenseQuery("d", one_hot(0, self.DIM))], top_k=20)
        assert "novec.md" not in {h.doc_id for h in dense_hits}
        assert len(dense_hits) == len(_CORPUS)
