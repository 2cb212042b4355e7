"""Ingestion: walk a KB folder, load each file safely, chunk, embed, write the store, update the manifest.

Incremental by content hash (see `retrieval.manifest`): unchanged files are skipped, changed ones
replaced, deleted ones removed; a second run on an unchanged KB writes nothing. A bad file is
reported with its reason and skipped, and if an earlier good version of it was ingested, that
version stays (nothing is lost). KB images are read by OCR when a reader is given, and the text
found on them joins their caption for full-text search and the knowledge graph. Optional
`DocumentSink`s (the knowledge graph) see the same document updates and removals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from core.config import Limits
from core.errors import ConfigError, InputError, StoreError
from core.types import Chunk, Record, Waveform
from retrieval import injection, sounds, text_index
from retrieval.documents.loaders import load_chunks
from retrieval.documents.walk import KBFile, discover
from retrieval.embedders.protocol import Embedder, TextEmbedder
from retrieval.manifest import FileEntry, Manifest, content_hash
from retrieval.media import downscale, load_audio, load_image
from retrieval.ocr.fields import search_text
from retrieval.ocr.protocol import ScreenshotReader
from retrieval.stores.protocol import VectorStore

log = logging.getLogger(__name__)


class DocumentSink(Protocol):
    """Something that mirrors the KB per document (the knowledge graph): told of every change."""

    def upsert_document(self, doc_id: str, chunks: Sequence[Chunk]) -> None: ...

    def remove_document(self, doc_id: str) -> None: ...


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion run did. `failed` holds (KB-relative path, reason) pairs."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0
    failed: tuple[tuple[str, str], ...] = ()
    chunks_written: int = 0
    dense: bool = True
    text_dense: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def wrote_anything(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        channels = (["text embedder"] if self.text_dense else []) + (["ImageBind"] if self.dense else [])
        mode = f"dense ({' + '.join(channels)}) + bm25" if channels else "bm25 only (dense retrieval OFF)"
        if channels and not self.dense:
            mode += "; ImageBind dense retrieval OFF: no weights"
        return (
            f"added {self.added}, updated {self.updated}, removed {self.removed}, skipped {self.skipped}, "
            f"failed {len(self.failed)} ({self.chunks_written} chunks written; {mode})"
        )


@dataclass
class _Tally:
    """What a run has done so far; `pending` files changed since the last commit."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    removed: int = 0
    chunks: int = 0
    pending: int = 0
    store_failures_in_a_row: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


FailureHook = Callable[[str, str], None]
MAX_STORE_FAILURES_IN_A_ROW = 5


