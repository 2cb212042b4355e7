"""`TantivyIndex`: the embedded full-text (BM25) index beside a Milvus Lite collection.

Milvus Lite 3.2.2 serves BM25 with a Python loop over its posting lists (`bench/fulltext_engines.py`:
p95 378 ms at 100k chunks, against 0.4 ms here), so on a Lite URI `MilvusStore` keeps its full text
in tantivy (official Python bindings) and Milvus holds the dense vectors and every shown field. The
index stores, per chunk: its primary key, doc_id, modality and product (for filters) and its index
terms (`core.textnorm.normalise` of the text, split on whitespace; BM25 k1 1.2, b 0.75).

Writes are buffered and committed before the next read and on `commit()`/`close()`: a commit is
atomic (a crash loses only uncommitted writes, which the ingestion manifest has not recorded yet,
so the next run writes them again). One writer per index dir; the Milvus Lite lock already
keeps a second process away.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import StoreError
from core.types import SearchFilter

_HEAP_BYTES = 48_000_000


@dataclass(frozen=True)
class FullTextRow:
    """What the full-text index holds for one chunk."""

    id: str
    doc_id: str
    modality: str
    product: str | None
    terms: str


class TantivyIndex:
    """A tantivy index in one directory; cheap constructor, `open()` creates or opens it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._index: Any = None
        self._writer: Any = None
        self._searcher: Any = None
        self._dirty = False

    def open(self) -> None:
        if self._index is not None:
            return
        import tantivy

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(_schema(), path=str(self.path))
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot open the full-text index {self.path}: {exc}; delete that folder and run "
                "`supportbot ingest` again (it is rebuilt from the store)"
            ) from exc
        self._searcher = self._index.searcher()

    def close(self) -> None:
        if self._index is None:
            return
        try:
            self.commit()
        finally:
            self._writer = None
            self._index = self._searcher = None

    def reset(self) -> None:
        """Deletes every document (the folder is removed and made again)."""
        self._writer = None
        self._index = self._searcher = None
        shutil.rmtree(self.path, ignore_errors=True)
        self.open()

    # ---- writes ------------------------------------------------------------------------------
    def upsert(self, rows: Sequence[FullTextRow]) -> None:
        import tantivy

        writer = self._require_writer()
        for row in rows:
            writer.delete_documents_by_term("id", row.id)
            doc = tantivy.Document(id=row.id, doc_id=row.doc_id, modality=row.modality, terms=row.terms)
            if row.product is not None:
                doc.add_text("product", row.product)
            writer.add_document(doc)
        self._dirty = self._dirty or bool(rows)

    def delete_ids(self, ids: Iterable[str]) -> None:
        self._delete("id", ids)

    def delete_docs(self, doc_ids: Iterable[str]) -> None:
        self._delete("doc_id", doc_ids)

    def _delete(self, field: str, values: Iterable[str]) -> None:
        writer = None
        for value in values:
            writer = writer or self._require_writer()
            writer.delete_documents_by_term(field, value)
            self._dirty = True

    def commit(self) -> None:
        """Makes buffered writes durable and searchable (atomic)."""
        if not self._dirty or self._writer is None:
            return
        self._writer.commit()
        self._writer.wait_merging_threads()  # the writer is spent after this; a new one is made on demand
        self._writer = None
        self._dirty = False
        self._index.reload()
        self._searcher = self._index.searcher()

    # ---- reads -------------------------------------------------------------------------------
    def count(self) -> int:
        self.commit()
        return int(self._require().num_docs)

    def search(
        self, terms: str, limit: int, search_filter: SearchFilter | None = None
    ) -> list[tuple[str, float]]:
        """(primary key, BM25 score) of the best `limit` chunks holding any of `terms`, best first."""
        import tantivy

        words = terms.split()
        if not words:
            return []
        searcher = self._require()
        schema = self._index.schema
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "terms", w)) for w in words]
        query = tantivy.Query.boolean_query(clauses)
        restriction = _filter_query(schema, search_filter)
        if restriction is not None:
            restriction = tantivy.Query.const_score_query(restriction, 0.0)  # filters do not score
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.Must, restriction)]
            )
        hits = searcher.search(query, limit).hits
        found = [(str(searcher.doc(address)["id"][0]), float(score)) for score, address in hits]
        return sorted(found, key=lambda f: (-f[1], f[0]))  # equal scores by id, whatever the segment order

    def _require(self) -> Any:
        if self._index is None:
            raise StoreError("the full-text index is not open; call open() first")
        self.commit()
        return self._searcher

    def _require_writer(self) -> Any:
        if self._index is None:
            raise StoreError("the full-text index is not open; call open() first")
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=_HEAP_BYTES, num_threads=1)
            except ValueError as exc:
                raise StoreError(
                    f"the full-text index {self.path} is in use by another process ({exc}); stop it first"
                ) from exc
        return self._writer


def _schema() -> Any:
    import tantivy

    builder = tantivy.SchemaBuilder()
    for name in ("id", "doc_id", "modality", "product"):
        builder.add_text_field(name, stored=name == "id", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("terms", tokenizer_name="whitespace", index_option="freq")
    return builder.build()


def _filter_query(schema: Any, search_filter: SearchFilter | None) -> Any:
    """Every non-empty filter list must match one of its values (the Milvus filter's meaning)."""
    import tantivy

    if search_filter is None or search_filter.empty:
        return None
    musts = []
    for field, values in (
        ("modality", search_filter.modalities),
        ("doc_id", search_filter.doc_ids),
        ("product", search_filter.products),
    ):
        if values:
            musts.append((tantivy.Occur.Must, tantivy.Query.term_set_query(schema, field, list(values))))
    return tantivy.Query.boolean_query(musts)
