"""How the retrieval sources are fused: normalised-score fusion (default) or weighted RRF, weight per source.

`score`: each source adds `weight x its normalised score` — a cosine as it is, a BM25 score divided by
the best BM25 score of that query — so a clear dense match is not cancelled by a weak full-text rank.
`rrf`: each source adds `weight / (RRF_K + rank)`. Measured on the Bitext FAQ pages (dev split), any
RRF of the text embedder with BM25 scored below the text embedder alone, while score fusion with a
small BM25 weight scored above it. The defaults were chosen on the
development split of `bench/generalization.py` (Bitext FAQ pages, generic follow-ups, ABCD guidelines
and the sample KB sets) and are reported on its test split; `FusionWeights.equal()` is plain RRF, the
behaviour before the weights were tuned. The knowledge graph only boosts: it adds its share to a
document a store source found, and a document only the graph proposes enters at `graph_new` times its
share, so a document both text channels rank high is not displaced by graph neighbours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import ConfigError
from core.types import RRF_K, SourceScore

SENTENCE_SOURCE = "dense:sentence"  # the text embedder (all-MiniLM-L6-v2 by default)
SHARED_SOURCES = ("dense:text", "dense:image", "dense:audio")  # ImageBind's shared space


@dataclass(frozen=True)
class FusionWeights:
    """Per-source weights, the fusion `method`, the media prior for typed questions, and the graph's
    two shares."""

    method: str = "score"
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
        if self.method not in ("score", "rrf"):
            raise ConfigError(f"fusion method must be score or rrf, got {self.method!r}")
        if not 0.0 < self.media_prior <= 1.0:
            raise ConfigError(f"media_prior must be in (0, 1], got {self.media_prior}")

    @classmethod
    def equal(cls) -> FusionWeights:
        """Plain RRF: every source weighs 1 (the fusion before weights were chosen on data)."""
        return cls("rrf", 1.0, 1.0, 1.0, 1.0, 1.0, 0.98)

    def by_source(self) -> dict[str, float]:
        """The store's per-source weights, keyed by source name."""
        shared = {s: self.shared for s in SHARED_SOURCES}
        return {"bm25": self.bm25, SENTENCE_SOURCE: self.sentence, "graph": self.graph} | shared

    def share(self, name: str, source: SourceScore, best: float, weight: float | None = None) -> float:
        """What one source adds to a hit it ranked (`best`: that source's top raw score this query;
        `weight`: instead of the source's own)."""
        weight = self.by_source().get(name, 1.0) if weight is None else weight
        if self.method == "rrf":
            return weight / (RRF_K + source.rank)
        if name == "bm25" or not name.startswith("dense:"):
            return weight * (source.score / best if best > 0 else 0.0)
        return weight * source.score  # a cosine: comparable across queries as it is


def fuse(per_source: Mapping[str, Mapping[str, SourceScore]], weights: FusionWeights) -> dict[str, float]:
    """Fused score per hit id over every source's ranking (see the module doc)."""
    fused: dict[str, float] = {}
    for name, ranks in per_source.items():
        best = max((s.score for s in ranks.values()), default=0.0)
        for pk, source in ranks.items():
            fused[pk] = fused.get(pk, 0.0) + weights.share(name, source, best)
    return fused


# Chosen on the dev split (`python bench/generalization.py --tune`): best mean hit@1 over Bitext typed,
# Bitext follow-ups, ABCD and the sample KB (0.836; plain RRF 0.766), with chunk vectors blended with
# their headings (`retrieval.text_index`) and misspellings read (`retrieval.spelling`). The media prior:
# 0.8 and below rank equally (a typed question about a beep pattern finds the beep-code page before
# the sound clip's caption); the mildest of them is kept.
TUNED = FusionWeights(
    "score", bm25=0.07, sentence=1.0, shared=1.0, graph=0.1, graph_new=0.05, media_prior=0.8
)
