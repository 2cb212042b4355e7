"""A LangChain `BaseRetriever` over our hybrid retriever, for users who build chains on LangChain.

Each hit becomes a `Document` whose metadata carries doc_id, modality, fused score and every
source's rank and score, so a chain can cite and explain what it got.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from core.types import SearchFilter
from retrieval.retriever import MAX_TOP_K, Query, Retriever


class SupportKBRetriever(BaseRetriever):
    """`SupportKBRetriever(retriever=Retriever(store, embedder), k=4).invoke("error E-42")`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 4
    search_filter: SearchFilter | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        k = int(kwargs.get("k", self.k))
        k = max(1, min(k, MAX_TOP_K))
        result = self.retriever.search(Query(text=query), top_k=k, search_filter=self.search_filter)
        return [Document(page_content=hit.text, metadata=hit.to_dict(), id=hit.id) for hit in result.hits[:k]]
