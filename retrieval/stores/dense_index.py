"""`FaissDenseIndex`: the embedded dense (cosine) index of one vector field beside a Milvus Lite collection.

Milvus Lite 3.2.2 walks every stored row in Python on each dense search (its per-row dedup and
tombstone mask) before FAISS runs, which cost a hybrid search p95 6.9 s at 100k chunks. So on a Lite
URI `MilvusStore` keeps each vector field in FAISS (faiss-cpu, MIT) as well, and Milvus keeps every
shown field. The index is HNSW over unit vectors with inner product (= cosine), built and searched
with the parameters a Milvus server's index of the same field uses (M 16, efConstruction 200,
ef = max(64, limit)), so it answers as Milvus does; a filter that leaves few rows (at most
`exact_max`) is answered by an exact scan of those rows, a wider one by HNSW restricted to the
allowed rows (an id selector: every result matches the filter). Per row it keeps the chunk's
primary key, doc_id, modality and product.

FAISS's HNSW cannot remove a vector, so a deleted or replaced row is a tombstone (masked out of every
search) until tombstones outnumber half the live rows; then `save()` rebuilds the graph. `save()`
writes one file atomically (a temp file renamed over the old one) and removes the `.dirty` marker
that the first change after a save writes: a process that stops between the two leaves the marker,
and the store rebuilds the index from the collection on its next open.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import StoreError
from core.threads import compute_threads
from core.types import MODALITIES, SearchFilter

log = logging.getLogger(__name__)

HNSW_M = 16
EF_CONSTRUCTION = 200
MIN_EF = 64
EXACT_MAX = 4096  # a filter leaving at most this many rows is answered by an exact scan
MAX_EF = 1024
_COMPACT_MIN_DEAD = 1024
_PARALLEL_ADD = 256  # rows from which an add uses more than one thread


@dataclass(frozen=True)
class DenseRows:
    """Rows to add: primary keys, their vectors (one per row) and what filters match on."""

    ids: Sequence[str]
    vectors: np.ndarray
    doc_ids: Sequence[str]
    modalities: Sequence[str]
    products: Sequence[str | None]


class FaissDenseIndex:
    """One vector field's index in one file; cheap constructor, `open()` loads it (or starts empty)."""

    def __init__(self, path: Path, dim: int, *, exact_max: int = EXACT_MAX) -> None:
        if dim < 1:
            raise StoreError(f"dense index dim must be >= 1, got {dim}")
        self.path = path
        self.dim = dim
        self.exact_max = exact_max
        self.loaded_clean = False  # open() found a saved index and no unsaved-change marker
        self._hnsw: Any = None
        self._clear()

    @property
    def _alive(self) -> np.ndarray:
        return self._cols.view(0)

    @property
    def _modality(self) -> np.ndarray:
        return self._cols.view(1)

    @property
    def _doc(self) -> np.ndarray:
        return self._cols.view(2)

    @property
    def _product(self) -> np.ndarray:
        return self._cols.view(3)

    @property
    def _dirty_marker(self) -> Path:
        return self.path.with_name(self.path.name + ".dirty")

    def _clear(self) -> None:
        self._hnsw = None
        self._pks: list[str] = []
        self._pos: dict[str, int] = {}
        self._cols = _Columns.empty()
        self._doc_codes: dict[str, int] = {}
        self._product_codes: dict[str, int] = {}
        self._dead = 0
        self._changed = False

    # ---- lifecycle -------------------------------------------------------------------------
    def open(self) -> None:
        """Loads the saved index; starts empty (`loaded_clean` False) when there is none or it is stale."""
        if self._hnsw is not None:
            return
        self._clear()
        self._hnsw = _new_hnsw(self.dim)
        self.loaded_clean = False
        if not self.path.exists() or self._dirty_marker.exists():
            return
        try:
            self._load()
            self.loaded_clean = True
        except (OSError, ValueError, KeyError, RuntimeError) as exc:  # unreadable: rebuilt by the caller
            log.warning("dense index %s is unreadable (%s): it is rebuilt", self.path, exc)
            self._clear()
            self._hnsw = _new_hnsw(self.dim)

    def reset(self) -> None:
        """Empties the index (its file is rewritten by the next `save()`)."""
        self._clear()
        self._hnsw = _new_hnsw(self.dim)
        self._mark_changed()

    def close(self) -> None:
        if self._hnsw is not None:
            self.save()
        self._clear()

    def save(self) -> None:
        """Writes the index if it changed since the last save (atomically), compacting tombstones first."""
        if self._hnsw is None or not self._changed:
            return
        if self._dead > max(_COMPACT_MIN_DEAD, self.count() // 2):
            self._compact()
        meta = {
            "dim": self.dim,
            "pks": self._pks,
            "docs": list(self._doc_codes),
            "products": list(self._product_codes),
        }
        faiss = _faiss()

        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                np.savez(
                    out,
                    index=faiss.serialize_index(self._hnsw),
                    meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
                    alive=self._alive,
                    modality=self._modality,
                    doc=self._doc,
                    product=self._product,
                )
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            self._dirty_marker.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot write the dense index {self.path}: {exc}; check the data dir is writable "
                "and has space"
            ) from exc
        self._changed = False

    def _load(self) -> None:
        faiss = _faiss()

        with np.load(self.path, allow_pickle=False) as saved:
            meta = json.loads(saved["meta"].tobytes().decode("utf-8"))
            if int(meta["dim"]) != self.dim:
                raise ValueError(f"holds {meta['dim']}-dim vectors, expected {self.dim}")
            hnsw = faiss.deserialize_index(saved["index"])
            alive, modality = saved["alive"].astype(bool), saved["modality"].astype(np.int8)
            doc, product = saved["doc"].astype(np.int32), saved["product"].astype(np.int32)
        pks = [str(pk) for pk in meta["pks"]]
        if not (hnsw.ntotal == len(pks) == alive.size == modality.size == doc.size == product.size):
            raise ValueError("its parts disagree in length")
        self._hnsw, self._pks = hnsw, pks
        self._cols = _Columns(alive, modality, doc, product)
        self._doc_codes = {d: i for i, d in enumerate(meta["docs"])}
        self._product_codes = {p: i for i, p in enumerate(meta["products"])}
        self._pos = {pks[i]: i for i in np.flatnonzero(alive).tolist()}
        self._dead = int(alive.size - len(self._pos))

    # ---- writes ------------------------------------------------------------------------------
    def add(self, rows: DenseRows) -> None:
        """Adds rows, replacing any row with the same primary key."""
        if not rows.ids:
            return
        vectors = _unit_rows(rows.vectors, self.dim)
        if vectors.shape[0] != len(rows.ids):
            raise StoreError(f"{len(rows.ids)} ids but {vectors.shape[0]} vectors given to the dense index")
        last: dict[str, int] = {pk: i for i, pk in enumerate(rows.ids)}  # a key given twice: the last wins
        keep = sorted(last.values())
        self._mark_changed()  # before the change: a crash during it leaves the marker
        self.delete_ids([rows.ids[i] for i in keep])
        # a thread team per small add only spins on a busy machine (measured: 2.2 ms per 3-row add)
        _faiss().omp_set_num_threads(compute_threads() if len(keep) >= _PARALLEL_ADD else 1)
        self._require().add(np.ascontiguousarray(vectors[keep]))
        start = len(self._pks)
        for offset, i in enumerate(keep):
            pk = rows.ids[i]
            self._pks.append(pk)
            self._pos[pk] = start + offset
        modalities = [MODALITIES.index(rows.modalities[i]) for i in keep]
        docs = [_code(self._doc_codes, rows.doc_ids[i]) for i in keep]
        products = [-1 if (p := rows.products[i]) is None else _code(self._product_codes, p) for i in keep]
        self._cols.append(modalities, docs, products)

    def delete_ids(self, ids: Sequence[str]) -> None:
        positions = [p for pk in ids if (p := self._pos.pop(pk, None)) is not None]
        self._bury(positions)

    def delete_docs(self, doc_ids: Sequence[str]) -> None:
        codes = [self._doc_codes[d] for d in doc_ids if d in self._doc_codes]
        if not codes:
            return
        positions = np.flatnonzero(self._alive & np.isin(self._doc, codes)).tolist()
        for p in positions:
            self._pos.pop(self._pks[p], None)
        self._bury(positions)

    def _bury(self, positions: Sequence[int]) -> None:
        if not positions:
            return
        self._mark_changed()
        self._alive[list(positions)] = False
        self._dead += len(positions)

    def _mark_changed(self) -> None:
        if not self._changed:
            try:
                self._dirty_marker.parent.mkdir(parents=True, exist_ok=True)
                self._dirty_marker.touch()
            except OSError as exc:
                raise StoreError(
                    f"cannot write beside the dense index {self.path}: {exc}; check the data dir is writable"
                ) from exc
            self._changed = True

    def _compact(self) -> None:
        """Rebuilds the graph from the live rows (drops every tombstone)."""
        live = np.flatnonzero(self._alive)
        vectors = self._vectors()[live].copy()
        pks = [self._pks[i] for i in live.tolist()]
        modality, doc, product = self._modality[live], self._doc[live], self._product[live]
        self._hnsw = _new_hnsw(self.dim)
        if len(pks):
            _faiss().omp_set_num_threads(compute_threads())
            self._hnsw.add(vectors)
        self._pks, self._pos = pks, {pk: i for i, pk in enumerate(pks)}
        self._cols = _Columns(np.ones(len(pks), dtype=bool), modality, doc, product)
        self._dead = 0

    # ---- reads -------------------------------------------------------------------------------
    def count(self) -> int:
        return len(self._pos)

    def search(
        self, vector: np.ndarray | Sequence[float], limit: int, search_filter: SearchFilter | None = None
    ) -> list[tuple[str, float]]:
        """(primary key, cosine) of the best `limit` rows that match the filter, best first."""
        hnsw = self._require()
        query = _unit_rows(vector, self.dim)
        allowed = self._allowed(search_filter)
        n_allowed = int(allowed.sum()) if allowed is not None else self.count()
        if n_allowed == 0 or limit < 1:
            return []
        faiss = _faiss()
        if n_allowed <= self.exact_max:  # an exact scan of the allowed rows (the graph's own storage)
            index, params = faiss.downcast_index(hnsw.storage), faiss.SearchParameters()
        else:
            index, params = hnsw, faiss.SearchParametersHNSW()
            share = n_allowed / max(1, len(self._pks))  # a narrower filter explores more of the graph
            params.efSearch = min(MAX_EF, max(int(max(MIN_EF, limit) / share), limit))
        if allowed is not None:
            bitmap = np.packbits(allowed, bitorder="little")  # kept alive by this frame during the search
            selector = faiss.IDSelectorBitmap(allowed.size, faiss.swig_ptr(bitmap))
            params.sel = selector
        faiss.omp_set_num_threads(1)  # one query: a thread team only spins on a busy machine
        scores, labels = index.search(query, min(limit, n_allowed), params=params)
        pairs = zip(scores[0], labels[0], strict=True)
        found = [(self._pks[int(i)], float(s)) for s, i in pairs if i >= 0]
        return sorted(found, key=lambda f: (-f[1], f[0]))

    def _allowed(self, search_filter: SearchFilter | None) -> np.ndarray | None:
        """The mask of live rows the filter lets through (None: every live row, and none is dead)."""
        if search_filter is None or search_filter.empty:
            return None if self._dead == 0 else self._alive
        mask = self._alive.copy()
        if search_filter.modalities:
            codes = [MODALITIES.index(m) for m in search_filter.modalities]
            mask &= np.isin(self._modality, codes)
        if search_filter.doc_ids:
            mask &= np.isin(self._doc, [self._doc_codes.get(d, -2) for d in search_filter.doc_ids])
        if search_filter.products:
            mask &= np.isin(self._product, [self._product_codes.get(p, -2) for p in search_filter.products])
        return mask

    def _vectors(self) -> np.ndarray:
        """Every stored vector (tombstones included), a view of the graph's own storage."""
        faiss = _faiss()

        hnsw = self._require()
        storage = faiss.downcast_index(hnsw.storage)
        if hnsw.ntotal == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return faiss.rev_swig_ptr(storage.get_xb(), hnsw.ntotal * self.dim).reshape(hnsw.ntotal, self.dim)

    def _require(self) -> Any:
        if self._hnsw is None:
            raise StoreError("the dense index is not open; call open() first")
        return self._hnsw


