"""How the retrieval sources are weighted when their rankings are fused (weighted RRF).

Each source adds `weight / (RRF_K + rank)` to a hit's fused score. The defaults were chosen on the
development split of `bench/generalization.py` (Bitext FAQ pages, generic follow-ups, ABCD guidelines
and the sample KB sets) and are reported on its test split; `FusionWeights.equal()` is plain RRF, the
behaviour before the weights were tuned. The knowledge graph only boosts: it adds its share to a
document a store source found, and a document only the graph proposes enters at `graph_new` times its
share, so a document both text channels rank high is not displaced by graph neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError

SENTENCE_SOURCE = "dense:sentence"  # the text embedder (all-MiniLM-L6-v2 by default)
SHARED_SOURCES = ("dense:text", "dense:image", "dense:audio")  # ImageBind's shared space


@dataclass(frozen=True)
class FusionWeights:
    """Per-source RRF weights, the media prior for typed questions, and the graph's two shares."""

    bm25: float = 1.0
    sentence: float = 1.0
    shared: float = 1.0
    graph: float = 1.0
    graph_new: float = 1.0
    media_prior: float = 0.98

    def __post_init__(self) -> None:
        for name in ("bm25", "sentence", "shared", "graph", "graph_new"):
            if not 0.0 <= getattr(self, name) <= 10.0:
                raise ConfigError(f"fusion weight {name} must be in [0, 10], got {getattr(self, name)}")
        if not 0.0 < self.media_prior <= 1.0:
            raise ConfigError(f"media_prior must be in (0, 1], got {self.media_prior}")

    @classmethod
    def equal(cls) -> FusionWeights:
        """Plain RRF: every source weighs 1 (the fusion before weights were chosen on data)."""
        return cls(1.0, 1.0, 1.0, 1.0, 1.0, 0.98)

    def by_source(self) -> dict[str, float]:
        """The store's per-source weights, keyed by source name."""
        return {"bm25": self.bm25, SENTENCE_SOURCE: self.sentence} | {s: self.shared for s in SHARED_SOURCES}


TUNED = FusionWeights()
