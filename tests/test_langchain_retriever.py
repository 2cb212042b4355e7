"""The LangChain adapter passes langchain-tests' standard retriever suite over a real Milvus Lite index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from app.runtime import Runtime, open_runtime
from core.config import Settings
from retrieval.langchain_retriever import SupportKBRetriever

pytestmark = pytest.mark.slow  # real Milvus Lite behind the LangChain adapter

_state: dict[str, Runtime] = {}


@pytest.fixture(scope="module", autouse=True)
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("lc")
    kb = root / "kb"
    kb.mkdir()
    for i, colour in enumerate(["red", "green", "blue", "amber", "white"]):
        (kb / f"led-{colour}.md").write_text(
            f"# {colour} light\n\nA {colour} router light means state number {i}.\n", encoding="utf-8"
        )
    with open_runtime(Settings(data_dir=root / "data"), load_models=False) as rt:
        rt.ingestor(progress=False).run(kb)
        _state["rt"] = rt
        yield rt
        _state.clear()


class TestSupportKBRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[SupportKBRetriever]:
        return SupportKBRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": _state["rt"].retriever(), "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "what does the router light mean"


def test_documents_carry_trace_metadata(indexed: Runtime) -> None:
    docs = SupportKBRetriever(retriever=indexed.retriever(), k=3).invoke("blue light")
    assert isinstance(docs[0], Document)
    assert docs[0].metadata["doc_id"] == "led-blue.md"
    assert "bm25" in docs[0].metadata["sources"]
    assert "blue" in docs[0].page_content
