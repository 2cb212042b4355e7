"""The `ContextGraph` role (so a graph database can replace networkx later) and graph-assisted retrieval.

A context graph holds typed entities (see `knowledge_graph.entities`), one node per KB document
(`doc:<doc_id>`) and one per chunk, joined by relations that each remember which documents
support them (provenance), so a document can be replaced or removed exactly.

Paths are tuples alternating node ids and relation markers, read left to right:
`("product:X200", "-has_error->", "error_code:E-42", "-fixed_by->", "fix:...", "-in->", "doc:...")`;
an edge walked against its direction reads `"<-has_version-"`. `" ".join(path)` is the
human-readable reason shown in a trace.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.errors import ConfigError
from core.types import Chunk
from knowledge_graph.entities import Entity, EntityMention

RELATIONS: tuple[str, ...] = (
    "mentions",  # chunk -> entity
    "part_of",  # chunk -> doc
    "about",  # doc -> entity named in the front-matter (product, entities)
    "has_error",  # product -> error_code
    "applies_to",  # error_code -> product, fix -> product
    "fixed_by",  # error_code -> fix (a section that explains the fix)
    "has_version",  # product -> version
    "variant_of",  # colour edition -> base product, "two short beeps" -> "two beeps"
    "symptom_of",  # symptom -> error_code (named together in a title, or described by the error's article)
)

EntityWeights = Sequence[str] | Mapping[str, float]
"""Seed entities: ids (weight 1 each) or ids with an activation weight."""

DocPath = tuple[str, tuple[str, ...], float]
"""(doc_id, path, score) as returned by `ContextGraph.documents_for`."""


@runtime_checkable
class ContextGraph(Protocol):
    """Knowledge graph of the support domain, updated per document and queried by entity."""

    def upsert_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        """Add `doc_id` from its chunks; an existing `doc_id` is removed first (replace)."""
        ...

    def remove_document(self, doc_id: str) -> None:
        """Remove the document's nodes and every edge only it supported (no-op when absent)."""
        ...

    def doc_ids(self) -> set[str]: ...

    def entity(self, entity_id: str) -> Entity | None: ...

    def entities(self, type: str | None = None) -> list[Entity]:
        """Entities in the graph (of one type when given), sorted by id."""
        ...

    def neighbours(self, entity_id: str, hops: int = 1) -> list[tuple[str, ...]]:
        """Shortest path to every entity within `hops` entity-to-entity edges (either direction)."""
        ...

    def documents_for(
        self, entity_ids: EntityWeights, hops: int = 2, *, query: str = "", focus: Collection[str] = ()
    ) -> list[DocPath]:
        """Documents reached from the seed entities, best first, each with its best path and score.

        `query` (the customer's question) and `focus` (the entity ids it is about) refine the
        ranking: documents whose title or headings share its words, and that the focused entities
        reach, come first (see `knowledge_graph.scoring`).
        """
        ...

    def link(self, text: str) -> list[EntityMention]:
        """Entities of this graph's gazetteer and of the regex patterns mentioned in `text`."""
        ...

    def stats(self) -> dict[str, int]:
        """Counts: one key per entity type, `document`, `chunk`, and `edge:<relation>`."""
        ...

    def save(self, path: str | Path) -> Path:
        """Write the graph (atomically); a directory gets `graph.json` inside. Returns the file."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> ContextGraph: ...

    def to_node_link(self) -> dict[str, Any]:
        """Canonical node-link dict (nodes and edges sorted), equal for equal graphs."""
        ...


@dataclass(frozen=True)
class GraphHit:
    """A document the graph proposes for the current entities, with the path that explains why."""

    doc_id: str
    path: tuple[str, ...]
    score: float

    @property
    def reason(self) -> str:
        return " ".join(self.path)


def graph_candidates(
    graph: ContextGraph,
    entity_ids: EntityWeights,
    hops: int = 2,
    limit: int = 20,
    *,
    query: str = "",
    focus: Collection[str] = (),
) -> list[GraphHit]:
    """Up to `limit` documents reachable from the (activation-weighted) entities, best first.

    The score falls with every hop (each relation has a factor, `fixed_by` the highest), is scaled
    by the seed's weight (doubled for `focus` entities) and favours documents that cover all seeds
    and fit the `query`; the path is the reason shown in the retrieval trace.
    """
    if hops < 0:
        raise ConfigError(f"hops must be >= 0, got {hops}")
    if limit < 1:
        raise ConfigError(f"limit must be >= 1, got {limit}")
    if not entity_ids:
        return []
    found = graph.documents_for(entity_ids, hops=hops, query=query, focus=focus)
    return [GraphHit(d, p, s) for d, p, s in found[:limit]]
