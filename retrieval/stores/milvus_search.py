"""The single-source searches of `MilvusStore.hybrid_search`, on Milvus itself or on the Lite sidecars.

Each source answers its own best chunks: per hit, its rank and raw score. A dense request runs on
the FAISS index of its field (`lite_dense`, Milvus Lite) or on Milvus's HNSW index (server); BM25 on
tantivy (`lite_fulltext`, Milvus Lite) or Milvus's BM25 function (server). The sources are fused on
the client (`retrieval.fusion.fuse`); the fused hits found outside Milvus get their shown fields in
one fetch by primary key (only those: each source's other candidates never leave the index).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import InputError
from core.types import SearchFilter, SourceScore
from retrieval.fusion import FusionWeights, fuse
from retrieval.stores import filters, milvus_schema
from retrieval.stores.lite_dense import LiteDense
from retrieval.stores.lite_fulltext import LiteFullText
from retrieval.stores.milvus_rows import checked_vector
from retrieval.stores.milvus_schema import MIN_SOURCE_LIMIT, OUTPUT_FIELDS
from retrieval.stores.protocol import DenseQuery

Ranks = dict[str, SourceScore]
Entities = dict[str, Mapping[str, Any]]


class SourceSearch:
    """The searches of one store: the Milvus client and collection, and the Lite sidecars (or None)."""

    def __init__(
        self,
        client: Any,
        collection: str,
        read_opts: dict[str, Any],
        dense_index: LiteDense | None,
        fulltext: LiteFullText | None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.read_opts = read_opts
        self.dense_index = dense_index
        self.fulltext = fulltext

    def run(
        self,
        terms: str,
        dense: Sequence[tuple[str, str, list[float]]],
        top_k: int,
        search_filter: SearchFilter | None,
    ) -> tuple[dict[str, Ranks], Entities]:
        """Per source (dense request name, `bm25`), each hit's rank and score; and every hit's entity.
        `dense`: (name, field, checked vector); `terms`: the normalised query text (empty: no BM25)."""
        base = filters.filter_expr(search_filter)
        limit = max(top_k, MIN_SOURCE_LIMIT)
        per_source: dict[str, Ranks] = {}
        entities: Entities = {}
        for name, field, vector in dense:
            if self.dense_index is not None:
                per_source[name] = self.dense_index.search(field, vector, limit, search_filter)
                continue
            params = {"metric_type": "COSINE", "params": {"ef": max(64, limit)}}
            expr = filters.combine(base, f"has_{field} == true")
            per_source[name] = self._milvus(field, [vector], params, expr, limit, entities)
        if terms and self.fulltext is not None:
            per_source["bm25"] = self.fulltext.search(terms, limit, search_filter)
        elif terms:
            bm25 = {"metric_type": "BM25"}
            per_source["bm25"] = self._milvus("sparse", [terms], bm25, base, limit, entities)
        return per_source, entities

    def fuse(
        self, per_source: dict[str, Ranks], entities: Entities, weights: FusionWeights, top_k: int
    ) -> tuple[list[tuple[str, float]], dict[str, Ranks]]:
        """The best `top_k` (primary key, fused score), every one with its entity, and the sources
        they were fused from. Only those hits are fetched (not every source's candidates); a hit whose
        row has gone meanwhile leaves every source and the fusion is done again without it."""
        while True:
            fused = fuse(per_source, weights)
            order = sorted(fused, key=lambda pk: (-fused[pk], pk))[:top_k]
            gone = self._fetch([pk for pk in order if pk not in entities], entities)
            if not gone:
                return [(pk, fused[pk]) for pk in order], per_source
            per_source = {
                name: {pk: s for pk, s in r.items() if pk not in gone} for name, r in per_source.items()
            }

    def _fetch(self, pks: list[str], entities: Entities) -> set[str]:
        """Adds the shown fields of `pks` (by primary key) to `entities`; returns those whose row is gone."""
        if not pks:
            return set()
        rows = self.client.get(self.collection, ids=pks, output_fields=OUTPUT_FIELDS, **self.read_opts)
        entities.update((str(r["id"]), r) for r in rows)
        return {pk for pk in pks if pk not in entities}

    def _milvus(
        self, field: str, data: list[Any], params: dict[str, Any], expr: str, limit: int, entities: Entities
    ) -> Ranks:
        res = self.client.search(
            self.collection,
            data=data,
            anns_field=field,
            filter=expr,
            limit=limit,
            search_params=params,
            output_fields=OUTPUT_FIELDS,
            **self.read_opts,
        )
        ranks: Ranks = {}
        for rank, hit in enumerate(res[0] if res else [], start=1):
            # Milvus Lite reports BM25 as a negated distance, the server as a positive score: abs()
            # gives the BM25 score (>= 0) for both.
            score = abs(float(hit["distance"])) if field == "sparse" else float(hit["distance"])
            ranks[str(hit["id"])] = SourceScore(rank=rank, score=score)
            entities.setdefault(str(hit["id"]), hit["entity"])
        return ranks


def dense_requests(
    dense: Sequence[DenseQuery], dims: Mapping[str, int], dense_enabled: bool
) -> list[tuple[str, str, list[float]]]:
    """(name, field, checked vector) of each dense request to run (`dense` skipped when disabled)."""
    requests = []
    for q in dense:
        if q.field not in milvus_schema.VECTOR_FIELDS:
            raise InputError(f"dense query {q.name!r} names unknown field {q.field!r}")
        if q.field == "dense" and not dense_enabled:
            continue
        vector = checked_vector(q.vector, f"query vector {q.name!r}", dims[q.field])
        requests.append((q.name, q.field, vector))
    return requests
