"""Hybrid multimodal retrieval: a text embedder, ImageBind's shared space and BM25, fused by weighted RRF.

A `Query` may hold typed text, an image and/or an audio clip (already decoded and checked by
`retrieval.media`), plus extra full-text terms from other readers (a screenshot's OCR text; a
voice-note transcript is in `text`). The text embedder (`dense:sentence`) embeds all of the query's
text — typed, heard or read on screen — against every chunk's text; each present modality becomes one
ImageBind request (`dense:text`, `dense:image`, `dense:audio`); all text becomes one BM25 request.
A follow-up that says little itself carries `context`: earlier questions with recency weights, added
to its full-text query and blended into its text-embedder vector. The store fuses the sources with
weighted RRF (`retrieval.fusion`). Documents proposed by the knowledge graph (`LinkedDoc`s with the
path that explains them) then boost the fused ranking as a source named `graph`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from core.errors import InputError
from core.types import Hit, Modality, SearchFilter, SourceScore, Waveform, leading_modality
from retrieval.embedders.protocol import Embedder, TextEmbedder
from retrieval.fusion import SENTENCE_SOURCE, TUNED, FusionWeights
from retrieval.spelling import Speller
from retrieval.stores.protocol import DenseQuery, VectorStore

MAX_TOP_K = 100


@dataclass(frozen=True)
class LinkedDoc:
    """A document proposed outside the store (e.g. a knowledge-graph path), best first."""

    doc_id: str
    score: float
    reason: str


@dataclass(frozen=True)
class Query:
    """One retrieval request. `extra_text`: more text read off the inputs (OCR text, parsed error codes);
    `dense_text`: what ImageBind's 77-token text encoder sees instead of `text`; `context`: earlier
    questions a low-content follow-up carries, each with its recency weight (0-1]; `own_weight`: how much
    the query's own text counts beside them (0: it names no topic, only the context is searched);
    `graph_boost`: times the graph's usual share, for a follow-up whose references the conversation
    resolved (the graph then stands for what "it" or "the same fix" means)."""

    text: str = ""
    image: Image.Image | None = None
    audio: Waveform | None = None
    extra_text: tuple[str, ...] = ()
    dense_text: str | None = None
    context: tuple[tuple[str, float], ...] = ()
    own_weight: float = 1.0
    graph_boost: float = 1.0

    @property
    def empty(self) -> bool:
        return not (
            self.text.strip() or self.image is not None or self.audio is not None or any(self.extra_text)
        )

    @property
    def modality(self) -> Modality:
        """The query's leading modality, for reporting: audio > image > text."""
        return leading_modality(self.image, self.audio)

    @property
    def full_text(self) -> str:
        return " ".join(part for part in (self.text, *self.extra_text) if part and part.strip())

    @property
    def search_text(self) -> str:
        """The full-text query: the query's own text (unless `own_weight` is 0 and context is carried)
        and the carried context, most recent first."""
        own = "" if self.context and self.own_weight == 0 else self.full_text
        return " ".join(part for part in (own, *(t for t, _ in self.context)) if part.strip())


@dataclass(frozen=True)
class RetrievalOptions:
    """`spelling`: search with customers' misspellings of knowledge-base words read as those words
    (`retrieval.spelling`); False searches the words as typed (the behaviour before issue 10)."""

    spelling: bool = True


@dataclass(frozen=True)
class RetrievalResult:
    """Hits best first, plus what the trace needs: which sources ran and how long each stage took.
    `dense` says whether ImageBind's shared space was searched; `dense_models` names the model behind
    each dense source (the text embedder's `dense:sentence` included)."""

    hits: tuple[Hit, ...]
    dense: bool
    sources: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    linked: tuple[LinkedDoc, ...] = ()
    dense_models: dict[str, str] = field(default_factory=dict)

    def doc_ids(self) -> list[str]:
        """Distinct doc_ids in rank order (several chunks of one document count once)."""
        return list(dict.fromkeys(hit.doc_id for hit in self.hits))


def check_top_k(top_k: int) -> None:
    """`InputError` unless 1 <= top_k <= MAX_TOP_K (checked before any work, e.g. by `search`)."""
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top-k must be between 1 and {MAX_TOP_K}, got {top_k}")


