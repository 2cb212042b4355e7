"""Knowledge graph: normalisation, gazetteer, edges with provenance, incremental updates, persistence."""

from __future__ import annotations

import json
from pathlib import Path

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
from knowledge_graph.protocol import ContextGraph
from tests.contract_context_graph import ContextGraphContract, doc_a, doc_b, doc_c, doc_d


class TestNetworkxGraphContract(ContextGraphContract):
    @pytest.fixture
    def graph_type(self) -> type[ContextGraph]:
        return NetworkxGraph


def build(*docs: list[Chunk]) -> NetworkxGraph:
    graph = NetworkxGraph()
    for chunks in docs:
        graph.upsert_document(chunks[0].doc_id, chunks)
    return graph


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
