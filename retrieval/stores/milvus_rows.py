"""Rows of the Milvus collection: one checked row per record (layout in `milvus_schema`)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, cast

import numpy as np

from core import textnorm
from core.errors import InputError, StoreError
from core.types import MODALITIES, Record
from retrieval.stores.milvus_schema import DOC_ID_MAX_BYTES, SOURCE_MAX_BYTES, TEXT_MAX_BYTES, truncate_utf8


def record_row(record: Record, dim: int, text_dim: int) -> dict[str, Any]:
    """The collection row of one record, checked: modality, id and source lengths, JSON metadata,
    vector sizes (a missing vector is the placeholder, flagged absent)."""
    chunk = record.chunk
    if chunk.modality not in MODALITIES:
        raise InputError(f"chunk {chunk.id} has modality {chunk.modality!r}; use one of {MODALITIES}")
    if len(chunk.doc_id.encode("utf-8")) > DOC_ID_MAX_BYTES:
        raise InputError(
            f"doc_id {chunk.doc_id[:80]!r}... exceeds {DOC_ID_MAX_BYTES} bytes; shorten its path"
        )
    if len(chunk.source.encode("utf-8")) > SOURCE_MAX_BYTES:
        raise InputError(f"source {chunk.source[:80]!r}... exceeds {SOURCE_MAX_BYTES} bytes; shorten it")
    metadata = dict(chunk.metadata)
    if chunk.title:
        metadata.setdefault("title", chunk.title)
    try:
        metadata = json.loads(json.dumps(metadata, default=str))
    except (TypeError, ValueError) as exc:
        raise InputError(f"metadata of chunk {chunk.id} is not JSON-serialisable: {exc}") from exc
    if record.vector is None:
        dense, has_dense = placeholder(dim), False
    else:
        dense, has_dense = checked_vector(record.vector, f"vector of chunk {chunk.id}", dim), True
    if record.text_vector is None:
        text_dense, has_text = placeholder(text_dim), False
    else:
        text_dense = checked_vector(record.text_vector, f"text vector of chunk {chunk.id}", text_dim)
        has_text = True
    return {
        "id": chunk.id,
        "doc_id": chunk.doc_id,
        "chunk_id": int(chunk.chunk_id),
        "modality": chunk.modality,
        "text": truncate_utf8(chunk.text, TEXT_MAX_BYTES),
        "terms": truncate_utf8(textnorm.normalise(chunk.text), TEXT_MAX_BYTES),
        "source": chunk.source,
        "metadata": metadata,
        "has_dense": has_dense,
        "dense": dense,
        "has_text_dense": has_text,
        "text_dense": text_dense,
    }  # `sparse` is produced by the BM25 function from `terms`; never written


@lru_cache(maxsize=8)
def placeholder(dim: int) -> list[float]:
    """A fixed unit vector for rows without one (COSINE is undefined on zero vectors). One list per
    width, shared by every row (pymilvus only reads it): building it per row cost 1408 floats a row."""
    vec = [0.0] * dim
    vec[0] = 1.0
    return vec


def checked_vector(vector: np.ndarray, what: str, dim: int) -> list[float]:
    arr = np.asarray(vector, dtype=np.float32).reshape(-1)
    if arr.shape != (dim,):
        raise StoreError(
            f"{what} has {arr.size} dims but the collection holds {dim}; use a fresh --data-dir "
            "or re-ingest with the same embedder"
        )
    if not np.all(np.isfinite(arr)) or not np.any(arr):
        raise StoreError(f"{what} is all zeros or not finite; the embedder produced an unusable vector")
    return cast(list[float], arr.tolist())
