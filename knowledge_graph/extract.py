"""What one document contributes to the knowledge graph: its nodes and relation edges.

`extract_facts(doc_id, chunks, gazetteer)` links the document's chunks with the KB gazetteer and
returns `Facts`: node attributes by id (the document, its chunks, the entities it names, the fix
sections it holds) and `(source, target, relation)` edges (see `protocol.RELATIONS`). The graph
adds them with the document as provenance, so the same document always gives the same facts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core import textnorm
from core.types import Chunk
from knowledge_graph.entities import (
    Entity,
    EntityMention,
    Gazetteer,
    general_symptom,
    is_model_code,
    norm_key,
)

_FIX_HEADING = re.compile(
    r"\b(?:fix|fixes|fixing|solution|solv|steps|resolv|workaround|what to do|troubleshoot|first check)",
    re.IGNORECASE,
)
_TROUBLE_TAGS = frozenset({"troubleshooting", "troubleshoot", "error code", "error codes"})
_SENTENCE_END = re.compile(f"{textnorm.SENTENCE_END.pattern}|\n")  # a line break ends one too


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;]", value) if v.strip()]
    return [str(v).strip() for v in value or () if str(v).strip()] if isinstance(value, list | tuple) else []


@dataclass
class Facts:
    """What one document contributes: node attributes by id and (source, target, relation) edges."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str, str]] = field(default_factory=set)

    def entity(self, entity: Entity, gazetteer: Gazetteer) -> str:
        self.nodes[entity.id] = {
            "kind": "entity",
            "type": entity.type,
            "name": entity.name,
            "aliases": list(entity.aliases),
            "attributes": dict(entity.attributes),
        }
        base = entity.attr("variant_of")
        base_entity = gazetteer.get(base) if base else None
        if base_entity is not None:
            self.edges.add((entity.id, self.entity(base_entity, gazetteer), "variant_of"))
        general = general_symptom(entity)  # "two short beeps" is a kind of "two beeps"
        if general is not None:
            self.edges.add((entity.id, self.entity(general, gazetteer), "variant_of"))
        return entity.id


def _base(entity: Entity, gazetteer: Gazetteer) -> Entity:
    base = entity.attr("variant_of")
    return (gazetteer.get(base) if base else None) or entity


def _nearest_product(mentions: list[EntityMention], text: str, at: int) -> EntityMention | None:
    """The product mention closest to `at` in the same sentence, preferring one before it."""
    starts = [m.end() for m in _SENTENCE_END.finditer(text, 0, at)]
    start = starts[-1] if starts else 0
    after = _SENTENCE_END.search(text, at)
    end = after.start() if after else len(text)
    products = [m for m in mentions if m.entity.type == "product" and start <= m.span[0] < end]
    before = [m for m in products if m.span[0] < at]
    if before:
        return before[-1]
    return products[0] if products else None


@dataclass(frozen=True)
class _Doc:
    """What the whole document says about itself: front matter and title, linked."""

    doc_id: str
    node: str
    title: str
    trouble: bool
    fm_products: list[Entity]
    fm_entities: list[Entity]
    in_title: list[Entity]
    codes: set[Entity]

    @classmethod
    def of(cls, doc_id: str, first: Chunk, gaz: Gazetteer) -> _Doc:
        meta = first.metadata
        title = first.title or str(meta.get("title", ""))
        tags = [t.casefold() for t in _list(meta.get("tags"))]
        fm_products = [e for c in _list(meta.get("product")) if (e := gaz.get(f"product:{c}")) is not None]
        fm_entities = [m.entity for name in _list(meta.get("entities")) for m in gaz.link(name)]
        trouble = bool(set(tags) & _TROUBLE_TAGS) or meta.get("kind") == "troubleshooting"
        in_title = [m.entity for m in gaz.link(title)]
        codes = {e for e in in_title if e.type == "error_code"}
        codes |= {e for e in fm_entities if e.type == "error_code"}
        return cls(doc_id, f"doc:{doc_id}", title, trouble, fm_products, fm_entities, in_title, codes)


def _doc_facts(facts: Facts, doc: _Doc, chunks: Sequence[Chunk], gaz: Gazetteer) -> None:
    """The document node, what it is about, and the symptoms and errors of a troubleshooting article."""
    facts.nodes[doc.node] = {
        "kind": "doc",
        "doc_id": doc.doc_id,
        "title": doc.title,
        "troubleshooting": doc.trouble,
        "title_entities": sorted({e.id for e in doc.in_title}),
    }
    for entity in doc.fm_products + doc.fm_entities + doc.in_title:
        facts.edges.add((doc.node, facts.entity(entity, gaz), "about"))
    title_codes = [e for e in doc.in_title if e.type == "error_code"]
    symptoms = {e for e in doc.in_title if e.type == "symptom"}
    if doc.trouble and len(doc.codes) == 1:  # an article about one error: every symptom it describes
        symptoms |= {m.entity for c in chunks for m in gaz.link(c.text) if m.entity.type == "symptom"}
    for symptom in symptoms:
        for code in title_codes if len(doc.codes) != 1 else doc.codes:
            facts.edges.add((facts.entity(symptom, gaz), code.id, "symptom_of"))
    if doc.trouble:
        for product in doc.fm_products:
            for code in doc.codes:
                facts.edges.add((product.id, code.id, "has_error"))
                facts.edges.add((code.id, product.id, "applies_to"))