class Retriever:
    """Text embedder + ImageBind (Embedder) + BM25 over one store; either embedder may be None."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder | None,
        *,
        dense_note: str | None = None,
        text_embedder: TextEmbedder | None = None,
        weights: FusionWeights = TUNED,
        spelling: bool = True,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.dense_note = dense_note
        self.text_embedder = text_embedder
        self.weights = weights
        self._known: dict[str, bool] = {}
        self.speller = Speller(self.knows)  # which unknown words misspell the knowledge base's
        self.spelling = spelling  # search with those misspellings read as the words they misspell

    def search(
        self,
        query: Query,
        top_k: int = 5,
        search_filter: SearchFilter | None = None,
        linked: Sequence[LinkedDoc] = (),
    ) -> RetrievalResult:
        check_top_k(top_k)
        if query.empty:
            raise InputError("empty query: give some text, an image or an audio clip")
        timings: dict[str, float] = {}
        notes: list[str] = []
        query = self._spelled(query, notes)
        started = time.perf_counter()
        dense = self._sentence_queries(query) + self._shared_queries(query)
        if dense:
            timings["embed"] = (time.perf_counter() - started) * 1000
        if self.embedder is None and self.dense_note:
            notes.append(self.dense_note)
        full_text = query.search_text
        started = time.perf_counter()
        hits = self.store.hybrid_search(full_text or None, dense, top_k, search_filter, self.weights)
        timings["search"] = (time.perf_counter() - started) * 1000
        sources = [d.name for d in dense] + (["bm25"] if full_text else [])
        if linked:
            started = time.perf_counter()
            hits = self._fuse_linked(hits, linked, top_k, query.graph_boost)
            timings["graph_fusion"] = (time.perf_counter() - started) * 1000
            sources.append("graph")
        if query.image is None and query.audio is None and hits:
            hits = _prefer_documents(hits, self.weights.media_prior)
        if not sources:
            notes.append("nothing to search with: dense retrieval is off and the query has no text")
        return RetrievalResult(
            tuple(hits),
            self.embedder is not None,
            tuple(sources),
            timings,
            tuple(notes),
            tuple(linked),
            self.dense_models(),
        )

    def _spelled(self, query: Query, notes: list[str]) -> Query:
        """The query with misspellings of knowledge-base words read as those words (noted for the
        trace): "shippinh" finds the shipping page in full text and in the text embedder alike."""
        if not self.spelling or not query.text.strip():
            return query
        text = self.speller.correct(query.text)
        if text == query.text:
            return query
        notes.append(f"read the question as: {text}")
        own = query.dense_text if query.dense_text is not None else None
        return replace(query, text=text, dense_text=None if own is None else self.speller.correct(own))

    def knows(self, term: str) -> bool:
        """Whether any chunk of the knowledge base contains the (normalised) full-text `term`."""
        if term not in self._known:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[term] = bool(self.store.hybrid_search(term, [], 1))
        return self._known[term]

    def dense_models(self) -> dict[str, str]:
        """Each dense source this retriever can run, with the model behind it (for the trace)."""
        out: dict[str, str] = {}
        if self.text_embedder is not None:
            out[SENTENCE_SOURCE] = f"{self.text_embedder.name} ({self.text_embedder.dim}-d)"
        if self.embedder is not None:
            for name in ("dense:text", "dense:image", "dense:audio"):
                out[name] = f"{self.embedder.name} ({self.embedder.dim}-d)"
        return out

    def _fuse_linked(
        self, hits: list[Hit], linked: Sequence[LinkedDoc], top_k: int, boost: float = 1.0
    ) -> list[Hit]:
        """Adds the `graph` source's weighted share (times `boost`) to the best chunk of each linked
        document; a document no store source found enters at the smaller `graph_new` weight. The
        graph boosts, it does not displace: its share never lifts a hit above one that every store
        source ranked high and better (`_kept_below`), except for a boosted follow-up, whose "this" or
        "the same fix" the conversation resolved: there the graph's document for it is what it means."""
        rank_of = {doc.doc_id: (rank, doc.score) for rank, doc in enumerate(linked, start=1)}
        top = max((doc.score for doc in linked), default=0.0)
        best: dict[str, int] = {}
        for i, hit in enumerate(hits):
            best.setdefault(hit.doc_id, i)
        found = set(best)
        missing = [d for d in rank_of if d not in best]
        fused = list(hits)
        for extra in self.store.first_chunks(missing):
            best[extra.doc_id] = len(fused)
            fused.append(extra)
        for doc_id, (rank, score) in rank_of.items():
            if doc_id not in best:
                continue  # the graph knows a document the store no longer has
            i = best[doc_id]
            hit = fused[i]
            weight = boost * (self.weights.graph if doc_id in found else self.weights.graph_new)
            source = SourceScore(rank, score)
            share = self.weights.share("graph", source, top, weight)
            sources = {**hit.sources, "graph": source}
            fused[i] = replace(hit, score=hit.score + share, sources=sources)
        if boost == 1.0:  # a boosted graph knows what the follow-up's "this" means: it may reorder
            fused = _kept_below(fused)
        fused.sort(key=lambda h: h.score, reverse=True)
        return fused[:top_k]

    def _sentence_queries(self, query: Query) -> list[DenseQuery]:
        """The text embedder's request: the query's own text, blended with the carried context."""
        if self.text_embedder is None:
            return []
        own = " ".join(p for p in (query.dense_text or query.text, *query.extra_text) if p and p.strip())
        weight = query.own_weight if query.context else 1.0
        texts = [own] if own.strip() and weight > 0 else []
        weights = [weight] if texts else []
        for text, weight in query.context:
            texts.append(text)
            weights.append(weight)
        if not texts:
            return []
        vectors = self.text_embedder.embed_text(texts)
        blended = (np.asarray(weights, dtype=np.float32)[:, None] * vectors).sum(axis=0)
        norm = float(np.linalg.norm(blended))
        if norm == 0.0:
            return []
        return [DenseQuery(SENTENCE_SOURCE, (blended / norm).astype(np.float32), "text_dense")]

    def _shared_queries(self, query: Query) -> list[DenseQuery]:
        if self.embedder is None:
            return []
        out: list[DenseQuery] = []
        text = query.dense_text if query.dense_text is not None else query.text
        if text.strip():
            out.append(DenseQuery("dense:text", self.embedder.embed_text([text])[0]))
        if query.image is not None:
            out.append(DenseQuery("dense:image", self.embedder.embed_images([query.image])[0]))
        if query.audio is not None:
            out.append(DenseQuery("dense:audio", self.embedder.embed_audio([query.audio])[0]))
        return out


