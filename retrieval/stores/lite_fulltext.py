"""Full text for `MilvusStore` on a Milvus Lite URI: the tantivy index kept in step with the collection.

The index lives beside the Lite data dir (`<data_dir>/milvus-fulltext/<collection>/`). Every write
to the collection is mirrored; `open()` compares both counts and rebuilds the index from the
collection's `terms` field when they differ (a KB ingested before the index existed, a crash
between the two commits, a deleted folder), so the index never disagrees with the store for long.
On a Milvus server URI none of this runs: the server's own BM25 function serves full text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.types import SearchFilter, SourceScore
from retrieval.stores.fulltext import FullTextRow, TantivyIndex

log = logging.getLogger(__name__)
_REBUILD_BATCH = 1000


def index_path(uri: str, collection: str) -> Path:
    lite_dir = Path(uri)
    return lite_dir.with_name(f"{lite_dir.stem}-fulltext") / collection


def product_of(entity: Mapping[str, Any]) -> str | None:
    """The product a row's filter matches on (a string `metadata.product`, as the Milvus filter reads it)."""
    product = (entity.get("metadata") or {}).get("product")
    return product if isinstance(product, str) else None


def row_of(entity: Mapping[str, Any]) -> FullTextRow:
    """The full-text record of one collection row (written or read back)."""
    return FullTextRow(
        id=str(entity["id"]),
        doc_id=str(entity["doc_id"]),
        modality=str(entity["modality"]),
        product=product_of(entity),
        terms=str(entity.get("terms", "")),
    )


class LiteFullText:
    """The tantivy index of one Lite collection."""

    def __init__(self, uri: str, collection: str) -> None:
        self.index = TantivyIndex(index_path(uri, collection))
        self.collection = collection

    def open(self, client: Any, read_opts: dict[str, Any], stored: int) -> None:
        """Opens the index; rebuilds it from the collection when the counts differ."""
        self.index.open()
        if self.index.count() == stored:
            return
        log.warning("full-text index %s is out of step with the store: rebuilding it", self.index.path)
        self.index.reset()
        iterator = client.query_iterator(
            self.collection,
            batch_size=_REBUILD_BATCH,
            filter='id != ""',
            output_fields=["id", "doc_id", "modality", "metadata", "terms"],
            **read_opts,
        )
        try:
            while batch := iterator.next():
                self.index.upsert([row_of(r) for r in batch])
        finally:
            iterator.close()
        self.index.commit()

    def close(self) -> None:
        self.index.close()

    def search(self, terms: str, limit: int, search_filter: SearchFilter | None) -> dict[str, SourceScore]:
        """BM25 ranks and scores of the best `limit` chunks (the store fetches their entities)."""
        found = self.index.search(terms, limit, search_filter)
        return {pk: SourceScore(rank=rank, score=score) for rank, (pk, score) in enumerate(found, start=1)}

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.index.upsert([row_of(r) for r in rows])
