"""Fakes for the parts a test is not about, each a real implementation of its protocol, small and exact:

- `InMemoryStore`, a `VectorStore` that itself passes the store contract (`tests/test_fakes.py`):
  BM25 (k1 1.2, b 0.75) over `core.textnorm.normalise` terms, as the Milvus store's full-text index,
  exact cosine search per vector field, and the same weighted RRF fusion;
- `ScriptedGenerator`, a `Generator` that answers from a script (question substring -> answer text);
- `ScriptedTranscriber`, a `Transcriber` that hears what it is told, with a confidence;
- `ScriptedReader`, a `ScreenshotReader` that reads given lines, with a confidence;
- `IngestSkippingOcr`, which reads nothing while the KB is ingested, then hands over to a real reader;
- `fake_runtime`, a `Runtime` over an `InMemoryStore` (no Milvus Lite, no model weights);
- `MemoryStores`, the store factory of `app.runtime` replaced for command tests (`supportbot ingest`,
  then `search`, `chat`, `eval` in-process): one `InMemoryStore` per data dir, kept between commands.

Use them only where the part is not the subject of the test; the backend and end-to-end tests keep
real Milvus Lite and the tiny real models (marked `slow`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image

from app.runtime import DENSE_OFF_MISSING, Runtime
from chatbot.generators.grounding import finish_answer
from chatbot.generators.protocol import Answer, AnswerStream, GenerationRequest
from core import textnorm
from core.config import Settings
from core.types import Hit, Record, SearchFilter, SourceScore, Waveform
from retrieval.asr.protocol import Segment, TranscribeOptions, Transcript
from retrieval.fusion import FusionWeights, fuse
from retrieval.ocr.fields import parse_fields
from retrieval.ocr.protocol import OcrLine, OcrResult, ScreenshotFields, ScreenshotReader
from retrieval.stores.protocol import DenseQuery, check_hybrid_request

SOURCE_LIMIT = 20  # each source's own candidates, as the Milvus store asks (MIN_SOURCE_LIMIT)
K1, B = 1.2, 0.75


@dataclass
class _Row:
    record: Record
    metadata: dict[str, object]
    terms: list[str]


class InMemoryStore:
    """A `VectorStore` in a dict. Fake (for tests whose subject is not the store)."""

    rebuilt = False

    def __init__(self, dim: int, text_dim: int = 384, *, dense_enabled: bool = True) -> None:
        self.dim = dim
        self.text_dim = text_dim
        self.dense_enabled = dense_enabled
        self._rows: dict[str, _Row] = {}

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def upsert(self, records: Sequence[Record]) -> None:
        for record in records:
            chunk = record.chunk
            metadata = dict(chunk.metadata)
            if chunk.title:
                metadata.setdefault("title", chunk.title)
            metadata = json.loads(json.dumps(metadata, default=str))
            self._rows[chunk.id] = _Row(record, metadata, textnorm.normalise(chunk.text).split())

    def delete_docs(self, doc_ids: Sequence[str]) -> None:
        gone = set(doc_ids)
        self._rows = {pk: r for pk, r in self._rows.items() if r.record.chunk.doc_id not in gone}

    def delete_ids(self, ids: Sequence[str]) -> None:
        for pk in ids:
            self._rows.pop(pk, None)

    def count(self) -> int:
        return len(self._rows)

    def doc_ids(self) -> set[str]:
        return {r.record.chunk.doc_id for r in self._rows.values()}

    def dense_populated(self, field: str = "dense") -> bool:
        return all(self._vector(r, field) is not None for r in self._rows.values())

    def first_chunks(self, doc_ids: Sequence[str]) -> list[Hit]:
        first: dict[str, _Row] = {}
        for row in sorted(self._rows.values(), key=lambda r: r.record.chunk.chunk_id):
            first.setdefault(row.record.chunk.doc_id, row)
        return [self._hit(first[d], 0.0, {}) for d in doc_ids if d in first]

    def document_chunks(self, doc_ids: Sequence[str]) -> list[Hit]:
        order = {d: i for i, d in enumerate(doc_ids)}
        rows = [r for r in self._rows.values() if r.record.chunk.doc_id in order]
        rows.sort(key=lambda r: (order[r.record.chunk.doc_id], r.record.chunk.chunk_id))
        return [self._hit(r, 0.0, {}) for r in rows]

    def hybrid_search(
        self,
        text: str | None,
        dense: Sequence[DenseQuery],
        top_k: int,
        search_filter: SearchFilter | None = None,
        fusion: FusionWeights | None = None,
    ) -> list[Hit]:
        check_hybrid_request(dense, top_k)
        rows = {pk: r for pk, r in self._rows.items() if _passes(r, search_filter)}
        limit = max(top_k, SOURCE_LIMIT)
        per_source: dict[str, dict[str, SourceScore]] = {}
        for q in dense:
            if q.field == "dense" and not self.dense_enabled:
                continue
            per_source[q.name] = _ranked(_cosine(rows, q), limit)
        terms = textnorm.normalise(text).split() if text else []
        if terms:
            per_source["bm25"] = _ranked(_bm25(rows, terms), limit)
        fused = fuse(per_source, fusion or FusionWeights.equal())
        order = sorted(fused, key=lambda pk: (-fused[pk], pk))[:top_k]
        return [
            self._hit(rows[pk], fused[pk], {n: r[pk] for n, r in per_source.items() if pk in r})
            for pk in order
        ]

    @staticmethod
    def _vector(row: _Row, field: str) -> np.ndarray | None:
        return row.record.vector if field == "dense" else row.record.text_vector

    @staticmethod
    def _hit(row: _Row, score: float, sources: Mapping[str, SourceScore]) -> Hit:
        c = row.record.chunk
        return Hit(
            c.id,
            c.doc_id,
            c.chunk_id,
            c.modality,
            c.text,
            c.source,
            score,
            dict(sources),
            row.metadata,
            " ".join(row.terms),
        )


def _passes(row: _Row, flt: SearchFilter | None) -> bool:
    if flt is None:
        return True
    chunk = row.record.chunk
    if flt.modalities and chunk.modality not in flt.modalities:
        return False
    if flt.doc_ids and chunk.doc_id not in flt.doc_ids:
        return False
    return not flt.products or row.metadata.get("product") in flt.products


def _ranked(scores: dict[str, float], limit: int) -> dict[str, SourceScore]:
    order = sorted(scores, key=lambda pk: (-scores[pk], pk))[:limit]
    return {pk: SourceScore(rank, scores[pk]) for rank, pk in enumerate(order, start=1)}


def _cosine(rows: Mapping[str, _Row], q: DenseQuery) -> dict[str, float]:
    query = np.asarray(q.vector, dtype=np.float64)
    query = query / (np.linalg.norm(query) or 1.0)
    out: dict[str, float] = {}
    for pk, row in rows.items():
        vec = InMemoryStore._vector(row, q.field)
        if vec is not None:
            v = np.asarray(vec, dtype=np.float64)
            out[pk] = float(v @ query / (np.linalg.norm(v) or 1.0))
    return out


def _bm25(rows: Mapping[str, _Row], terms: Sequence[str]) -> dict[str, float]:
    if not rows:
        return {}
    avg = sum(len(r.terms) for r in rows.values()) / len(rows) or 1.0
    df = Counter(t for r in rows.values() for t in set(r.terms))
    out: dict[str, float] = {}
    for pk, row in rows.items():
        tf = Counter(row.terms)
        score = 0.0
        for t in set(terms):
            if tf[t]:
                idf = math.log(1 + (len(rows) - df[t] + 0.5) / (df[t] + 0.5))
                score += idf * tf[t] * (K1 + 1) / (tf[t] + K1 * (1 - B + B * len(row.terms) / avg))
        if score > 0:
            out[pk] = score
    return out


@dataclass
class ScriptedGenerator:
    """A `Generator` whose answers are scripted: the first `script` key found in the question (case
    folded) gives the answer text (with its own [n] citations); else it says nothing. The grounding
    check is the real one (`finish_answer`).
    Fake (for tests whose subject is not answer generation)."""

    script: Mapping[str, str] = field(default_factory=dict)
    name: str = "scripted"
    requests: list[GenerationRequest] = field(default_factory=list)

    def load(self) -> None:
        pass

    def generate(self, request: GenerationRequest) -> Answer:
        stream = self.stream(request)
        for _ in stream:
            pass
        return stream.answer

    def stream(self, request: GenerationRequest) -> AnswerStream:
        self.requests.append(request)
        said = next((a for q, a in self.script.items() if q.casefold() in request.question.casefold()), "")
        prompt = f"question: {request.question}"

        def finish(text: str) -> Answer:
            return finish_answer(text, request, generator=self.name, prompt=prompt)

        return AnswerStream([f"{w} " for w in said.split()], finish)


@dataclass
class ScriptedTranscriber:
    """A `Transcriber` that hears `text` in every clip, with `confidence`. Fake (for tests whose
    subject is not speech recognition)."""

    text: str = ""
    confidence: float = 0.9
    name: str = "scripted-asr"

    def load(self) -> None:
        pass

    def transcribe(self, wave: Waveform, options: TranscribeOptions | None = None) -> Transcript:
        duration = wave.seconds
        segments = (
            (Segment(0.0, duration, self.text, math.log(max(self.confidence, 1e-6)), 0.0),)
            if self.text
            else ()
        )
        return Transcript(
            self.text, "en", segments, self.confidence if self.text else 0.0, duration, self.name
        )


@dataclass
class ScriptedReader:
    """A `ScreenshotReader` that reads `lines` on every image, each with `confidence`; fields are parsed
    by the real parser. Fake (for tests whose subject is not OCR)."""

    lines: Sequence[str] = ()
    confidence: float = 0.95
    name: str = "scripted-ocr"
    known_products: Sequence[str] = ()

    def load(self) -> None:
        pass

    def read(self, image: Image.Image) -> OcrResult:
        read = tuple(
            OcrLine(t, self.confidence, (0, 20 * i, 200, 20 * i + 18)) for i, t in enumerate(self.lines)
        )
        text = "\n".join(self.lines)
        fields = parse_fields(text, known_products=tuple(self.known_products))
        return OcrResult(text, read, self.confidence if read else 0.0, fields, self.name)


def fake_runtime(
    settings: Settings, *, dim: int = 1024, ocr: object | None = None, transcriber: object | None = None
) -> Runtime:
    """A `Runtime` over an `InMemoryStore` without dense retrieval (BM25 + graph), as `open_runtime(...,
    load_models=False)` gives over Milvus Lite. Fake store (for tests whose subject is not the store)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = InMemoryStore(dim, dense_enabled=False)
    return Runtime(settings, store, None, DENSE_OFF_MISSING, transcriber, ocr)  # type: ignore[arg-type]


