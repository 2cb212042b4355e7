"""Value types shared by the retrieval roles: chunks going in, hits coming out, decoded media.

All are frozen dataclasses; they carry no behaviour beyond validation and small derived views.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Modality = Literal["text", "image", "audio"]
MODALITIES: tuple[Modality, ...] = ("text", "image", "audio")
RRF_K = 60  # reciprocal rank fusion constant, for every fusion in the project
DOC_ID_MAX_BYTES = 1024  # the longest doc_id any store keeps (UTF-8 bytes; Milvus VARCHAR field)


def leading_modality(image: object | None, audio: object | None) -> Modality:
    """How a query or case is reported: audio if it has audio, else image if it has one, else text."""
    if audio is not None:
        return "audio"
    if image is not None:
        return "image"
    return "text"


@dataclass(frozen=True)
class Waveform:
    """Decoded mono audio: float32 samples in [-1, 1] at `sample_rate` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        return float(len(self.samples)) / float(self.sample_rate)


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of the knowledge base, before embedding.

    `text` is the full text given to full-text (BM25) search; `dense_text` is the short form
    (title + lead) the 77-token ImageBind text encoder sees. For image and audio items
    `media_path` names the file whose pixels/samples are embedded and `text` is the caption.
    """

    doc_id: str
    chunk_id: int
    modality: Modality
    text: str
    dense_text: str
    source: str
    title: str = ""
    media_path: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        size = len(self.doc_id.encode("utf-8"))
        if size > DOC_ID_MAX_BYTES:
            from core.errors import InputError

            raise InputError(
                f"its name and folders are {size:,} bytes long; the index keeps ids up to "
                f"{DOC_ID_MAX_BYTES:,} bytes: shorten the folder or file names"
            )

    @property
    def id(self) -> str:
        """Stable primary key: short hash of doc_id and chunk number (doc_ids can be long)."""
        digest = hashlib.sha1(self.doc_id.encode("utf-8")).hexdigest()[:16]
        return f"{digest}-{self.chunk_id}"


@dataclass(frozen=True)
class Record:
    """A chunk with its shared-space (ImageBind) vector and its text-embedder vector of the chunk's
    text (each None when that channel is off), as written to the store."""

    chunk: Chunk
    vector: np.ndarray | None
    text_vector: np.ndarray | None = None


@dataclass(frozen=True)
class SourceScore:
    """Where one retrieval source (e.g. `bm25`, `dense:image`) placed a hit: 1-based rank and raw score."""

    rank: int
    score: float


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and the rank/score each source gave it."""

    id: str
    doc_id: str
    chunk_id: int
    modality: Modality
    text: str
    source: str
    score: float
    sources: Mapping[str, SourceScore] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The store's index terms of `text` (`core.textnorm.normalise`, stemmed once at ingestion); "" when
    # the store did not return them. Abstention reads them instead of stemming every hit again.
    terms: str = ""

    def snippet(self, length: int = 160) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "doc_id": self.doc_id,
            "chunk_id": self.chunk_id,
            "modality": self.modality,
            "source": self.source,
            "score": self.score,
            "snippet": self.snippet(),
            "sources": {k: {"rank": v.rank, "score": v.score} for k, v in self.sources.items()},
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search. Empty tuples mean "no restriction"."""

    modalities: tuple[Modality, ...] = ()
    doc_ids: tuple[str, ...] = ()
    products: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad:
            from core.errors import ConfigError

            raise ConfigError(f"unknown modality filter {bad!r}; use one of {', '.join(MODALITIES)}")

    @property
    def empty(self) -> bool:
        return not (self.modalities or self.doc_ids or self.products)
