"""Incremental knowledge-graph updates touch only what changed, yet equal a fresh build.

The sample KB's text documents are added in a shuffled order, some removed and re-added, some
replaced by an edited version (a new product phrase that changes the learnt gazetteer); after every
step the graph must equal a fresh build of the same documents, also after a save and load.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from core.config import Limits
from core.types import Chunk
from knowledge_graph.graph import NetworkxGraph
from knowledge_graph.words import WordIndex
from retrieval.documents.loaders import load_chunks
from retrieval.documents.walk import discover

KB = Path(__file__).resolve().parent.parent / "data" / "kb"


def kb_documents() -> dict[str, list[Chunk]]:
    docs: dict[str, list[Chunk]] = {}
    for kb_file in discover(KB):
        if kb_file.path.suffix not in (".md", ".txt", ".csv"):
            continue
        for chunk in load_chunks(kb_file, Limits()).chunks:
            if chunk.modality == "text":
                docs.setdefault(chunk.doc_id, []).append(chunk)
    return docs


def fresh(docs: dict[str, list[Chunk]]) -> dict:
    graph = NetworkxGraph()
    for doc_id in sorted(docs):
        graph.upsert_document(doc_id, docs[doc_id])
    return graph.to_node_link()


def edited(chunks: list[Chunk]) -> list[Chunk]:
    """The document declaring a new entity (the gazetteer changes) and naming it and a product."""
    extra = " The Q900 Beacon pairs with the X200 Router. Q900 Beacon users see E-42 after v2.0.1."
    out = []
    for chunk in chunks:
        names = [*(chunk.metadata.get("entities") or []), "Q900 Beacon", "Beacon reset"]
        text = chunk.text + extra if chunk.chunk_id == 0 else chunk.text
        out.append(replace(chunk, text=text, metadata={**chunk.metadata, "entities": names}))
    return out


def test_incremental_graph_equals_fresh_build(tmp_path: Path) -> None:
    docs = kb_documents()
    assert len(docs) >= 10
    rng = random.Random(1)
    order = sorted(docs)
    rng.shuffle(order)
    graph = NetworkxGraph()
    for doc_id in order:
        graph.upsert_document(doc_id, docs[doc_id])
    current = dict(docs)
    assert graph.to_node_link() == fresh(current)
    for doc_id in rng.sample(order, 3):
        graph.remove_document(doc_id)
        del current[doc_id]
    assert graph.to_node_link() == fresh(current)
    learnt = []
    for doc_id in rng.sample(sorted(current), 3):
        before = graph.gazetteer
        current[doc_id] = edited(current[doc_id])
        graph.upsert_document(doc_id, current[doc_id])
        learnt.append(graph.gazetteer != before)
    assert graph.to_node_link() == fresh(current)
    assert learnt[0] and graph.gazetteer.lookup("Q900 Beacon") is not None
    loaded = NetworkxGraph.load(graph.save(tmp_path))
    assert loaded.to_node_link() == graph.to_node_link()
    gone = sorted(current)[0]
    loaded.remove_document(gone)
    del current[gone]
    assert loaded.to_node_link() == fresh(current)


def test_word_index_finds_every_document_that_could_mention_an_alias() -> None:
    index = WordIndex()
    chunk = Chunk("a.md", 0, "text", "Reset the X-200 smartplug, then the routers.", "", "a.md")
    index.add("a.md", [chunk])
    index.add("b.md", [replace(chunk, doc_id="b.md", text="Nothing to see here.")])
    for alias in ("X200", "smart plug", "router", "x"):
        assert "a.md" in index.candidates(alias), alias
    assert index.candidates("camera") == set()
    texts = {"a.md": [chunk.text], "b.md": ["Nothing to see here."]}
    assert index.docs_matching(["X200 Router"], texts.__getitem__) == set()
    assert index.docs_matching(["X200", "Hub"], texts.__getitem__) == {"a.md"}
    index.remove("a.md")
    assert index.candidates("X200") == set()
