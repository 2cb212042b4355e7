"""Dense search for `MilvusStore` on a Milvus Lite URI: a FAISS index per vector field, kept in step.

Each vector field (`dense`, `text_dense`) has its index beside the Lite data dir
(`<data_dir>/milvus-dense/<collection>/<field>.npz`, see `dense_index`), holding exactly the rows
whose `has_<field>` flag is true. Every write to the collection is mirrored; each save also records
the collection's row count (`state.json`). `open()` rebuilds an index from the collection when it
is missing, unreadable, marked as changed since its last save (a process that stopped before
`flush()`/`close()`), or when the collection's row count is not the one recorded. Searches
answer (primary key, cosine) per field; the store fetches the entities. On a Milvus server URI
none of this runs: the server searches its own HNSW indexes.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import StoreError
from core.types import SearchFilter, SourceScore
from retrieval.stores.dense_index import DenseRows, FaissDenseIndex
from retrieval.stores.lite_fulltext import product_of

log = logging.getLogger(__name__)
_REBUILD_BATCH = 1000


def index_dir(uri: str, collection: str) -> Path:
    lite_dir = Path(uri)
    return lite_dir.with_name(f"{lite_dir.stem}-dense") / collection


class LiteDense:
    """The dense indexes of one Lite collection, one per vector field (name -> dim)."""

    def __init__(self, uri: str, collection: str, dims: Mapping[str, int]) -> None:
        self.collection = collection
        folder = index_dir(uri, collection)
        self._state = folder / "state.json"
        self.indexes = {field: FaissDenseIndex(folder / f"{field}.npz", dim) for field, dim in dims.items()}

    def open(self, client: Any, read_opts: dict[str, Any], stored: int) -> None:
        """Opens every index; rebuilds one from the collection when it is not in step with it
        (`stored`: the collection's row count, against the one recorded at the last save; a count
        with a filter would cost a scan of the collection in Milvus Lite)."""
        recorded = self._recorded_rows()
        for field, index in self.indexes.items():
            index.open()
            if index.loaded_clean and recorded == stored:
                continue
            if recorded is not None or stored:
                log.warning("dense index %s is out of step with the store: rebuilding it", index.path)
            index.reset()
            self._rebuild(client, read_opts, field, index)
            index.save()
        self._record_rows(stored)

    def _rebuild(self, client: Any, read_opts: dict[str, Any], field: str, index: FaissDenseIndex) -> None:
        iterator = client.query_iterator(
            self.collection,
            batch_size=_REBUILD_BATCH,
            filter=f"has_{field} == true",
            output_fields=["id", "doc_id", "modality", "metadata", field],
            **read_opts,
        )
        try:
            while batch := iterator.next():
                index.add(_rows(batch, field))
        finally:
            iterator.close()

    def upsert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Mirrors written collection rows: a row with a vector is (re)indexed, one without is dropped."""
        for field, index in self.indexes.items():
            flag = f"has_{field}"
            index.delete_ids([str(r["id"]) for r in rows if not r[flag]])
            with_vector = [r for r in rows if r[flag]]
            if with_vector:
                index.add(_rows(with_vector, field))

    def delete_ids(self, ids: Sequence[str]) -> None:
        for index in self.indexes.values():
            index.delete_ids(ids)

    def delete_docs(self, doc_ids: Sequence[str]) -> None:
        for index in self.indexes.values():
            index.delete_docs(doc_ids)

    def search(
        self, field: str, vector: np.ndarray | Sequence[float], limit: int, search_filter: SearchFilter | None
    ) -> dict[str, SourceScore]:
        found = self.indexes[field].search(vector, limit, search_filter)
        return {pk: SourceScore(rank=rank, score=score) for rank, (pk, score) in enumerate(found, start=1)}

    def save(self, collection_rows: int) -> None:
        """Saves every changed index, then records the collection's row count they agree with."""
        for index in self.indexes.values():
            index.save()
        self._record_rows(collection_rows)

    def _recorded_rows(self) -> int | None:
        try:
            return int(json.loads(self._state.read_text(encoding="utf-8"))["collection_rows"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _record_rows(self, rows: int) -> None:
        tmp = self._state.with_name(self._state.name + ".tmp")
        try:
            self._state.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"collection_rows": rows}), encoding="utf-8")
            os.replace(tmp, self._state)
        except OSError as exc:
            raise StoreError(f"cannot write {self._state}: {exc}; check the data dir is writable") from exc

    def close(self) -> None:
        for index in self.indexes.values():
            index.close()


def _rows(entities: Sequence[Mapping[str, Any]], field: str) -> DenseRows:
    return DenseRows(
        ids=[str(e["id"]) for e in entities],
        vectors=np.asarray([e[field] for e in entities], dtype=np.float32),
        doc_ids=[str(e["doc_id"]) for e in entities],
        modalities=[str(e["modality"]) for e in entities],
        products=[product_of(e) for e in entities],
    )
