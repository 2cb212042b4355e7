"""Builds the `VectorStore` a run's settings ask for (today: Milvus, Lite or server, chosen by URI)."""

from __future__ import annotations

from core.config import Settings
from retrieval.stores.milvus import MilvusStore
from retrieval.stores.protocol import VectorStore


def make_store(settings: Settings, dim: int, dense_enabled: bool) -> VectorStore:
    """An unopened store for `settings`: Milvus Lite at `<data_dir>/milvus.db` or the server URI.

    `milvus_token` may be an API key or `user:password`. Call `open()` on the result before use.
    """
    return MilvusStore(
        settings.milvus_path,
        collection=settings.collection,
        dim=dim,
        token=settings.milvus_token,
        timeout_s=settings.milvus_timeout_s,
        dense_enabled=dense_enabled,
    )
