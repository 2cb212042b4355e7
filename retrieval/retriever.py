"""Hybrid multimodal retrieval: any query modality densely against every KB modality, plus BM25, fused.

A `Query` may hold typed text, an image and/or an audio clip (already decoded and checked by
`retrieval.media`), plus extra full-text terms from other readers (a voice-note transcript, a
screenshot's OCR text). Each present modality becomes one dense request (`dense:text`,
`dense:image`, `dense:audio`); all text becomes one BM25 request; the store fuses them with RRF.
Documents proposed by another source (the knowledge graph, given as `LinkedDoc`s with the path
that explains them) join the fused ranking as one more RRF source named `graph`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from PIL import Image

from core.errors import InputError
from core.types import RRF_K, Hit, Modality, SearchFilter, SourceScore, Waveform, leading_modality
from retrieval.embedders.protocol import Embedder
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
    """One retrieval request. `extra_text` is full-text-only (e.g. OCR text, parsed error codes)."""

    text: str = ""
    image: Image.Image | None = None
    audio: Waveform | None = None
    extra_text: tuple[str, ...] = ()
    dense_text: str | None = None

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


@dataclass(frozen=True)
class RetrievalResult:
    """Hits best first, plus what the trace needs: which sources ran and how long each stage took."""

    hits: tuple[Hit, ...]
    dense: bool
    sources: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    linked: tuple[LinkedDoc, ...] = ()

    def doc_ids(self) -> list[str]:
        """Distinct doc_ids in rank order (several chunks of one document count once)."""
        return list(dict.fromkeys(hit.doc_id for hit in self.hits))


class Retriever:
    """Dense (Embedder -> VectorStore) + BM25 over one store. `embedder=None` means BM25 only."""

    def __init__(
        self, store: VectorStore, embedder: Embedder | None, *, dense_note: str | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.dense_note = dense_note

    def search(
        self,
        query: Query,
        top_k: int = 5,
        search_filter: SearchFilter | None = None,
        linked: Sequence[LinkedDoc] = (),
    ) -> RetrievalResult:
        if not 1 <= top_k <= MAX_TOP_K:
            raise InputError(f"top-k must be between 1 and {MAX_TOP_K}, got {top_k}")
        if query.empty:
            raise InputError("empty query: give some text, an image or an audio clip")
        timings: dict[str, float] = {}
        notes: list[str] = []
        dense: list[DenseQuery] = []
        if self.embedder is not None:
            started = time.perf_counter()
            dense = self._dense_queries(query)
            timings["embed"] = (time.perf_counter() - started) * 1000
        elif self.dense_note:
            notes.append(self.dense_note)
        full_text = query.full_text
        started = time.perf_counter()
        hits = self.store.hybrid_search(full_text or None, dense, top_k, search_filter)
        timings["search"] = (time.perf_counter() - started) * 1000
        sources = [d.name for d in dense] + (["bm25"] if full_text else [])
        if linked:
            started = time.perf_counter()
            hits = self._fuse_linked(hits, linked, top_k)
            timings["graph_fusion"] = (time.perf_counter() - started) * 1000
            sources.append("graph")
        if query.image is None and query.audio is None and hits:
            hits = _prefer_documents(hits)
        if not sources:
            notes.append("nothing to search with: dense retrieval is off and the query has no text")
        return RetrievalResult(
            tuple(hits), self.embedder is not None, tuple(sources), timings, tuple(notes), tuple(linked)
        )

    def _fuse_linked(self, hits: list[Hit], linked: Sequence[LinkedDoc], top_k: int) -> list[Hit]:
        """Adds the `graph` source's RRF share to the best chunk of each linked document."""
        rank_of = {doc.doc_id: (rank, doc.score) for rank, doc in enumerate(linked, start=1)}
        best: dict[str, int] = {}
        for i, hit in enumerate(hits):
            best.setdefault(hit.doc_id, i)
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
            sources = {**hit.sources, "graph": SourceScore(rank, score)}
            fused[i] = replace(hit, score=hit.score + 1.0 / (RRF_K + rank), sources=sources)
        fused.sort(key=lambda h: h.score, reverse=True)
        return fused[:top_k]

    def _dense_queries(self, query: Query) -> list[DenseQuery]:
        assert self.embedder is not None
        out: list[DenseQuery] = []
        text = query.dense_text if query.dense_text is not None else query.text
        if text.strip():
            out.append(DenseQuery("dense:text", self.embedder.embed_text([text])[0]))
        if query.image is not None:
            out.append(DenseQuery("dense:image", self.embedder.embed_images([query.image])[0]))
        if query.audio is not None:
            out.append(DenseQuery("dense:audio", self.embedder.embed_audio([query.audio])[0]))
        return out


MEDIA_PRIOR = 0.98


def _prefer_documents(hits: Sequence[Hit]) -> list[Hit]:
    """For a typed question, a screenshot or sound item loses a near-tie against a written document
    (its fused score x MEDIA_PRIOR): the article explains, the picture only shows. A clearly better
    media hit keeps its place."""
    adjusted = [h if h.modality == "text" else replace(h, score=h.score * MEDIA_PRIOR) for h in hits]
    return sorted(adjusted, key=lambda h: h.score, reverse=True)
