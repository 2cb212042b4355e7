"""Ranking the documents the knowledge graph reaches from a conversation's entities.

The graph walk (`NetworkxGraph.documents_for`) gives, for every seed entity, the documents it
reaches and how strongly (hop factors times link strength, see `graph._doc_links`). This module
turns those per-seed reaches into one ranking. A document scores higher when

* it is reached strongly from heavily weighted seeds: a seed's weight is its activation, times a
  prior for its type (an error code or symptom says more about what the customer needs than a
  product name or a version number read off a status bar), doubled when the current question is
  about it (`focus`: the entities it names or its pronouns stand for);
* it covers *all* the seeds, not just one (`coverage`, counting the seeds that name the document
  themselves, not through a neighbour): the E-42 article that names the M10 and the X200 beats a
  release note that names only the M10;
* it is the kind of document that answers: a troubleshooting article that an active error code or
  symptom reaches itself (or through its fix); a KB screenshot or sound only shows the problem, so
  it counts half;
* it is specific: a document tied to many entities (an error-code index, a release note listing
  every product) is divided by the square root of its breadth;
* its title or section headings share words with the question ("which power adapter ..." and
  "Power adapters for Aeris Home devices").

Every factor is explainable, and the returned path is the strongest seed's path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.errors import ConfigError
from core.textnorm import tokens

DEFAULT_TYPE_PRIORS: Mapping[str, float] = {
    "error_code": 1.0,
    "symptom": 1.0,
    "fix": 1.0,
    "policy": 0.8,
    "component": 0.8,
    "product": 0.7,
    "version": 0.6,
}
PROBLEM_TYPES = frozenset({"error_code", "symptom", "fix"})

Reach = tuple[float, tuple[str, ...]]
"""(strength in [0, 1], path from the seed to `doc:<doc_id>`)."""


@dataclass(frozen=True)
class RankOptions:
    """Weights of the ranking; the defaults were set on the sample KB's conversations."""

    type_priors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TYPE_PRIORS))
    focus_boost: float = 2.0
    coverage_floor: float = 0.5
    media_factor: float = 0.5
    troubleshooting_factor: float = 1.25
    breadth_entities: int = 10
    fit_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.focus_boost < 1.0:
            raise ConfigError(f"focus_boost must be >= 1, got {self.focus_boost}")
        if not 0.0 < self.media_factor <= 1.0:
            raise ConfigError(f"media_factor must be in (0, 1], got {self.media_factor}")
        if self.coverage_floor < 0 or self.fit_weight < 0 or self.troubleshooting_factor < 1.0:
            raise ConfigError("need coverage_floor >= 0, fit_weight >= 0 and troubleshooting_factor >= 1")
        if self.breadth_entities < 1:
            raise ConfigError(f"breadth_entities must be >= 1, got {self.breadth_entities}")
        bad = {k: v for k, v in self.type_priors.items() if v < 0}
        if bad:
            raise ConfigError(f"type priors must be >= 0, got {bad}")


@dataclass(frozen=True)
class DocProfile:
    """What the ranking needs to know about one document besides how the seeds reach it.

    `kind` is `media` (a KB image or sound), `troubleshooting` or `article`; `entities` the number
    of distinct entities it is about or mentions; `topic` the normalised terms of its title and
    section headings.
    """

    doc_id: str
    kind: str
    entities: int
    topic: frozenset[str]


def topic_terms(texts: Iterable[str]) -> frozenset[str]:
    """The normalised (stemmed, stop-word-free) terms of titles and headings."""
    return frozenset(t for text in texts for t in tokens(text))


@dataclass(frozen=True)
class Seed:
    """One seed entity: its activation `weight`, its `type` and whether the question is about it."""

    id: str
    type: str
    weight: float
    focus: bool = False

    def strength(self, options: RankOptions) -> float:
        prior = options.type_priors.get(self.type, 1.0)
        return self.weight * prior * (options.focus_boost if self.focus else 1.0)


def rank_documents(
    reaches: Mapping[str, Mapping[str, Reach]],
    seeds: Mapping[str, Seed],
    profiles: Mapping[str, DocProfile],
    query: str = "",
    options: RankOptions | None = None,
) -> list[tuple[str, tuple[str, ...], float]]:
    """(doc_id, path, score) best first; ties broken by fewer entities, then doc_id.

    `reaches[seed_id][doc_id]` is how strongly and by which path a seed reaches a document.
    """
    opts = options or RankOptions()
    strengths = {s: seeds[s].strength(opts) for s in reaches if s in seeds}
    total = sum(strengths.values())
    if total <= 0:
        return []
    # Troubleshooting articles count more when a problem seed reaches them itself or via its fix.
    answers = {
        d
        for s in strengths
        if seeds[s].type in PROBLEM_TYPES
        for d, (_, path) in reaches[s].items()
        if _direct(path)
    }
    asked = set(tokens(query)) if query.strip() else set()
    relevance: dict[str, float] = {}
    covered: dict[str, float] = {}
    best: dict[str, tuple[float, tuple[str, ...]]] = {}
    for seed_id in sorted(strengths):
        weight = strengths[seed_id]
        for doc_id, (reach, path) in reaches[seed_id].items():
            value = weight * reach
            if value <= 0:
                continue
            relevance[doc_id] = relevance.get(doc_id, 0.0) + value
            if _direct(path):
                covered[doc_id] = covered.get(doc_id, 0.0) + weight
            if doc_id not in best or value > best[doc_id][0]:
                best[doc_id] = (value, path)
    scores: dict[str, float] = {}
    for doc_id, rel in relevance.items():
        profile = profiles.get(doc_id) or DocProfile(doc_id, "article", 1, frozenset())
        score = rel * (opts.coverage_floor + covered.get(doc_id, 0.0) / total)
        if profile.kind == "media":
            score *= opts.media_factor
        elif profile.kind == "troubleshooting" and doc_id in answers:
            score *= opts.troubleshooting_factor
        score /= math.sqrt(max(1.0, profile.entities / opts.breadth_entities))
        if asked:
            score *= 1.0 + opts.fit_weight * len(asked & profile.topic) / len(asked)
        scores[doc_id] = score
    breadth = {d: (profiles[d].entities if d in profiles else 1) for d in scores}
    ranked = sorted(scores, key=lambda d: (-round(scores[d], 9), breadth[d], d))
    return [(d, best[d][1], round(scores[d], 6)) for d in ranked]


_SAME_THING = frozenset({"-fixed_by->", "-variant_of->", "-symptom_of->"})


def _direct(path: tuple[str, ...]) -> bool:
    """Whether a path ties the seed to the document itself: named there, or one step away through
    what stands for the same problem or product (`E-42 -fixed_by-> fix -in-> doc`, `two beeps
    -symptom_of-> E-73 <-about- doc`, `X200/blue -variant_of-> X200 <-about- doc`)."""
    return len(path) == 3 or (len(path) == 5 and path[1] in _SAME_THING)