HIGH_RANK = 3  # "ranked high" by a source: within its first three hits


def _dominates(a: Hit, b: Hit) -> bool:
    """Whether at least two store sources (the text channels: full text and the text embedder) rank `a`
    high, and every store source that ranked `b` ranked `a` better (the graph is not a store source).
    With one store source, as before the text embedder, the graph reorders freely."""
    high = [n for n, s in a.sources.items() if n != "graph" and s.rank <= HIGH_RANK]
    ranked = [name for name in b.sources if name != "graph"]
    return (
        len(high) >= 2
        and bool(ranked)
        and all(n in a.sources and a.sources[n].rank < b.sources[n].rank for n in ranked)
    )


def _kept_below(hits: list[Hit]) -> list[Hit]:
    """Caps each graph-boosted hit just below any written document that dominates it on the store
    sources (a document both text channels rank higher keeps its place; the graph still reorders the
    others). A screenshot or sound item does not cap: for a typed question it stands lower anyway."""
    out = list(hits)
    for _ in range(len(out)):  # a cap can lower a dominator of another hit: repeat until stable
        changed = False
        for i, b in enumerate(out):
            if "graph" not in b.sources:
                continue
            dominators = [a.score for a in out if a is not b and a.modality == "text" and _dominates(a, b)]
            cap = min(dominators, default=b.score + 1)
            if b.score >= cap:
                out[i] = replace(b, score=cap - 1e-6)
                changed = True
        if not changed:
            break
    return out


def _prefer_documents(hits: Sequence[Hit], prior: float) -> list[Hit]:
    """For a typed question, a screenshot or sound item loses a near-tie against a written document
    (its fused score x `prior`): the article explains, the picture only shows. A clearly better
    media hit keeps its place."""
    adjusted = [h if h.modality == "text" else replace(h, score=h.score * prior) for h in hits]
    return sorted(adjusted, key=lambda h: h.score, reverse=True)
