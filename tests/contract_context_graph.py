"""Reusable contract tests every `ContextGraph` backend must pass (today: networkx).

Subclass in a `test_*.py` file and provide `graph_type`, a `ContextGraph` class whose constructor
takes no arguments:

    class TestMyGraphContract(ContextGraphContract):
        @pytest.fixture
        def graph_type(self): return MyGraph

The documents are small hand-written support articles (`doc_a` .. `doc_d`); every check goes through
the protocol (`to_node_link`, `entity`, `neighbours`, `documents_for`, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from core.errors import ConfigError, InputError
from core.types import Chunk
from knowledge_graph.protocol import ContextGraph, GraphHit, graph_candidates

Build = Callable[..., ContextGraph]


def make_chunk(
    doc_id: str,
    n: int,
    body: str,
    *,
    title: str,
    product: str = "",
    entities: Sequence[str] = (),
    tags: Sequence[str] = (),
    heading: Sequence[str] = (),
) -> Chunk:
    header = " > ".join([title, *heading])
    meta = {
        "title": title,
        "product": product,
        "entities": list(entities),
        "tags": list(tags),
        "heading_path": list(heading),
        "kind": "document",
    }
    return Chunk(doc_id, n, "text", f"{header}\n\n{body}", body[:60], f"kb/{doc_id}", title, None, meta)


def doc_a() -> list[Chunk]:
    """Troubleshooting article: E-42 on the X200 and M10, with a fix section."""
    kw: dict[str, Any] = {
        "title": "Error E-42: Mesh link lost",
        "product": "X200, M10",
        "entities": ["E-42", "X200", "M10", "X200 Blue"],
        "tags": ["troubleshooting"],
    }
    return [
        make_chunk("a.md", 0, "E42 means the M10 Mesh Extender lost its link to the X200 Router.", **kw),
        make_chunk(
            "a.md",
            1,
            "Unplug the M10 Mesh Extender and pair it again. Then update the X200 to firmware 2.1.7.",
            heading=["Fix for the X200"],
            **kw,
        ),
    ]


def doc_b() -> list[Chunk]:
    """Manual: X200 Router editions and a power error."""
    kw: dict[str, Any] = {
        "title": "X200 Router setup guide",
        "product": "X200",
        "entities": ["X200", "X200 White", "AD-12W"],
    }
    return [
        make_chunk(
            "b.md",
            0,
            "The X200 Router comes as X200 White and X200 Blue. The X200 Router is fast.",
            **kw,
        ),
        make_chunk(
            "b.md", 1, "A weak adapter makes the X200 report E-35 and reboot.", heading=["Power"], **kw
        ),
    ]


def doc_c(version: str = "old") -> list[Chunk]:
    kw: dict[str, Any] = {
        "title": "H1 Hub setup",
        "product": "H1",
        "entities": ["H1", "Zigbee"],
        "tags": ["setup"],
    }
    if version == "old":
        return [make_chunk("c.md", 0, "The H1 Hub runs firmware 1.0.2. Error 91: radio failed.", **kw)]
    return [
        make_chunk("c.md", 0, "The H1 Hub runs firmware 1.1.0 now.", **kw),
        make_chunk("c.md", 1, "Restart the H1 Hub when it shows e 91.", heading=["Steps"], **kw),
    ]


def doc_d() -> list[Chunk]:
    kw: dict[str, Any] = {"title": "C5 Smart Camera storage", "product": "C5", "entities": ["C5", "microSD"]}
    return [make_chunk("d.md", 0, "The C5 Smart Camera shows E-57 when the microSD card fails.", **kw)]


def edge_docs(graph: ContextGraph, source: str, target: str, relation: str) -> list[str] | None:
    for edge in graph.to_node_link()["edges"]:
        if (edge["source"], edge["target"], edge["key"]) == (source, target, relation):
            return list(edge["docs"])
    return None


class ContextGraphContract:
    """The behaviour `knowledge_graph.protocol.ContextGraph` promises; subclasses supply `graph_type`."""

    @pytest.fixture
    def graph_type(self) -> type[ContextGraph]:
        raise NotImplementedError("subclasses provide the ContextGraph class")

    @pytest.fixture
    def build(self, graph_type: type[ContextGraph]) -> Build:
        def make(*docs: list[Chunk]) -> ContextGraph:
            graph = graph_type()
            for chunks in docs:
                graph.upsert_document(chunks[0].doc_id, chunks)
            return graph

        return make

    def test_edges_and_provenance(self, build: Build) -> None:
        graph = build(doc_a(), doc_b())
        assert edge_docs(graph, "product:X200", "error_code:E-42", "has_error") == ["a.md"]
        assert edge_docs(graph, "product:M10", "error_code:E-42", "has_error") == ["a.md"]
        assert edge_docs(graph, "error_code:E-42", "product:X200", "applies_to") == ["a.md"]
        assert edge_docs(graph, "product:X200", "error_code:E-35", "has_error") == ["b.md"]
        fix = "fix:a.md#fixforthex200"
        assert edge_docs(graph, "error_code:E-42", fix, "fixed_by") == ["a.md"]
        assert edge_docs(graph, fix, "product:X200", "applies_to") == ["a.md"]
        assert edge_docs(graph, "product:X200", "version:2.1.7", "has_version") == ["a.md"]
        assert edge_docs(graph, "product:X200/blue", "product:X200", "variant_of") == ["a.md", "b.md"]
        assert edge_docs(graph, "chunk:a.md#0", "doc:a.md", "part_of") == ["a.md"]
        assert edge_docs(graph, "chunk:a.md#0", "error_code:E-42", "mentions") == ["a.md"]
        assert edge_docs(graph, "doc:b.md", "component:AD-12W", "about") == ["b.md"]
        x200 = graph.entity("product:X200")
        assert x200 is not None and x200.type == "product"
        assert graph.entity("doc:a.md") is None  # documents are not entities
        nodes = {n["id"]: n for n in graph.to_node_link()["nodes"]}
        assert nodes["product:X200"]["docs"] == ["a.md", "b.md"]
        assert nodes["error_code:E-35"]["docs"] == ["b.md"]

    def test_remove_keeps_shared_entities(self, build: Build) -> None:
        graph = build(doc_a(), doc_b())
        graph.remove_document("a.md")
        assert graph.doc_ids() == {"b.md"}
        assert graph.entity("product:X200") is not None  # still mentioned by b.md
        assert graph.entity("error_code:E-42") is None  # only a.md mentioned it
        assert graph.entity("product:M10") is None
        # the blue edition was declared by a.md only (b.md writes "X200 Blue" once: too rare to learn)
        assert graph.entity("product:X200/blue") is None
        assert edge_docs(graph, "product:X200/white", "product:X200", "variant_of") == ["b.md"]
        assert all(n["id"] != "chunk:a.md#0" for n in graph.to_node_link()["nodes"])
        graph.remove_document("a.md")  # removing twice is a no-op
        assert graph.to_node_link() == build(doc_b()).to_node_link()

    def test_incremental_updates_equal_fresh_build(self, build: Build) -> None:
        fresh_abc = build(doc_a(), doc_b(), doc_c("new"))
        incremental = build(doc_a(), doc_b(), doc_c("old"))
        assert incremental.to_node_link() != fresh_abc.to_node_link()
        incremental.upsert_document("c.md", doc_c("new"))
        assert incremental.to_node_link() == fresh_abc.to_node_link()
        incremental.remove_document("b.md")
        incremental.upsert_document("d.md", doc_d())
        expected = build(doc_a(), doc_c("new"), doc_d()).to_node_link()
        assert incremental.to_node_link() == expected
        # document order does not matter either
        assert build(doc_d(), doc_c("new"), doc_a()).to_node_link() == expected

    def test_removing_a_document_relearns_names_of_the_others(self, build: Build) -> None:
        # b.md is what teaches "X200 Router" (the name) and the white edition; without it they go.
        graph = build(doc_a(), doc_b())
        graph.remove_document("b.md")
        x200 = graph.entity("product:X200")
        assert x200 is not None and x200.attr("editions") == "blue"
        assert graph.to_node_link() == build(doc_a()).to_node_link()

    def test_upsert_validates_chunks(self, build: Build) -> None:
        graph = build()
        with pytest.raises(InputError, match="group chunks by doc_id"):
            graph.upsert_document("b.md", doc_a())
        with pytest.raises(InputError, match="remove_document"):
            graph.upsert_document("a.md", [])

    def test_stats(self, build: Build) -> None:
        stats = build(doc_a(), doc_b()).stats()
        assert stats["document"] == 2 and stats["chunk"] == 4
        assert stats["product"] == 4  # X200, X200/blue, X200/white, M10
        assert stats["error_code"] == 2 and stats["fix"] == 1 and stats["version"] == 1
        assert stats["component"] == 1 and stats["policy"] == 0
        assert stats["edge:part_of"] == 4 and stats["edge:fixed_by"] == 1

    def test_neighbours_paths(self, build: Build) -> None:
        graph = build(doc_a(), doc_b())
        one = graph.neighbours("error_code:E-42", hops=1)
        assert ("error_code:E-42", "-fixed_by->", "fix:a.md#fixforthex200") in one
        assert ("error_code:E-42", "<-has_error-", "product:X200") in one or (
            "error_code:E-42",
            "-applies_to->",
            "product:X200",
        ) in one
        two = graph.neighbours("error_code:E-42", hops=2)
        reached = {p[-1] for p in two}
        assert {"error_code:E-35", "version:2.1.7", "product:X200/blue"} <= reached
        assert all(len(p) <= 5 for p in two)
        assert graph.neighbours("error_code:E-99") == []
        with pytest.raises(ConfigError):
            graph.neighbours("error_code:E-42", hops=-1)

    def test_documents_for_and_graph_candidates(self, build: Build) -> None:
        graph = build(doc_a(), doc_b(), doc_c("new"), doc_d())
        results = graph.documents_for(["error_code:E-42"], hops=2)
        assert results[0][0] == "a.md"
        assert "doc:c.md" not in {r[1][-1] for r in results}  # the hub article is unrelated
        hits = graph_candidates(graph, {"product:X200": 1.0, "error_code:E-35": 0.5}, hops=2, limit=2)
        assert [h.doc_id for h in hits] == ["b.md", "a.md"]
        assert isinstance(hits[0], GraphHit) and hits[0].score > hits[1].score
        two_hop = graph_candidates(graph, ["error_code:E-35"], hops=2)
        via = next(h for h in two_hop if h.doc_id == "a.md")
        assert via.reason == "error_code:E-35 -applies_to-> product:X200 <-about- doc:a.md"
        assert via.path[0::2] == ("error_code:E-35", "product:X200", "doc:a.md")
        assert [h.doc_id for h in graph_candidates(graph, ["error_code:E-35"], hops=0)] == ["b.md"]
        assert graph_candidates(graph, []) == []
        assert graph_candidates(graph, ["error_code:E-99"]) == []
        with pytest.raises(ConfigError):
            graph_candidates(graph, ["error_code:E-42"], limit=0)