class MemoryStores:
    """`app.runtime.make_store` for command tests: one `InMemoryStore` per data dir, kept across the
    commands of a test as Milvus Lite keeps its database on disk. Fake (for tests whose subject is not
    the store); `install(monkeypatch)` puts it in place."""

    def __init__(self) -> None:
        self.stores: dict[str, InMemoryStore] = {}

    def __call__(
        self,
        settings: Settings,
        name: str | None = None,
        *,
        dim: int,
        dense_enabled: bool,
        text_dim: int = 384,
        rebuild_outdated: bool = False,
    ) -> InMemoryStore:
        key = settings.milvus_path
        if key not in self.stores:
            self.stores[key] = InMemoryStore(dim, text_dim, dense_enabled=dense_enabled)
        return self.stores[key]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> MemoryStores:
        monkeypatch.setattr("app.runtime.make_store", self)
        return self


__all__ = [
    "InMemoryStore",
    "MemoryStores",
    "ScriptedGenerator",
    "ScriptedReader",
    "ScriptedTranscriber",
    "fake_runtime",
]


class IngestSkippingOcr:
    """FAKE during ingestion only: OCR of the KB's own images is not the subject here (test_ingest.py
    and test_ocr.py cover it) and would cost ~55 s on 2 cores; their captions carry their text.
    After `enable()` every read goes to the real RapidOCR: customer screenshots are really read."""

    name = "rapidocr"

    def __init__(self, real: ScreenshotReader) -> None:
        self.real = real
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def load(self) -> None:
        if self.enabled:
            self.real.load()

    def read(self, image: Image.Image) -> OcrResult:
        if not self.enabled:
            return OcrResult("", (), 0.0, ScreenshotFields(), "skipped")
        return self.real.read(image)
