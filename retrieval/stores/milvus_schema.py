"""The Milvus collection layout of `MilvusStore`: fields, indexes, checks of an existing collection,
and turning a returned entity into a `Hit`.

Fields: id, doc_id, chunk_id, modality, text (shown), terms (what BM25 indexes: `text` normalised by
`core.textnorm`, because Milvus Lite ignores analyzer filters), source, metadata (JSON),
has_dense, dense (FLOAT_VECTOR, COSINE: the shared ImageBind space), has_text_dense, text_dense
(FLOAT_VECTOR, COSINE: the text embedder's vector of the chunk text), both indexed HNSW on a server
and FLAT on Milvus Lite (made before: HNSW), and sparse (filled by Milvus's BM25 function). A
collection without the text fields was made before the text embedder existed (`outdated`):
ingestion rebuilds it, other commands say to re-run ingestion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from core.types import DOC_ID_MAX_BYTES, Hit, Modality, SourceScore

TEXT_MAX_BYTES = 16384
SOURCE_MAX_BYTES = 4096
MIN_SOURCE_LIMIT = 20
OUTPUT_FIELDS = ["id", "doc_id", "chunk_id", "modality", "text", "source", "metadata", "terms"]
REQUIRED_FIELDS = {*OUTPUT_FIELDS, "has_dense", "dense", "sparse"}
TEXT_FIELDS = {"has_text_dense", "text_dense"}
VECTOR_FIELDS = ("dense", "text_dense")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes without splitting a character."""
    raw = text.encode("utf-8")
    return text if len(raw) <= max_bytes else raw[:max_bytes].decode("utf-8", errors="ignore")


def build(client: Any, dim: int, text_dim: int, *, lite: bool = False) -> tuple[Any, Any]:
    """The schema (with the BM25 function) and index parameters of a new collection. On Milvus Lite
    the vector fields get a FLAT index: FAISS beside the collection serves dense search there
    (`lite_dense`), so an HNSW graph built again by Milvus Lite on every flush would only cost time."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=DOC_ID_MAX_BYTES)
    schema.add_field("chunk_id", DataType.INT64)
    schema.add_field("modality", DataType.VARCHAR, max_length=16)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX_BYTES)
    schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_MAX_BYTES, enable_analyzer=True)
    schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_MAX_BYTES)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("has_dense", DataType.BOOL)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("has_text_dense", DataType.BOOL)
    schema.add_field("text_dense", DataType.FLOAT_VECTOR, dim=text_dim)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="text_bm25",
            function_type=FunctionType.BM25,
            input_field_names=["terms"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    for name in VECTOR_FIELDS:
        if lite:
            index.add_index(name, index_type="FLAT", metric_type="COSINE")
        else:
            index.add_index(
                name, index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200}
            )
    index.add_index(
        "sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"drop_ratio_build": 0}
    )
    return schema, index


def _dim(field: Mapping[str, Any]) -> int:
    return int(field.get("params", {}).get("dim", -1))


def outdated(description: Mapping[str, Any], text_dim: int) -> str | None:
    """Why an existing collection of this program needs rebuilding for the text embedder, or None:
    it predates the text dense field, or holds text vectors of another width (another model)."""
    fields = {f["name"]: f for f in description.get("fields", [])}
    if REQUIRED_FIELDS - set(fields):
        return None  # not ours at all: `mismatch` says so
    if TEXT_FIELDS - set(fields):
        return "was made by an older supportbot without the text-embedder field"
    found = _dim(fields["text_dense"])
    if found != text_dim:
        return f"holds {found}-dim text vectors but the text embedder gives {text_dim}-dim ones"
    return None


def mismatch(description: Mapping[str, Any], dim: int) -> str | None:
    """Why an existing collection cannot be used with `dim`-dimensional vectors, or None."""
    fields = {f["name"]: f for f in description.get("fields", [])}
    missing = sorted(REQUIRED_FIELDS - set(fields))
    if missing:
        return (
            f"lacks fields {missing} (made by another program or version); use a fresh --data-dir or "
            "another collection, or re-ingest"
        )
    found = _dim(fields["dense"])
    if found != dim:
        return (
            f"holds {found}-dim vectors but the embedder gives {dim}-dim ones; use a fresh --data-dir or "
            "re-ingest with this embedder"
        )
    return None


def hit_from_entity(
    pk: str, score: float, entity: Mapping[str, Any], sources: Mapping[str, SourceScore]
) -> Hit:
    return Hit(
        id=pk,
        doc_id=str(entity.get("doc_id", "")),
        chunk_id=int(entity.get("chunk_id", 0)),
        modality=cast(Modality, entity.get("modality", "text")),
        text=str(entity.get("text", "")),
        source=str(entity.get("source", "")),
        score=score,
        sources=dict(sources),
        metadata=dict(entity.get("metadata") or {}),
        terms=str(entity.get("terms") or ""),
    )