class Ingestor:
    """Brings a store (and optional sinks) in line with a KB folder. Heavy parts are passed in.

    Resumable: every `commit_every` changed files the store is flushed, `checkpoint` runs (the
    runtime saves the knowledge graph) and the manifest is saved, in that order, so a run killed at
    any point leaves a manifest that lists only what the store and the graph hold; running again
    redoes only the files after the last commit and ends in the state of a clean run (chunk ids
    are stable, so rewritten chunks replace themselves). A store error is retried `retries` times
    with doubling delays, then reported for that file; `on_failure(path, reason)` hears of each
    failed file as it happens.
    """

    def __init__(
        self,
        store: VectorStore,
        manifest: Manifest,
        embedder: Embedder | None,
        limits: Limits,
        *,
        sinks: Sequence[DocumentSink] = (),
        ocr: ScreenshotReader | None = None,
        batch_size: int = 8,
        progress: bool = True,
        commit_every: int = 50,
        checkpoint: Callable[[], object] | None = None,
        on_failure: FailureHook | None = None,
        retries: int = 3,
        backoff_s: float = 0.5,
        text_embedder: TextEmbedder | None = None,
    ) -> None:
        if commit_every < 1 or retries < 0 or backoff_s < 0:
            raise ConfigError("commit_every must be >= 1, retries and backoff_s >= 0")
        self.store = store
        self.text_embedder = text_embedder
        self.manifest = manifest
        self.embedder = embedder
        self.limits = limits
        self.sinks = tuple(sinks)
        self.ocr = ocr
        self.batch_size = batch_size
        self.progress = progress
        self.commit_every = commit_every
        self.checkpoint = checkpoint
        self.on_failure = on_failure
        self.retries = retries
        self.backoff_s = backoff_s

    @property
    def signature(self) -> str | None:
        """Names how vectors were made; a change forces re-embedding of every file."""
        shared = None if self.embedder is None else f"{self.embedder.name}/{self.embedder.dim}"
        if self.text_embedder is None:
            return shared
        text = f"{self.text_embedder.name}/{self.text_embedder.dim}/{text_index.RECIPE}"
        return f"{shared or 'none'}+text:{text}"

    def run(self, kb_root: Path) -> IngestReport:
        if not kb_root.is_dir():
            raise InputError(f"knowledge-base folder {kb_root} does not exist or is not a directory")
        files = discover(kb_root)
        seen: set[str] = set()
        tally = _Tally()
        self._undo_interrupted(tally)
        bar = tqdm(files, desc="ingest", unit="file", disable=not self.progress, leave=False)
        for kb_file in bar:
            seen.add(kb_file.doc_id)
            self._ingest_file(kb_file, tally)
            if tally.pending >= self.commit_every:
                self._commit(tally)
        tally.removed = self._remove_missing(seen)
        tally.pending += tally.removed
        self._commit(tally)
        return IngestReport(
            added=tally.added,
            updated=tally.updated,
            removed=tally.removed,
            skipped=tally.skipped,
            failed=tuple(tally.failed),
            chunks_written=tally.chunks,
            dense=self.embedder is not None,
            text_dense=self.text_embedder is not None,
            warnings=tuple(tally.warnings),
        )

    def _fail(self, tally: _Tally, rel: str, reason: str) -> None:
        reason = " ".join(reason.split())
        tally.failed.append((rel, reason))
        log.warning("ingest failed: %s: %s", rel, reason)
        if self.on_failure is not None:
            self.on_failure(rel, reason)

    def _ingest_file(self, kb_file: KBFile, tally: _Tally) -> None:
        """One file: skipped if unchanged, else loaded, embedded and written; a failure is reported
        and leaves its earlier version (if any) in place."""
        rel = kb_file.doc_id
        try:
            digest = content_hash(kb_file.path, kb_file.sidecar)
        except OSError as exc:
            self._fail(tally, rel, f"cannot read file: {exc.strerror or exc}")
            return
        old = self.manifest.entries.get(rel)
        if old is not None and old.sha256 == digest and old.embedder == self.signature:
            tally.skipped += 1
            return
        try:
            chunks, file_warnings = self._load(kb_file)
            records = self._embed(chunks, file_warnings)
        except InputError as exc:
            self._fail(tally, rel, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a reader or embedder crash fails this file only
            log.exception("unexpected error reading %s", rel)
            self._fail(tally, rel, f"could not be read ({type(exc).__name__}: {exc})")
            return
        new_doc_ids = tuple(sorted({c.doc_id for c in chunks}))
        stale = sorted(set(old.doc_ids) - set(new_doc_ids)) if old else []
        self.manifest.note_writing(rel, tuple(r.chunk.id for r in records))
        try:
            self._retrying(lambda: self._write(old, new_doc_ids, stale, records), f"writing {rel}")
        except StoreError as exc:
            self._fail(tally, rel, f"the index did not accept it: {exc}")
            tally.store_failures_in_a_row += 1
            if tally.store_failures_in_a_row >= MAX_STORE_FAILURES_IN_A_ROW:
                self._commit(tally)
                raise StoreError(
                    f"the index failed {MAX_STORE_FAILURES_IN_A_ROW} files in a row (last: {exc}); "
                    "the files ingested so far are saved: fix the index and run ingest again to resume"
                ) from exc
            return
        tally.store_failures_in_a_row = 0
        self._update_sinks(stale, records)
        tally.warnings.extend(f"{rel}: {w}" for w in file_warnings)
        ids = tuple(r.chunk.id for r in records)
        self.manifest.entries[rel] = FileEntry(digest, new_doc_ids, len(chunks), self.signature, ids)
        tally.added += old is None
        tally.updated += old is not None
        tally.chunks += len(records)
        tally.pending += 1

    def _undo_interrupted(self, tally: _Tally) -> None:
        """A run killed after its last commit wrote chunks the manifest does not list (and, for an
        updated file, may have replaced part of its listed version). Those extra chunks are deleted
        by primary key and each such file is marked for rewriting, so this run ends in the state of
        a clean one even if a file changed, shrank or vanished in between."""
        interrupted = self.manifest.interrupted()
        for rel, ids in interrupted.items():
            entry = self.manifest.entries.get(rel)
            listed = set(entry.chunk_ids) if entry is not None else set()
            extra = [i for i in ids if i not in listed]
            if extra:
                self._retrying(
                    partial(self.store.delete_ids, extra), f"undoing the interrupted write of {rel}"
                )
            if entry is not None:
                self.manifest.entries[rel] = replace(entry, sha256="")  # written again this run
        if interrupted:
            log.warning("an earlier ingest was interrupted: %d file(s) are written again", len(interrupted))
            tally.pending += 1  # the manifest changed: commit it even if nothing else does

    def _retrying(self, action: Callable[[], None], what: str) -> None:
        """Runs a store action, retrying a `StoreError` with doubling delays (transient timeouts)."""
        for attempt in range(self.retries + 1):
            try:
                action()
                return
            except StoreError as exc:
                if attempt == self.retries:
                    raise
                delay = self.backoff_s * (2**attempt)
                log.warning(
                    "%s failed (%s); retry %d of %d in %.1fs", what, exc, attempt + 1, self.retries, delay
                )
                time.sleep(delay)

    def _commit(self, tally: _Tally) -> None:
        """Store flushed, then the checkpoint (graph), then the manifest: the manifest never lists
        more than the other two hold."""
        if not tally.pending:
            return
        self._retrying(self.store.flush, "flushing the index")
        if self.checkpoint is not None:
            self.checkpoint()
        self.manifest.save()
        tally.pending = 0

    def _load(self, kb_file: KBFile) -> tuple[list[Chunk], list[str]]:
        result = load_chunks(kb_file, self.limits)
        chunks = list(result.chunks)
        if not chunks:
            raise InputError("no content to index (empty after parsing)")
        return chunks, list(result.warnings)

    def _embed(self, chunks: list[Chunk], warnings: list[str]) -> list[Record]:
        """Decodes media (always: a corrupt image must fail even without an embedder), reads text off
        it (OCR), checks all text for planted instructions (adding to `warnings`) and embeds."""
        media = [self._decode(c) for c in chunks]
        chunks = [self._with_reading(c, m) for c, m in zip(chunks, media, strict=True)]
        chunks, _ = injection.flag_chunks(chunks, warnings)
        texts = self._embed_texts(chunks)
        if self.embedder is None:
            return [Record(c, None, t) for c, t in zip(chunks, texts, strict=True)]
        vectors: list[np.ndarray | None] = [None] * len(chunks)
        for modality, embed in (
            ("text", self.embedder.embed_text),
            ("image", self.embedder.embed_images),
            ("audio", self.embedder.embed_audio),
        ):
            idx = [i for i, c in enumerate(chunks) if c.modality == modality]
            for start in range(0, len(idx), self.batch_size):
                batch = idx[start : start + self.batch_size]
                inputs = [chunks[i].dense_text if modality == "text" else media[i] for i in batch]
                out = _call(embed, inputs)
                for row, i in enumerate(batch):
                    vectors[i] = out[row]
        return [Record(c, v, t) for c, v, t in zip(chunks, vectors, texts, strict=True)]

    def _embed_texts(self, chunks: list[Chunk]) -> list[np.ndarray | None]:
        """The text embedder's vector of each chunk: its whole text (title and heading path first, then
        the body; captions with OCR text or the sound pattern for media) blended with its heading
        (`retrieval.text_index`)."""
        if self.text_embedder is None:
            return [None] * len(chunks)
        out = text_index.chunk_vectors(self.text_embedder, chunks)
        return [out[i] for i in range(len(chunks))]

    def _decode(self, chunk: Chunk) -> object:
        if chunk.modality == "text" or chunk.media_path is None:
            return None
        path = Path(chunk.media_path)
        if chunk.modality == "image":
            return downscale(load_image(path, self.limits))
        return load_audio(path, self.limits)

    def _with_reading(self, chunk: Chunk, media: object) -> Chunk:
        """A media chunk with what can be read off it appended: the text OCR finds on an image
        (captions rarely hold every word) or the tone pattern of a sound ("three short beeps")."""
        if media is None:
            return chunk
        if chunk.modality == "audio" and isinstance(media, Waveform):
            pattern = sounds.analyse(media)
            if pattern is None:
                return chunk
            text = f"{chunk.text}\n\nSound pattern: {pattern.description}"
            return replace(
                chunk, text=text, metadata={**chunk.metadata, "sound_pattern": pattern.description}
            )
        if chunk.modality != "image" or self.ocr is None:
            return chunk
        try:
            result = self.ocr.read(media)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - still indexed by its caption and pixels
            log.warning("%s: OCR failed (%r); indexed by its caption only", chunk.doc_id, exc)
            return replace(chunk, metadata={**chunk.metadata, "ocr_error": f"{type(exc).__name__}: {exc}"})
        if result.empty:
            return chunk
        metadata = {**chunk.metadata, "ocr_confidence": round(result.confidence, 4)}
        text = f"{chunk.text}\n\nText in the image: {' '.join(search_text(result).split())}"
        return replace(chunk, text=text, metadata=metadata)

    def _write(
        self, old: FileEntry | None, doc_ids: Sequence[str], stale: Sequence[str], records: list[Record]
    ) -> None:
        """Writes a file's new chunks over its old ones. Chunk ids are stable, so the upsert replaces
        the chunks that are still there; only the old ids it does not rewrite are deleted, by primary
        key. A file the manifest never saw deletes nothing (the cost stays flat as the KB grows; a
        resumed run rewrites the uncommitted files' chunks over themselves). Safe to retry."""
        if old is not None and old.chunk_ids:
            kept = {r.chunk.id for r in records}
            self.store.delete_ids([i for i in old.chunk_ids if i not in kept])
        elif old is not None:  # a manifest written before chunk ids were kept
            self.store.delete_docs([*doc_ids, *stale])
        self.store.upsert(records)

    def _update_sinks(self, stale: Sequence[str], records: list[Record]) -> None:
        by_doc: dict[str, list[Chunk]] = {}
        for record in records:
            by_doc.setdefault(record.chunk.doc_id, []).append(record.chunk)
        for sink in self.sinks:
            for doc_id in stale:
                sink.remove_document(doc_id)
            for doc_id, doc_chunks in by_doc.items():
                sink.upsert_document(doc_id, doc_chunks)

    def _remove_missing(self, seen: set[str]) -> int:
        gone = sorted(set(self.manifest.entries) - seen)
        for rel in gone:
            entry = self.manifest.entries[rel]
            doc_ids = list(entry.doc_ids)
            if entry.chunk_ids:
                self._retrying(partial(self.store.delete_ids, list(entry.chunk_ids)), f"removing {rel}")
            else:
                self._retrying(partial(self.store.delete_docs, doc_ids), f"removing {rel}")
            for sink in self.sinks:
                for doc_id in doc_ids:
                    sink.remove_document(doc_id)
            del self.manifest.entries[rel]
        return len(gone)


def _call(embed: Callable[[list[Any]], np.ndarray], inputs: list[Any]) -> np.ndarray:
    out = embed(inputs)
    if out.shape[0] != len(inputs):
        raise RuntimeError(f"embedder returned {out.shape[0]} vectors for {len(inputs)} inputs")
    return out
