"""Knowledge graph: normalisation, gazetteer, edges with provenance, incremental updates, persistence."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError, InputError
from core.types import Chunk
from knowledge_graph.entities import (
    Entity,
    entity_from_id,
    normalise_error_code,
    normalise_version,
    pattern_mentions,
)
from knowledge_graph.factory import load_graph, make_graph
from knowledge_graph.graph import NetworkxGraph
from knowledge_graph.lexicon import gazetteer_from_chunks
from knowledge_graph.protocol import ContextGraph, GraphHit, graph_candidates


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


def build(*docs: list[Chunk]) -> NetworkxGraph:
    graph = NetworkxGraph()
    for chunks in docs:
        graph.upsert_document(chunks[0].doc_id, chunks)
    return graph


def edge_docs(graph: NetworkxGraph, source: str, target: str, relation: str) -> list[str] | None:
    for edge in graph.to_node_link()["edges"]:
        if (edge["source"], edge["target"], edge["key"]) == (source, target, relation):
            return list(edge["docs"])
    return None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("E42", "E-42"),
        ("E-42", "E-42"),
        ("e 42", "E-42"),
        ("e-42", "E-42"),
        ("E_42", "E-42"),
        ("error 42", "E-42"),
        ("Error 42", "E-42"),
        ("error code 42", "E-42"),
        ("ERROR CODE E42", "E-42"),
        ("error #42", "E-42"),
        ("error42", "E-42"),
        ("E-042", "E-42"),
        ("E-7", "E-07"),
        ("X42", None),
        ("E42X", None),
        ("4.2", None),
        ("", None),
    ],
)
def test_error_code_normalisation(text: str, expected: str | None) -> None:
    assert normalise_error_code(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v3.0.1", "3.0.1"),
        ("V3.0.1", "3.0.1"),
        ("firmware 3.0.1", "3.0.1"),
        ("Firmware version 2.1.7", "2.1.7"),
        ("fw 2.1.4", "2.1.4"),
        ("app 4.2.x", "4.2.x"),
        ("version 4.3", "4.3"),
        ("3.0.1", "3.0.1"),
        ("2.4", None),  # a bare two-part number (2.4 GHz) is not a version
        ("192.168.1.1", None),
        ("firmware", None),
    ],
)
def test_version_normalisation(text: str, expected: str | None) -> None:
    assert normalise_version(text) == expected


def test_patterns_in_running_text() -> None:
    found = pattern_mentions("It beeps three short beeps, shows e 42 on 2.4 GHz at 192.168.60.1 after v3.0.1")
    assert [m.entity.id for m in found] == ["symptom:beeps-3-short", "error_code:E-42", "version:3.0.1"]
    assert found[1].surface == "e 42"
    assert entity_from_id("error_code:E42") == Entity(
        "error_code:E-42", "error_code", "E-42", ("E-42", "E42", "error 42")
    )
    assert entity_from_id("product:X200") is None


def test_gazetteer_aliases_and_editions() -> None:
    gaz = gazetteer_from_chunks([*doc_a(), *doc_b(), *doc_c(), *doc_d()])
    x200 = gaz.get("product:X200")
    assert x200 is not None and x200.name == "X200 Router"  # the name is learnt from the KB text
    assert x200.attr("editions") == "blue,white"
    for surface in ("X200", "x-200", "X200 Router", "the X200", "x 200 router", "X-200"):
        assert gaz.lookup(surface) == x200, surface
    blue = gaz.lookup("blue X200")
    assert blue is not None and blue.id == "product:X200/blue"
    assert blue.attr("colour") == "blue" and blue.attr("variant_of") == "product:X200"
    links = gaz.link(
        "My x-200 router (the blue X200) lost the mesh extender; the hub is fine, hub alone not."
    )
    ids = [m.entity.id for m in links]
    assert ids == ["product:X200", "product:X200/blue", "product:M10", "product:H1"]
    assert links[0].surface == "x-200 router" and links[0].span == (3, 15)
    assert [m.entity.id for m in gaz.link("Unplug it and plug it in; see AD-12W.")] == ["component:AD-12W"]
    zigbee = gaz.lookup("zigbee")
    assert zigbee is not None and zigbee.type == "component"


def test_edges_and_provenance() -> None:
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


def test_remove_keeps_shared_entities() -> None:
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


def test_incremental_updates_equal_fresh_build() -> None:
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


def test_removing_a_document_relearns_names_of_the_others() -> None:
    # b.md is what teaches "X200 Router" (the name) and the white edition; without it they go.
    graph = build(doc_a(), doc_b())
    graph.remove_document("b.md")
    x200 = graph.entity("product:X200")
    assert x200 is not None and x200.attr("editions") == "blue"
    assert graph.to_node_link() == build(doc_a()).to_node_link()


def test_upsert_validates_chunks() -> None:
    graph = NetworkxGraph()
    with pytest.raises(InputError, match="group chunks by doc_id"):
        graph.upsert_document("b.md", doc_a())
    with pytest.raises(InputError, match="remove_document"):
        graph.upsert_document("a.md", [])


def test_persist_round_trip(tmp_path: Path) -> None:
    graph = build(doc_a(), doc_b(), doc_c("new"))
    written = graph.save(tmp_path)
    assert written == tmp_path / "graph.json"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.json"]  # no temp file left behind
    data = json.loads(written.read_text())
    assert data["directed"] and data["multigraph"] and data["graph"] == {"schema": 1}
    loaded = NetworkxGraph.load(written)
    assert loaded.to_node_link() == graph.to_node_link()
    assert loaded.gazetteer == graph.gazetteer
    # the loaded graph keeps updating like the original
    loaded.remove_document("b.md")
    graph.remove_document("b.md")
    assert loaded.to_node_link() == graph.to_node_link()


def test_load_errors_and_factory(tmp_path: Path) -> None:
    bad = tmp_path / "graph.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="re-run ingestion"):
        NetworkxGraph.load(bad)
    empty = load_graph(tmp_path / "missing")
    assert isinstance(empty, ContextGraph) and empty.doc_ids() == set()
    build(doc_d()).save(tmp_path / "kg" / "graph.json")
    assert load_graph(tmp_path / "kg").doc_ids() == {"d.md"}
    assert isinstance(make_graph(), NetworkxGraph)
    with pytest.raises(ConfigError, match="networkx"):
        make_graph(None, "neo4j")


def test_stats() -> None:
    stats = build(doc_a(), doc_b()).stats()
    assert stats["document"] == 2 and stats["chunk"] == 4
    assert stats["product"] == 4  # X200, X200/blue, X200/white, M10
    assert stats["error_code"] == 2 and stats["fix"] == 1 and stats["version"] == 1
    assert stats["component"] == 1 and stats["policy"] == 0
    assert stats["edge:part_of"] == 4 and stats["edge:fixed_by"] == 1


def test_neighbours_paths() -> None:
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


def test_documents_for_and_graph_candidates() -> None:
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


def test_sample_kb_builds(sample_kb: Path) -> None:
    """The shipped KB (when present) gives the expected core entities; read with a minimal reader."""
    import yaml

    graph = NetworkxGraph()
    for path in sorted(sample_kb.rglob("*.md")):
        raw = path.read_text(encoding="utf-8")
        front: dict[str, object] = {}
        if raw.startswith("---\n"):
            head, _, raw = raw[4:].partition("\n---\n")
            front = yaml.safe_load(head) or {}
        title = str(front.get("title", path.stem))
        meta = {k: front.get(k) or [] for k in ("product", "entities", "tags")} | {"title": title}
        doc_id = str(path.relative_to(sample_kb))
        graph.upsert_document(
            doc_id, [Chunk(doc_id, 0, "text", f"{title}\n\n{raw}", title, doc_id, title, None, meta)]
        )
    for entity_id in ("product:X200", "product:X200/blue", "product:M10", "error_code:E-42"):
        assert graph.entity(entity_id) is not None, entity_id
    hits = graph.documents_for(["error_code:E-42"])
    assert any("e42" in doc_id for doc_id, _, _ in hits[:3])