class _Columns:
    """Per-row filter columns (live flag, modality, document and product codes), grown by doubling:
    a copy of every column per add would make ingesting many small documents quadratic."""

    _DTYPES = (np.bool_, np.int8, np.int32, np.int32)

    def __init__(self, *columns: np.ndarray) -> None:
        self._arrays: list[np.ndarray] = [
            np.asarray(c, dtype=t) for c, t in zip(columns, self._DTYPES, strict=True)
        ]
        self.size = int(self._arrays[0].size)

    @classmethod
    def empty(cls) -> _Columns:
        return cls(*(np.zeros(0, dtype=t) for t in cls._DTYPES))

    def view(self, column: int) -> np.ndarray:
        return self._arrays[column][: self.size]

    def append(self, modalities: list[int], docs: list[int], products: list[int]) -> None:
        """New live rows with these codes."""
        need = self.size + len(modalities)
        if need > self._arrays[0].size:
            capacity = max(need, 2 * self._arrays[0].size, 1024)
            grown = [np.zeros(capacity, dtype=t) for t in self._DTYPES]
            for old, new in zip(self._arrays, grown, strict=True):
                new[: self.size] = old[: self.size]
            self._arrays = grown
        for column, values in enumerate(([True] * len(modalities), modalities, docs, products)):
            self._arrays[column][self.size : need] = values
        self.size = need


def _faiss() -> Any:
    """The faiss module, imported on first use (its type stubs lack the search-parameter classes)."""
    import faiss

    return faiss


def _new_hnsw(dim: int) -> Any:
    faiss = _faiss()

    hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = EF_CONSTRUCTION
    return hnsw


def _unit_rows(vectors: np.ndarray | Sequence[float], dim: int) -> np.ndarray:
    """`vectors` as float32 rows of unit length (cosine = inner product), checked for shape."""
    size = int(np.size(vectors))
    if size == 0 or size % dim or (np.ndim(vectors) > 1 and np.shape(vectors)[-1] != dim):
        raise StoreError(f"the dense index holds {dim}-dim vectors, got shape {np.shape(vectors)}")
    rows = np.array(vectors, dtype=np.float32, copy=True).reshape(-1, dim)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise StoreError("a vector given to the dense index is all zeros or not finite")
    return rows / norms


def _code(table: dict[str, int], value: str) -> int:
    return table.setdefault(value, len(table))
