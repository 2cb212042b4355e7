"""Builds the `VectorStore` a run's settings ask for (the factory convention of `core.registry`).

Today one backend, Milvus: Milvus Lite at `<data_dir>/milvus.db`, or a server when the URI is http(s).
"""

from __future__ import annotations

from core.config import Settings
from core.registry import Registry
from retrieval.stores.milvus import MilvusStore
from retrieval.stores.protocol import VectorStore

DEFAULT_STORE = "milvus"


def _milvus(
    settings: Settings, *, dim: int, dense_enabled: bool, text_dim: int, rebuild_outdated: bool
) -> VectorStore:
    return MilvusStore(
        settings.milvus_path,
        collection=settings.collection,
        dim=dim,
        token=settings.milvus_token,
        timeout_s=settings.milvus_timeout_s,
        dense_enabled=dense_enabled,
        text_dim=text_dim,
        rebuild_outdated=rebuild_outdated,
    )


STORES: Registry[VectorStore] = Registry("vector store", {"milvus": _milvus})


def make_store(
    settings: Settings,
    name: str | None = None,
    *,
    dim: int,
    dense_enabled: bool,
    text_dim: int = 384,
    rebuild_outdated: bool = False,
) -> VectorStore:
    """An unopened store: Milvus Lite at `<data_dir>/milvus.db` or the server URI; call `open()` on it.

    `milvus_token` may be an API key or `user:password`. `text_dim` is the text embedder's width;
    `rebuild_outdated` (ingestion) lets `open()` replace a collection made before the text dense field.
    """
    return STORES.build(
        name or DEFAULT_STORE,
        settings,
        dim=dim,
        dense_enabled=dense_enabled,
        text_dim=text_dim,
        rebuild_outdated=rebuild_outdated,
    )
