"""Builds the heavy parts of one run from `Settings`: embedder (or none), store, retriever, ingestor.

The one place that decides what happens when model weights are missing: stop with the
`ModelMissingError` message, or, with `allow_missing_models`, run without dense retrieval and
carry a note that every output and trace shows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

from app.options import engine_options
from chatbot.engine import ChatEngine, EngineOptions
from chatbot.generators.factory import make_generator
from chatbot.generators.protocol import Generator
from chatbot.traces import TraceStore
from core.config import Settings
from core.errors import ModelMissingError
from knowledge_graph.factory import load_graph
from knowledge_graph.protocol import ContextGraph
from retrieval.asr.factory import make_transcriber
from retrieval.asr.protocol import Transcriber
from retrieval.embedders.factory import make_embedder, make_text_embedder
from retrieval.embedders.protocol import Embedder, TextEmbedder
from retrieval.ingest import FailureHook, Ingestor, IngestReport
from retrieval.manifest import Manifest
from retrieval.ocr.factory import make_reader
from retrieval.ocr.protocol import ScreenshotReader
from retrieval.retriever import Retriever
from retrieval.stores.factory import make_store
from retrieval.stores.protocol import VectorStore
from retrieval.understand import InputReader

log = logging.getLogger(__name__)

MissingGenerator = Literal["error", "retrieval-only", "extractive"]

DENSE_OFF_MISSING = (
    "ImageBind dense retrieval OFF: its weights are missing (--allow-missing-models); pictures and sounds "
    "are matched by their text only"
)
TEXT_DENSE_OFF_KB = (
    "text dense retrieval OFF for this KB: it was ingested without the text embedder; re-run `supportbot "
    "ingest` to add it"
)
DENSE_OFF_KB = (
    "dense retrieval OFF for this KB: it was ingested without embedder weights; re-run `supportbot ingest` "
    "with the weights present"
)


def load_embedder(settings: Settings) -> tuple[Embedder | None, str | None]:
    """The configured embedder, loaded; or (None, note) when weights are missing and that is allowed."""
    embedder = make_embedder(settings)
    try:
        embedder.load()
    except ModelMissingError as exc:
        if not settings.allow_missing_models:
            raise exc.advise(
                "To run without dense (embedding) retrieval, pass --allow-missing-models."
            ) from exc
        log.warning("%s", exc)
        return None, DENSE_OFF_MISSING
    return embedder, None


def load_text_embedder(settings: Settings) -> TextEmbedder | None:
    """The configured text embedder, loaded; None when it is off, or missing and that is allowed."""
    embedder = make_text_embedder(settings)
    if embedder is None:
        return None
    try:
        embedder.load()
    except ModelMissingError as exc:
        if not settings.allow_missing_models:
            raise
        log.warning("%s", exc)
        return None
    return embedder


@dataclass
class Runtime:
    """Open resources of one command. Use as a context manager so the store is always closed."""

    settings: Settings
    store: VectorStore
    embedder: Embedder | None
    dense_note: str | None = None
    transcriber: Transcriber | None = None
    ocr: ScreenshotReader | None = None
    text_embedder: TextEmbedder | None = None
    _reader: InputReader | None = field(default=None, init=False, repr=False)
    _graph: ContextGraph | None = field(default=None, init=False, repr=False)
    _engine: ChatEngine | None = field(default=None, init=False, repr=False)

    def graph(self) -> ContextGraph:
        """The knowledge graph of the ingested KB (`<data_dir>/graph.json`; empty before any ingest)."""
        if self._graph is None:
            self._graph = load_graph(self.settings.graph_path)
        return self._graph

    def input_reader(self) -> InputReader:
        """Reads screenshots (OCR) and voice notes (ASR); the engines load on first use, once."""
        if self._reader is None:
            s = self.settings
            transcriber = self.transcriber or make_transcriber(s)
            products = [e.name for e in self.graph().entities("product")]
            ocr = self.ocr or make_reader(s, known_products=products)
            self._reader = InputReader(
                s.limits, transcriber=transcriber, ocr=ocr, allow_missing_models=s.allow_missing_models
            )
        return self._reader

    def retriever(self) -> Retriever:
        embedder, note = self.embedder, self.dense_note
        if embedder is not None and not self.store.dense_populated():
            embedder, note = None, DENSE_OFF_KB
        text = self.text_embedder
        if text is not None and not self.store.dense_populated("text_dense"):
            text = None
            note = f"{note}; {TEXT_DENSE_OFF_KB}" if note else TEXT_DENSE_OFF_KB
        return Retriever(self.store, embedder, dense_note=note, text_embedder=text)

    def engine(
        self,
        generator: Generator | None = None,
        options: EngineOptions | None = None,
        *,
        if_missing: MissingGenerator = "error",
    ) -> ChatEngine:
        """The conversation engine over this runtime; loads the configured generator (once).

        `if_missing` says what missing generator weights mean when --allow-missing-models is set:
        "error" (chat: it always needs a generator), "retrieval-only" (eval scores retrieval alone) or
        "extractive" (the web app answers in extractive mode and its banner says so). Without the
        flag a missing generator is always an error.
        """
        if self._engine is None or generator is not None or options is not None:
            s = self.settings
            if generator is None:
                generator = self._load_generator(if_missing)
            if self._engine is not None:
                self._engine.traces.close()  # replaced by an engine with another generator or options
            traces = TraceStore(s.traces_path)
            traces.open()
            options = engine_options(s, options)
            self._engine = ChatEngine(
                self.input_reader(), self.retriever(), self.graph(), generator, traces, options
            )
        return self._engine

    def _load_generator(self, if_missing: MissingGenerator) -> Generator | None:
        s = self.settings
        generator = make_generator(s)
        try:
            generator.load()
        except ModelMissingError as exc:
            if not s.allow_missing_models and if_missing != "error":
                raise exc.advise(
                    "To answer without a language model, pass --generator extractive or "
                    "--allow-missing-models."
                ) from exc
            if if_missing == "error" or not s.allow_missing_models:
                raise exc.advise(
                    "To answer without a language model, pass --generator extractive (quotes "
                    "knowledge-base sentences)."
                ) from exc
            log.warning("%s", exc)
            if if_missing == "retrieval-only":
                log.warning("answer generator %s unavailable: evaluating retrieval only", s.generator)
                return None
            generator = make_generator(s.with_(generator_model=None), "composer")
            generator.load()
        return generator

    def ingest(
        self, kb_dir: Path, *, progress: bool = True, on_failure: FailureHook | None = None
    ) -> IngestReport:
        """Brings the store and the knowledge graph in line with `kb_dir`, committing the store, the
        graph and the manifest in batches (a killed run resumes); `on_failure(path, reason)` hears
        of each failed file as it happens."""
        report = self.ingestor(progress=progress, on_failure=on_failure).run(kb_dir)
        if report.wrote_anything or not self.settings.graph_path.exists():
            self.graph().save(self.settings.graph_path)
            if self.ocr is None and self._reader is not None and self._engine is None:
                self._reader = None  # rebuilt on next use, so OCR knows the KB's product names
        return report

    def ingestor(self, *, progress: bool = True, on_failure: FailureHook | None = None) -> Ingestor:
        manifest = Manifest.load(self.settings.manifest_path)
        if manifest.entries and not self.settings.graph_path.exists():
            manifest = Manifest(manifest.path)  # the graph is missing: rebuild everything once
        if manifest.entries and self.store.rebuilt:
            log.warning("the index predates the text embedder: every file is read and embedded again")
            manifest = Manifest(manifest.path)  # the outdated collection was replaced: rebuild everything
        return Ingestor(
            self.store,
            manifest,
            self.embedder,
            self.settings.limits,
            sinks=[self.graph()],
            ocr=self.input_reader().ocr,
            batch_size=self.settings.batch_size,
            progress=progress,
            checkpoint=lambda: self.graph().save(self.settings.graph_path),
            on_failure=on_failure,
            text_embedder=self.text_embedder,
        )

    def close(self) -> None:
        if self._engine is not None:
            self._engine.traces.close()
        self.store.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_runtime(
    settings: Settings,
    *,
    embedder: Embedder | None = None,
    load_models: bool = True,
    dim: int | None = None,
    transcriber: Transcriber | None = None,
    ocr: ScreenshotReader | None = None,
    text_embedder: TextEmbedder | None | Literal["settings"] = "settings",
    rebuild_outdated: bool = False,
) -> Runtime:
    """Loads the embedder (unless one is passed in, e.g. a tiny test model) and opens the store.

    `load_models=False` runs without an embedder; the collection then keeps the configured
    embedder's dimension (or `dim`) so a later run with weights can fill in dense vectors.
    `text_embedder` is loaded from the settings (when `load_models`) unless one, or None, is passed;
    `rebuild_outdated` (ingestion) replaces a collection made before the text dense field.
    """
    note: str | None = None
    if embedder is None and load_models:
        embedder, note = load_embedder(settings)
    elif embedder is None:
        note = DENSE_OFF_MISSING
    if embedder is not None:
        dim = embedder.dim
    elif dim is None:
        dim = make_embedder(settings).dim  # cheap: constructors load nothing
    if text_embedder == "settings":
        text = load_text_embedder(settings) if load_models else None
    else:
        text = text_embedder
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = make_store(
        settings,
        dim=dim,
        dense_enabled=embedder is not None,
        text_dim=text.dim if text is not None else 384,
        rebuild_outdated=rebuild_outdated,
    )
    store.open()
    return Runtime(settings, store, embedder, note, transcriber, ocr, text)
