"""`NetworkxGraph`: the `ContextGraph` on a networkx MultiDiGraph, built and updated per document.

Nodes: entities (id `<type>:...`, attribute `kind="entity"`), documents (`doc:<doc_id>`) and chunks
(`chunk:<doc_id>#<n>`, holding the chunk so the graph can re-link it). Edges are keyed by relation
(see `protocol.RELATIONS`). Every node and edge carries `docs`: the sorted doc_ids that support it;
removing a document drops it from every `docs` list and deletes what is left unsupported.

The gazetteer is learnt from all documents; when an upsert or removal changes it, the other
documents are re-linked, so an incrementally updated graph always equals a fresh build of the same
documents. What one document contributes is computed in `knowledge_graph.extract`; how the
documents reached from a conversation's entities are ranked, in `knowledge_graph.scoring`.
Persisted as networkx node-link JSON (`graph.json`), written atomically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from core.errors import ConfigError, InputError
from core.types import Chunk
from knowledge_graph.entities import ENTITY_TYPES, Entity, EntityMention, Gazetteer
from knowledge_graph.extract import Facts, extract_facts
from knowledge_graph.lexicon import DocLexicon, LexiconTotals, lexicon_of
from knowledge_graph.protocol import DocPath, EntityWeights
from knowledge_graph.scoring import DocProfile, RankOptions, Seed, rank_documents, topic_terms
from knowledge_graph.words import WordIndex, chunk_texts

SCHEMA = 1
GRAPH_FILE = "graph.json"
# How much of a seed's weight survives walking one edge of each relation.
_FACTORS = {
    "fixed_by": 0.9,
    "symptom_of": 0.9,
    "variant_of": 0.8,
    "has_error": 0.7,
    "applies_to": 0.6,
    "has_version": 0.5,
}
_REVERSE = 0.5  # walking an edge against its direction (e.g. fix <-fixed_by- other error) counts less
_ENTITY_RELATIONS = frozenset(_FACTORS)


class NetworkxGraph:
    """In-memory context graph; cheap to construct, `load()` reads a saved one."""

    def __init__(self) -> None:
        self._g: nx.MultiDiGraph = nx.MultiDiGraph()
        self._lexicons: dict[str, DocLexicon] = {}
        self._totals = LexiconTotals()
        self._gazetteer = Gazetteer()
        self._profiles: dict[str, DocProfile] = {}
        # What each document put in the graph, so dropping one touches only its part.
        self._doc_nodes: dict[str, set[str]] = {}
        self._doc_edges: dict[str, set[tuple[str, str, str]]] = {}
        self._words = WordIndex()

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer

    # -- updates ---------------------------------------------------------------------------
    def upsert_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        if not chunks:
            raise InputError(f"no chunks given for document {doc_id!r}; call remove_document to delete it")
        wrong = sorted({c.doc_id for c in chunks if c.doc_id != doc_id})
        if wrong:
            raise InputError(
                f"chunks of {wrong!r} passed to upsert_document({doc_id!r}); group chunks by doc_id"
            )
        self._drop(doc_id)
        self._set_lexicon(doc_id, lexicon_of(chunks))
        self._relearn(skip=doc_id)
        self._words.add(doc_id, chunks)
        self._add(doc_id, extract_facts(doc_id, chunks, self._gazetteer))

    def remove_document(self, doc_id: str) -> None:
        if doc_id not in self._lexicons:
            return
        self._drop(doc_id)
        self._set_lexicon(doc_id, None)
        self._words.remove(doc_id)
        self._relearn()

    def _set_lexicon(self, doc_id: str, lexicon: DocLexicon | None) -> None:
        old = self._lexicons.pop(doc_id, None)
        if old is not None:
            self._totals.remove(old)
        if lexicon is not None:
            self._lexicons[doc_id] = lexicon
            self._totals.add(lexicon)

    def _relearn(self, skip: str | None = None) -> None:
        """Adopt the gazetteer the lexicons now give; when it changed, re-link the stored documents
        it can change: those holding a changed entity and those whose words could match one of the
        changed entities' aliases (old or new). Any other document links exactly as before, so the
        graph still equals a fresh build of the same documents."""
        entities = self._totals.entities()
        if entities == self._gazetteer.entities:
            return
        old, self._gazetteer = self._gazetteer, Gazetteer(entities)
        before = {e.id: e for e in old.entities}
        after = {e.id: e for e in entities}
        changed = [i for i in before.keys() | after.keys() if before.get(i) != after.get(i)]
        aliases = {a for i in changed for e in (before.get(i), after.get(i)) if e for a in e.aliases}
        affected = {d for i in changed if i in self._g for d in self._g.nodes[i]["docs"]}
        affected |= self._words.docs_matching(aliases, self._texts)
        for doc_id in sorted(affected - {skip}):
            if doc_id not in self._lexicons:
                continue
            chunks = self._chunks_of(doc_id)
            self._drop(doc_id)
            self._add(doc_id, extract_facts(doc_id, chunks, self._gazetteer))

    def _texts(self, doc_id: str) -> list[str]:
        return chunk_texts(self._chunks_of(doc_id))

    def _add(self, doc_id: str, facts: Facts) -> None:
        self._profiles.clear()
        nodes, edges = self._doc_nodes.setdefault(doc_id, set()), self._doc_edges.setdefault(doc_id, set())
        for node, attrs in facts.nodes.items():
            nodes.add(node)
            if node in self._g:
                data = self._g.nodes[node]
                data.update(attrs)
                data["docs"] = sorted({*data["docs"], doc_id})
            else:
                self._g.add_node(node, **attrs, docs=[doc_id])
        for source, target, relation in facts.edges:
            edges.add((source, target, relation))
            if self._g.has_edge(source, target, key=relation):
                data = self._g.edges[source, target, relation]
                data["docs"] = sorted({*data["docs"], doc_id})
            else:
                self._g.add_edge(source, target, key=relation, relation=relation, docs=[doc_id])

    def _drop(self, doc_id: str) -> None:
        self._profiles.clear()
        for source, target, key in self._doc_edges.pop(doc_id, ()):
            if not self._g.has_edge(source, target, key=key):
                continue
            data = self._g.edges[source, target, key]
            data["docs"] = [d for d in data["docs"] if d != doc_id]
            if not data["docs"]:
                self._g.remove_edge(source, target, key=key)
        for node in self._doc_nodes.pop(doc_id, ()):
            if node not in self._g:
                continue
            data = self._g.nodes[node]
            data["docs"] = [d for d in data["docs"] if d != doc_id]
            if not data["docs"]:
                self._g.remove_node(node)

    def _index_provenance(self) -> None:
        """Rebuild the per-document node and edge index from the `docs` lists (after a load)."""
        self._doc_nodes, self._doc_edges = {}, {}
        for node, data in self._g.nodes(data=True):
            for doc_id in data["docs"]:
                self._doc_nodes.setdefault(doc_id, set()).add(node)
        for source, target, key, data in self._g.edges(keys=True, data=True):
            for doc_id in data["docs"]:
                self._doc_edges.setdefault(doc_id, set()).add((source, target, key))

    def _chunks_of(self, doc_id: str) -> list[Chunk]:
        doc = f"doc:{doc_id}"
        if doc not in self._g:
            return []
        nodes = [self._g.nodes[n] for n in self._g.predecessors(doc) if self._g.nodes[n]["kind"] == "chunk"]
        return [
            Chunk(
                doc_id=d["doc_id"],
                chunk_id=d["chunk_id"],
                modality=d["modality"],
                text=d["text"],
                dense_text=d["dense_text"],
                source=d["source"],
                title=d["title"],
                media_path=d["media_path"],
                metadata=d["metadata"],
            )
            for d in sorted(nodes, key=lambda d: d["chunk_id"])
        ]

    # -- queries ---------------------------------------------------------------------------
    def doc_ids(self) -> set[str]:
        return set(self._lexicons)

    def entity(self, entity_id: str) -> Entity | None:
        data = self._g.nodes.get(entity_id)
        if data is None or data["kind"] != "entity":
            return None
        return Entity.from_dict({"id": entity_id, **data})

    def entities(self, type: str | None = None) -> list[Entity]:
        ids = sorted(n for n, d in self._g.nodes(data=True) if d["kind"] == "entity")
        found = [e for n in ids if (e := self.entity(n)) is not None]
        return [e for e in found if type is None or e.type == type]

    def link(self, text: str) -> list[EntityMention]:
        return self._gazetteer.link(text)

    def _entity_steps(self, node: str) -> list[tuple[str, str, str]]:
        """(neighbour, marker, relation) over entity-to-entity edges in both directions."""
        out_edges = self._g.out_edges(node, keys=True)
        in_edges = self._g.in_edges(node, keys=True)
        steps = [(t, f"-{k}->", k) for _, t, k in out_edges if k in _ENTITY_RELATIONS]
        steps += [(s, f"<-{k}-", k) for s, _, k in in_edges if k in _ENTITY_RELATIONS]
        return sorted(steps)

    def neighbours(self, entity_id: str, hops: int = 1) -> list[tuple[str, ...]]:
        if hops < 0:
            raise ConfigError(f"hops must be >= 0, got {hops}")
        if entity_id not in self._g:
            return []
        paths: dict[str, tuple[str, ...]] = {entity_id: (entity_id,)}
        frontier = [entity_id]
        for _ in range(hops):
            nxt: list[str] = []
            for node in frontier:
                for other, marker, _rel in self._entity_steps(node):
                    if other not in paths:
                        paths[other] = (*paths[node], marker, other)
                        nxt.append(other)
            frontier = nxt
        return sorted((p for n, p in paths.items() if n != entity_id), key=lambda p: (len(p), p))

    def _reach(self, seed: str, hops: int) -> dict[str, tuple[float, tuple[str, ...]]]:
        """Best (factor, path) to every entity within `hops` of `seed` (factor 1 for the seed)."""
        best: dict[str, tuple[float, tuple[str, ...]]] = {seed: (1.0, (seed,))}
        stack: list[tuple[str, float, tuple[str, ...], int]] = [(seed, 1.0, (seed,), 0)]
        while stack:
            node, factor, path, depth = stack.pop()
            if depth == hops:
                continue
            for other, marker, relation in self._entity_steps(node):
                value = factor * _FACTORS[relation] * (1.0 if marker.startswith("-") else _REVERSE)
                if other not in best or value > best[other][0]:
                    best[other] = (value, (*path, marker, other))
                    stack.append((other, value, best[other][1], depth + 1))
        return best

    def _doc_links(self, entity_id: str) -> dict[str, tuple[float, str]]:
        """Documents tied to an entity: doc_id -> (strength, path marker)."""
        fix_doc = dict(self._g.nodes[entity_id].get("attributes", {})).get("doc_id")
        incoming = [(self._g.nodes[s], k) for s, _, k in self._g.in_edges(entity_id, keys=True)]
        mentioned = {d["doc_id"] for d, k in incoming if k == "mentions"}
        about = {d["doc_id"]: entity_id in d["title_entities"] for d, k in incoming if k == "about"}
        links = {d: (0.6, "<-mentions-") for d in mentioned}
        for doc_id, in_title in about.items():
            links[doc_id] = (1.0 if in_title else 0.8 if doc_id in mentioned else 0.5, "<-about-")
        if fix_doc:
            links[fix_doc] = (1.0, "-in->")
        return links

    def documents_for(
        self,
        entity_ids: EntityWeights,
        hops: int = 2,
        *,
        query: str = "",
        focus: Collection[str] = (),
        options: RankOptions | None = None,
    ) -> list[DocPath]:
        if hops < 0:
            raise ConfigError(f"hops must be >= 0, got {hops}")
        weights = dict(entity_ids) if isinstance(entity_ids, Mapping) else dict.fromkeys(entity_ids, 1.0)
        seeds: dict[str, Seed] = {}
        reaches: dict[str, dict[str, tuple[float, tuple[str, ...]]]] = {}
        for seed_id in sorted(weights):
            entity = self.entity(seed_id)
            if entity is None or weights[seed_id] <= 0:
                continue
            seeds[seed_id] = Seed(seed_id, entity.type, float(weights[seed_id]), seed_id in focus)
            per_doc: dict[str, tuple[float, tuple[str, ...]]] = {}
            for node, (factor, path) in sorted(self._reach(seed_id, hops).items()):
                for doc_id, (strength, marker) in self._doc_links(node).items():
                    value = factor * strength
                    if doc_id not in per_doc or value > per_doc[doc_id][0]:
                        per_doc[doc_id] = (value, (*path, marker, f"doc:{doc_id}"))
            reaches[seed_id] = per_doc
        profiles = {d: self._profile(d) for per_doc in reaches.values() for d in per_doc}
        return rank_documents(reaches, seeds, profiles, query, options)

    def _profile(self, doc_id: str) -> DocProfile:
        """Kind, breadth and title/heading terms of one document (cached until the graph changes)."""
        cached = self._profiles.get(doc_id)
        if cached is not None:
            return cached
        doc = f"doc:{doc_id}"
        data = self._g.nodes[doc]
        chunks = [self._g.nodes[n] for n in self._g.predecessors(doc) if self._g.nodes[n]["kind"] == "chunk"]
        entities = {t for _, t, k in self._g.out_edges(doc, keys=True) if k == "about"}
        headings = [data.get("title", "")]
        for chunk in chunks:
            node = f"chunk:{doc_id}#{chunk['chunk_id']}"
            entities |= {t for _, t, k in self._g.out_edges(node, keys=True) if k == "mentions"}
            headings += [str(h) for h in chunk["metadata"].get("heading_path") or ()]
        if any(c["modality"] != "text" for c in chunks):
            kind = "media"
        else:
            kind = "troubleshooting" if data.get("troubleshooting") else "article"
        entities = {e for e in entities if not e.startswith("fix:")}
        profile = DocProfile(doc_id, kind, len(entities), topic_terms(dict.fromkeys(headings)))
        self._profiles[doc_id] = profile
        return profile

    def stats(self) -> dict[str, int]:
        counts = dict.fromkeys(ENTITY_TYPES, 0) | {"document": 0, "chunk": 0}
        for _, data in self._g.nodes(data=True):
            key = data["type"] if data["kind"] == "entity" else {"doc": "document"}.get(data["kind"], "chunk")
            counts[key] += 1
        for _, _, relation in self._g.edges(keys=True):
            counts[f"edge:{relation}"] = counts.get(f"edge:{relation}", 0) + 1
        return counts

    # -- persistence -----------------------------------------------------------------------
    def to_node_link(self) -> dict[str, Any]:
        data = nx.node_link_data(self._g, edges="edges")
        data["graph"] = {"schema": SCHEMA}
        data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
        data["edges"] = sorted(data["edges"], key=lambda e: (e["source"], e["target"], e["key"]))
        return data

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        if target.is_dir():
            target = target / GRAPH_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_node_link(), handle, ensure_ascii=False, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | Path) -> NetworkxGraph:
        source = Path(path)
        if source.is_dir():
            source = source / GRAPH_FILE
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
            if data.get("graph", {}).get("schema") != SCHEMA:
                raise ValueError(f"schema {data.get('graph', {}).get('schema')!r}, expected {SCHEMA}")
            graph = nx.node_link_graph(data, directed=True, multigraph=True, edges="edges")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"cannot read the knowledge graph {source}: {exc}; delete it and re-run ingestion"
            ) from exc
        loaded = cls()
        loaded._g = graph
        docs = sorted(d["doc_id"] for _, d in graph.nodes(data=True) if d["kind"] == "doc")
        for doc_id in docs:
            chunks = loaded._chunks_of(doc_id)
            loaded._set_lexicon(doc_id, lexicon_of(chunks))
            loaded._words.add(doc_id, chunks)
        loaded._gazetteer = Gazetteer(loaded._totals.entities())
        loaded._index_provenance()
        return loaded
