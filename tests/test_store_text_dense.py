"""The second dense field (the text embedder's `text_dense`) on a real Milvus Lite: it is searched on its
own, fused with per-source weights, and a data dir made before it existed is rebuilt by ingestion (or
named as needing it by every other command)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.runtime import open_runtime
from core.config import Settings
from core.errors import StoreError
from retrieval.fusion import FusionWeights
from retrieval.stores.milvus import MilvusStore
from retrieval.stores.protocol import DenseQuery
from tests.contract_vector_store import DIM, make_record, one_hot

pytestmark = pytest.mark.slow  # the Milvus Lite backend's text dense field

TEXT_DIM = 4


def _with_text(record, hot: int | None):  # type: ignore[no-untyped-def]
    return replace(record, text_vector=None if hot is None else one_hot(hot, TEXT_DIM))


def _old_schema_collection(client: Any, collection: str) -> None:
    """A collection laid out as supportbot wrote it before the text embedder (no text_dense field)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    client.drop_collection(collection)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    for name in ("doc_id", "modality", "text", "source"):
        schema.add_field(name, DataType.VARCHAR, max_length=1024)
    schema.add_field("terms", DataType.VARCHAR, max_length=1024, enable_analyzer=True)
    schema.add_field("chunk_id", DataType.INT64)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("has_dense", DataType.BOOL)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function("bm25", FunctionType.BM25, ["terms"], ["sparse"]))
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="COSINE")
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(collection, schema=schema, index_params=index)


def test_text_field_is_searched_and_weighted(tmp_path: Path) -> None:
    store = MilvusStore(str(tmp_path / "milvus.db"), dim=DIM, text_dim=TEXT_DIM)
    store.open()
    try:
        store.upsert(
            [
                _with_text(make_record("a.md", 0, "text", "cancel my order", "p", 0), 0),
                _with_text(make_record("b.md", 0, "text", "order refund status", "p", 1), 1),
                _with_text(make_record("c.md", 0, "text", "no text vector", "p", 2), None),
            ]
        )
        assert not store.dense_populated("text_dense") and store.dense_populated("dense")
        query = [DenseQuery("dense:sentence", one_hot(1, TEXT_DIM), "text_dense")]
        hits = store.hybrid_search(None, query, top_k=5)
        assert [h.doc_id for h in hits] == ["b.md", "a.md"], "placeholder text vectors never surface"
        assert hits[0].sources["dense:sentence"].score == pytest.approx(1.0)
        # BM25 prefers a.md ("cancel order"), the text field b.md: the weights decide.
        for method in ("rrf", "score"):
            for weights, first in (
                (FusionWeights(method, bm25=3.0), "a.md"),
                (FusionWeights(method, sentence=3.0), "b.md"),
            ):
                fused = store.hybrid_search("cancel order", query, top_k=2, fusion=weights)
                assert fused[0].doc_id == first, (method, weights)
                assert set(fused[0].sources) == {"bm25", "dense:sentence"}
    finally:
        store.close()


def test_text_vector_of_wrong_width_is_refused(tmp_path: Path) -> None:
    store = MilvusStore(str(tmp_path / "milvus.db"), dim=DIM, text_dim=TEXT_DIM)
    store.open()
    try:
        bad = replace(make_record("a.md", 0, "text", "x", "p", 0), text_vector=np.ones(TEXT_DIM + 1))
        with pytest.raises(StoreError, match="text vector of chunk"):
            store.upsert([bad])
    finally:
        store.close()


def test_old_data_dir_names_the_rerun_and_ingest_rebuilds_it(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "refunds.md").write_text("# Refunds\n\nRefunds take five days.\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "none", allow_missing_models=True)
    with open_runtime(settings, load_models=False) as rt:
        assert rt.ingest(kb, progress=False).added == 1
        _old_schema_collection(rt.store._require(), settings.collection)  # as an older version left it
    with pytest.raises(StoreError, match=r"older supportbot .*run `supportbot ingest KB_DIR`"):
        open_runtime(settings, load_models=False, dim=DIM)
    with open_runtime(settings, load_models=False, dim=DIM, rebuild_outdated=True) as rt:
        assert rt.store.rebuilt
        report = rt.ingest(kb, progress=False)
        assert report.added == 1 and rt.store.count() == 1, "every file is read again into the new layout"
