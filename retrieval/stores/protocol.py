"""The `VectorStore` role: chunks with dense vectors and full-text (BM25) search, searched hybridly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from core.errors import InputError
from core.types import Hit, Record, SearchFilter
from retrieval.fusion import FusionWeights


@dataclass(frozen=True)
class DenseQuery:
    """One dense request: a query vector, the source name it is reported under (e.g. `dense:image`) and
    the vector field it searches: `dense` (the shared ImageBind space) or `text_dense` (the text embedder)."""

    name: str
    vector: np.ndarray
    field: str = "dense"


@runtime_checkable
class VectorStore(Protocol):
    """A collection of chunks: id, doc_id, chunk_id, modality, text, source, metadata, dense + BM25 sparse.

    `open()` connects and creates the collection if needed (safe to call twice); `close()` releases
    it. `hybrid_search` fuses every dense request and the BM25 request (when `text` is non-empty)
    by `fusion` (normalised scores or weighted RRF, a weight per source; default plain RRF); each returned
    `Hit.sources` holds the rank and score every source gave that hit (key `bm25` for full text,
    the `DenseQuery.name` for dense requests).
    """

    dim: int
    rebuilt: bool  # open() replaced an outdated collection: its chunks are gone, re-ingest everything

    def open(self) -> None: ...

    def close(self) -> None: ...

    def upsert(self, records: Sequence[Record]) -> None: ...

    def delete_docs(self, doc_ids: Sequence[str]) -> None: ...

    def delete_ids(self, ids: Sequence[str]) -> None:
        """Deletes chunks by primary key (`Chunk.id`); unknown ids are ignored. Cheaper than
        `delete_docs` where the caller knows the ids (the manifest does)."""
        ...

    def flush(self) -> None:
        """Makes finished writes durable and fast to search (called once after an ingestion run)."""
        ...

    def count(self) -> int: ...

    def doc_ids(self) -> set[str]: ...

    def dense_populated(self, field: str = "dense") -> bool:
        """True when every stored chunk has a real vector in `field` (`dense`, the shared space, or
        `text_dense`, the text embedder's); an empty store counts as populated."""
        ...

    def first_chunks(self, doc_ids: Sequence[str]) -> list[Hit]:
        """The first chunk of each given document (score 0, empty sources), in the order asked."""
        ...

    def document_chunks(self, doc_ids: Sequence[str]) -> list[Hit]:
        """Every chunk of the given documents (score 0, no sources), by document as asked, then chunk_id."""
        ...

    def hybrid_search(
        self,
        text: str | None,
        dense: Sequence[DenseQuery],
        top_k: int,
        search_filter: SearchFilter | None = None,
        fusion: FusionWeights | None = None,
    ) -> list[Hit]: ...


def check_hybrid_request(dense: Sequence[DenseQuery], top_k: int) -> None:
    """What every store's `hybrid_search` refuses: top_k below 1, dense query names repeated or 'bm25'."""
    if top_k < 1:
        raise InputError(f"top_k must be >= 1, got {top_k}")
    names = [q.name for q in dense]
    if len(set(names)) != len(names) or "bm25" in names:
        raise InputError(f"dense query names must be unique and not 'bm25', got {names}")