def _chunk_node(doc_id: str, chunk: Chunk) -> dict[str, Any]:
    return {
        "kind": "chunk",
        "doc_id": doc_id,
        "chunk_id": chunk.chunk_id,
        "modality": chunk.modality,
        "text": chunk.text,
        "dense_text": chunk.dense_text,
        "source": chunk.source,
        "title": chunk.title,
        "media_path": chunk.media_path,
        "metadata": _json_safe(dict(chunk.metadata)),
    }


def _error_edges(facts: Facts, doc: _Doc, codes: set[Entity], products: set[Entity], gaz: Gazetteer) -> None:
    """Each error code a chunk names belongs to each product it names (of the article's products)."""
    fm_ids = {p.id for p in doc.fm_products}
    for code in codes:
        for product in products:
            if fm_ids and _base(product, gaz).id not in fm_ids:
                continue  # e.g. "the app shows E-42" in a router article: the app is not the subject
            facts.edges.add((product.id, code.id, "has_error"))
            facts.edges.add((code.id, product.id, "applies_to"))


def _version_edges(facts: Facts, doc: _Doc, chunk: Chunk, body: list[EntityMention], gaz: Gazetteer) -> None:
    """A version belongs to the nearest product in its sentence (a model, for "firmware 2.1"), else to
    the article's one product."""
    for mention in body:
        if mention.entity.type != "version":
            continue
        prefix = chunk.text[max(0, mention.span[0] - 12) : mention.span[0]].casefold()
        device = "firmware" in prefix or "fw" in prefix.split()
        candidates = [m for m in body if not device or is_model_code(m.entity.attr("code") or "")]
        near = _nearest_product(candidates, chunk.text, mention.span[0])
        owner = near.entity if near else (doc.fm_products[0] if len(doc.fm_products) == 1 else None)
        if owner is not None:
            owner = _base(owner, gaz)
            facts.edges.add((facts.entity(owner, gaz), mention.entity.id, "has_version"))


def _fix_edges(
    facts: Facts, doc: _Doc, chunk: Chunk, codes: set[Entity], products: set[Entity], gaz: Gazetteer
) -> None:
    """A chunk under a fix heading ("Fix for the X300") is a fix of the codes and products it is for."""
    heading_path = _list(chunk.metadata.get("heading_path"))
    if not heading_path or not _FIX_HEADING.search(heading_path[-1]):
        return
    heading = " > ".join(heading_path)
    head_links = gaz.link(heading)
    fix_codes = {m.entity for m in head_links if m.entity.type == "error_code"} | doc.codes or codes
    applies = [m.entity for m in head_links if m.entity.type == "product"] or list(products)
    fix = Entity(
        f"fix:{doc.doc_id}#{norm_key(heading) or chunk.chunk_id}",
        "fix",
        f"{doc.title}: {heading}" if doc.title else heading,
        (),
        (("doc_id", doc.doc_id),),
    )
    facts.edges.add((f"chunk:{doc.doc_id}#{chunk.chunk_id}", facts.entity(fix, gaz), "mentions"))
    for code in fix_codes:
        facts.edges.add((code.id, fix.id, "fixed_by"))
    for product in applies or doc.fm_products:
        facts.edges.add((fix.id, facts.entity(product, gaz), "applies_to"))


def _chunk_facts(facts: Facts, doc: _Doc, chunk: Chunk, gaz: Gazetteer) -> None:
    """A chunk's node, what it mentions, and the errors, versions and fixes its body links."""
    node = f"chunk:{doc.doc_id}#{chunk.chunk_id}"
    facts.nodes[node] = _chunk_node(doc.doc_id, chunk)
    facts.edges.add((node, doc.node, "part_of"))
    mentions = gaz.link(chunk.text)
    first_line = chunk.text.split("\n", 1)[0]
    header_end = len(first_line) if doc.title and first_line.startswith(doc.title) else 0
    body = [m for m in mentions if m.span[0] >= header_end]  # the title line repeats in every chunk
    for mention in mentions:
        facts.edges.add((node, facts.entity(mention.entity, gaz), "mentions"))
    codes = {m.entity for m in body if m.entity.type == "error_code"}
    products = {m.entity for m in body if m.entity.type == "product"}
    _error_edges(facts, doc, codes, products, gaz)
    _version_edges(facts, doc, chunk, body, gaz)
    _fix_edges(facts, doc, chunk, codes, products, gaz)


def extract_facts(doc_id: str, chunks: Sequence[Chunk], gaz: Gazetteer) -> Facts:
    """Nodes and edges of one document, linked with `gaz`."""
    facts = Facts()
    chunks = sorted(chunks, key=lambda c: c.chunk_id)
    doc = _Doc.of(doc_id, chunks[0], gaz)
    _doc_facts(facts, doc, chunks, gaz)
    for chunk in chunks:
        _chunk_facts(facts, doc, chunk, gaz)
    return facts
