"""The Milvus `VectorStore`: Milvus Lite (a local `.db` directory) or a Milvus server, via MilvusClient.

One collection holds every chunk (layout in `milvus_schema`). On a Milvus server, the server's own
HNSW indexes and BM25 function serve search. On Milvus Lite, whose BM25 is a Python scan of every
posting list and whose dense search walks every row in Python first, indexes kept beside the data
dir serve it: tantivy for full text (`lite_fulltext`; 0.4 ms against 378 ms p95 at 100k chunks in
`bench/fulltext_engines.py`) and FAISS per vector field (`lite_dense`); the collection keeps every
shown field, and each search fetches its hits' fields by primary key (`milvus_search`).

Rows without a dense vector (ingested without ImageBind weights) hold a fixed unit placeholder
vector, because COSINE is undefined on zero vectors, and `has_dense = false`; every dense request
filters on `has_dense == true`, so placeholders never surface, and `dense_populated()` tells a
later run whether the KB needs re-ingesting for dense search. With `dense_enabled=False` dense
requests are skipped entirely. The text embedder's vectors live in a second dense field,
`text_dense`, with its own placeholder flag (`has_text_dense`); a `DenseQuery` names its field.

Fusion is done here, over the single-source searches (which run anyway so each hit can report every
source's rank and raw score), by `retrieval.fusion.fuse`: normalised-score fusion or weighted RRF with
one weight per source (default: plain RRF).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from core import textnorm
from core.errors import InputError, StoreError
from core.types import Hit, Record, SearchFilter
from retrieval.fusion import FusionWeights
from retrieval.stores import filters, milvus_lite, milvus_schema
from retrieval.stores.lite_dense import LiteDense
from retrieval.stores.lite_fulltext import LiteFullText
from retrieval.stores.milvus_rows import record_row
from retrieval.stores.milvus_schema import OUTPUT_FIELDS, hit_from_entity
from retrieval.stores.milvus_search import SourceSearch, dense_requests
from retrieval.stores.protocol import DenseQuery, check_hybrid_request

REACH_TIMEOUT_S = 3.0
_WRITE_BATCH = 128
MAX_DOCUMENT_CHUNKS = 500  # per document fetched whole (a 2 M character document is ~1,700 chunks of 1,200)
_DELETE_BATCH = 256
_QUERY_PAGE = 16384  # Milvus caps offset + limit of a plain query at 16384


class MilvusStore:
    """`VectorStore` on pymilvus' MilvusClient; see the module docstring for the layout."""

    def __init__(
        self,
        uri: str,
        collection: str = "support_kb",
        dim: int = 1024,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        dense_enabled: bool = True,
        text_dim: int = 384,
        rebuild_outdated: bool = False,
    ) -> None:
        if not uri:
            raise StoreError("empty Milvus URI; give http(s)://host:port or a path ending in .db")
        if dim < 1 or text_dim < 1:
            raise StoreError(f"vector dims must be >= 1, got {dim} and {text_dim}")
        if timeout_s <= 0:
            raise StoreError(f"Milvus timeout must be positive, got {timeout_s}")
        self.uri = uri
        self.collection = collection
        self.dim = dim
        self.dense_enabled = dense_enabled
        self.text_dim = text_dim
        self.rebuild_outdated = rebuild_outdated
        self.rebuilt = False  # True once open() replaced an outdated collection (its chunks are gone)
        self._token = token
        self._user = user
        self._password = password
        self._timeout_s = timeout_s
        self._lite = milvus_lite.is_lite_uri(uri)
        self._client: Any = None
        self._fulltext: LiteFullText | None = None
        self._dense: LiteDense | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and create the collection if missing; a second call does nothing."""
        if self._client is not None:
            return
        from pymilvus import MilvusClient

        if self._lite:
            milvus_lite.prepare(self.uri)
        else:
            self._check_reachable()
        kwargs: dict[str, Any] = {"timeout": self._timeout_s, "dedicated": True}
        if self._token:
            kwargs["token"] = self._token
        elif self._user and self._password:
            kwargs["user"], kwargs["password"] = self._user, self._password
        with self._errors(f"connecting to Milvus at {self._where()}"):
            client = MilvusClient(uri=self.uri, **kwargs)
        self._client = client
        if self._lite:
            milvus_lite.acquire(self.uri)
        try:
            with self._errors(f"opening collection {self.collection!r}"):
                exists = client.has_collection(self.collection, timeout=self._timeout_s)
                if exists and self._replace_outdated(client):
                    exists = False
                if exists:
                    state = client.get_load_state(self.collection, timeout=self._timeout_s)
                    if getattr(state.get("state"), "name", "") != "Loaded":  # waits while loading
                        client.load_collection(self.collection, timeout=self._timeout_s)
                else:
                    self._create(client)
            if self._lite:
                self._open_sidecars(client)
        except BaseException:
            self.close()
            raise

    def _open_sidecars(self, client: Any) -> None:
        """On Milvus Lite: the tantivy and FAISS indexes beside the collection, rebuilt when out of step."""
        with self._errors("opening the full-text index"):
            fulltext = LiteFullText(self.uri, self.collection)
            fulltext.open(client, self._read_opts(), self._count(""))
            self._fulltext = fulltext
        with self._errors("opening the dense indexes"):
            dense = LiteDense(self.uri, self.collection, {"dense": self.dim, "text_dense": self.text_dim})
            dense.open(client, self._read_opts(), self._count(""))
            self._dense = dense

    def _check_reachable(self, timeout_s: float = REACH_TIMEOUT_S) -> None:
        """A Milvus server that does not answer is reported in seconds (pymilvus's own connect waits
        and retries for 30-40 s before it gives up)."""
        parsed = urlparse(self.uri if "://" in self.uri else f"http://{self.uri}")
        host = parsed.hostname or "localhost"
        port = parsed.port or (443 if parsed.scheme == "https" else 19530)
        try:
            socket.create_connection((host, port), timeout=min(timeout_s, self._timeout_s)).close()
        except OSError as exc:
            raise StoreError(
                f"cannot reach Milvus at {host}:{port} ({exc.strerror or exc}); check the server is "
                "running and reachable and --milvus-uri is right, or use a local Milvus Lite file (*.db)"
            ) from exc

    def close(self) -> None:
        """Drop the connection; the last open Milvus Lite store of a dir also stops its server."""
        if self._dense is not None and self._client is not None:
            with contextlib.suppress(StoreError):  # unsaved: the next open rebuilds the dense index
                self._dense.save(self._count(""))
        client, self._client = self._client, None
        fulltext, self._fulltext = self._fulltext, None
        dense, self._dense = self._dense, None
        if client is None:
            return
        try:
            if fulltext is not None:
                fulltext.close()
            if dense is not None:
                dense.close()
        finally:
            with contextlib.suppress(Exception):
                client.close()
        if self._lite:
            milvus_lite.release(self.uri)

    def _replace_outdated(self, client: Any) -> bool:
        """Checks an existing collection; drops an outdated one when allowed (True: it was dropped)."""
        description = client.describe_collection(self.collection, timeout=self._timeout_s)
        self._check_existing(description)
        why = milvus_schema.outdated(description, self.text_dim)
        if why is None:
            return False
        if not self.rebuild_outdated:
            raise StoreError(
                f"collection {self.collection!r} at {self._where()} {why}; run `supportbot ingest KB_DIR` "
                "with the same --data-dir to rebuild it (every file is read again)"
            )
        client.drop_collection(self.collection, timeout=self._timeout_s)
        self.rebuilt = True
        return True

    def _create(self, client: Any) -> None:
        schema, index = milvus_schema.build(client, self.dim, self.text_dim, lite=self._lite)
        client.create_collection(
            self.collection,
            schema=schema,
            index_params=index,
            consistency_level="Strong",
            timeout=self._timeout_s,
        )

    def _check_existing(self, description: Mapping[str, Any]) -> None:
        problem = milvus_schema.mismatch(description, self.dim)
        if problem:
            raise StoreError(f"collection {self.collection!r} at {self._where()} {problem}")

    # ---- writes ------------------------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> None:
        rows = [record_row(r, self.dim, self.text_dim) for r in records]
        client = self._require()
        for start in range(0, len(rows), _WRITE_BATCH):
            with self._errors("writing chunks"):
                client.upsert(self.collection, rows[start : start + _WRITE_BATCH], timeout=self._timeout_s)
        if self._fulltext is not None:
            self._fulltext.upsert(rows)
        if self._dense is not None:
            self._dense.upsert(rows)

    def delete_docs(self, doc_ids: Sequence[str]) -> None:
        client = self._require()
        for batch in filters.batched(doc_ids, _DELETE_BATCH):
            with self._errors("deleting documents"):
                client.delete(
                    self.collection, filter=filters.field_in("doc_id", batch), timeout=self._timeout_s
                )
        if self._fulltext is not None:
            self._fulltext.index.delete_docs(doc_ids)
        if self._dense is not None:
            self._dense.delete_docs(doc_ids)

    def delete_ids(self, ids: Sequence[str]) -> None:
        """By primary key: Milvus Lite deletes these directly, where a `doc_id in [...]` filter costs a
        scan of the whole collection."""
        client = self._require()
        for batch in filters.batched(ids, _DELETE_BATCH):
            with self._errors("deleting chunks"):
                client.delete(self.collection, ids=list(batch), timeout=self._timeout_s)
        if self._fulltext is not None:
            self._fulltext.index.delete_ids(ids)
        if self._dense is not None:
            self._dense.delete_ids(ids)

    # ---- reads -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Seals what was written so Milvus builds its indexes: searches over growing segments are brute
        force (measured at 10k chunks on Milvus Lite: ~1 s per search before, ~8 ms dense / ~40 ms BM25
        after)."""
        client = self._require()
        with self._errors("flushing writes"):
            client.flush(self.collection, timeout=self._timeout_s)
            if self._fulltext is not None:
                self._fulltext.index.commit()
            if self._dense is not None:
                self._dense.save(self._count(""))

    def count(self) -> int:
        return self._count("")

    def dense_populated(self, field: str = "dense") -> bool:
        """True when every stored chunk has a real vector in `field` (`dense` or `text_dense`; False:
        ingested without that embedder)."""
        if field not in milvus_schema.VECTOR_FIELDS:
            raise InputError(f"unknown vector field {field!r}; use one of {milvus_schema.VECTOR_FIELDS}")
        if self._dense is not None:  # holds exactly the rows with a vector (a filtered count scans in Lite)
            return self._dense.indexes[field].count() == self._count("")
        return self._count(f"has_{field} == false") == 0

    def _count(self, expr: str) -> int:
        with self._errors("counting chunks"):
            res = self._require().query(
                self.collection, filter=expr, output_fields=["count(*)"], **self._read_opts()
            )
        return int(res[0]["count(*)"]) if res else 0

    def doc_ids(self) -> set[str]:
        client = self._require()
        with self._errors("listing documents"):
            rows = client.query(
                self.collection,
                filter='id != ""',
                output_fields=["doc_id"],
                limit=_QUERY_PAGE,
                **self._read_opts(),
            )
            if len(rows) < _QUERY_PAGE:
                return {r["doc_id"] for r in rows}
            found: set[str] = set()
            iterator = client.query_iterator(
                self.collection,
                batch_size=1000,
                filter='id != ""',
                output_fields=["doc_id"],
                **self._read_opts(),
            )
            try:
                while batch := iterator.next():
                    found.update(r["doc_id"] for r in batch)
            finally:
                iterator.close()
            return found

    def first_chunks(self, doc_ids: Sequence[str]) -> list[Hit]:
        """The first chunk of each given document (score 0, no sources), in the order asked."""
        if not doc_ids:
            return []
        client = self._require()
        expr = filters.combine(filters.field_in("doc_id", list(doc_ids)), "chunk_id == 0")
        with self._errors("fetching chunks"):
            rows = client.query(
                self.collection,
                filter=expr,
                output_fields=OUTPUT_FIELDS,
                limit=len(doc_ids),
                **self._read_opts(),
            )
        by_doc = {r["doc_id"]: hit_from_entity(str(r["id"]), 0.0, r, {}) for r in rows}
        return [by_doc[d] for d in doc_ids if d in by_doc]

    def document_chunks(self, doc_ids: Sequence[str]) -> list[Hit]:
        """Every chunk of the given documents (score 0, no sources), by document as asked, then chunk_id."""
        if not doc_ids:
            return []
        client = self._require()
        with self._errors("fetching chunks"):
            rows = client.query(
                self.collection,
                filter=filters.field_in("doc_id", list(doc_ids)),
                output_fields=OUTPUT_FIELDS,
                limit=MAX_DOCUMENT_CHUNKS * len(doc_ids),
                **self._read_opts(),
            )
        order = {d: i for i, d in enumerate(doc_ids)}
        hits = [hit_from_entity(str(r["id"]), 0.0, r, {}) for r in rows]
        return sorted(hits, key=lambda h: (order.get(h.doc_id, len(order)), h.chunk_id))

    def hybrid_search(
        self,
        text: str | None,
        dense: Sequence[DenseQuery],
        top_k: int,
        search_filter: SearchFilter | None = None,
        fusion: FusionWeights | None = None,
    ) -> list[Hit]:
        check_hybrid_request(dense, top_k)
        dims = {"dense": self.dim, "text_dense": self.text_dim}
        requests = dense_requests(dense, dims, self.dense_enabled)
        terms = textnorm.normalise(text) if text else ""
        client = self._require()
        sources = SourceSearch(client, self.collection, self._read_opts(), self._dense, self._fulltext)
        with self._errors("searching"):
            per_source, entities = sources.run(terms, requests, top_k, search_filter)
            fused, per_source = sources.fuse(per_source, entities, fusion or FusionWeights.equal(), top_k)
        hits = []
        for pk, score in fused:
            ranks = {name: found[pk] for name, found in per_source.items() if pk in found}
            hits.append(hit_from_entity(pk, score, entities[pk], ranks))
        return hits

    # ---- helpers -----------------------------------------------------------------------------

    def _require(self) -> Any:
        if self._client is None:
            raise StoreError("the Milvus store is not open; call open() first")
        return self._client

    def _read_opts(self) -> dict[str, Any]:
        """Reads see every earlier write of this process, even on a collection made elsewhere."""
        return {"timeout": self._timeout_s, "consistency_level": "Strong"}

    def _where(self) -> str:
        return f"Milvus Lite dir {self.uri}" if self._lite else self.uri

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn pymilvus / gRPC / milvus-lite failures into a StoreError that says what to do."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except StoreError:
            raise
        except MilvusException as exc:
            detail = getattr(exc, "message", None) or str(exc)
            if self._lite and "Open local milvus failed" in detail and milvus_lite.dir_locked(self.uri):
                raise milvus_lite.in_use_error(self.uri) from exc
            raise StoreError(f"{action} failed at {self._where()}: {detail}; {self._advice()}") from exc
        except Exception as exc:  # grpc.RpcError, milvus-lite errors, socket errors
            raise StoreError(f"{action} failed at {self._where()}: {exc}; {self._advice()}") from exc

    def _advice(self) -> str:
        if self._lite:
            return "check the data dir is writable and not corrupt, or use a fresh --data-dir and re-ingest"
        return "check the server is running and reachable, the token/credentials and --milvus-timeout"
