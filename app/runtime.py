"""Builds the heavy parts of one run from `Settings`: embedder (or none), store, retriever, ingestor.

What runs when a model is missing is decided by one rule, `app.reduced` (stop with what to download
or import, or, with --allow-missing-models, the best available replacement or the part off); the
runtime applies it per part on first use, keeps every `ModelChoice`, and `statement()` gives the one
start-up line that says what runs reduced. The choices go into every turn's trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

from app import reduced
from app.options import fusion_weights, retrieval_options
from core.config import Settings
from core.models import ModelChoice
from retrieval.embedders.factory import make_embedder, make_text_embedder
from retrieval.embedders.protocol import Embedder, TextEmbedder
from retrieval.retriever import Retriever
from retrieval.stores.factory import make_store
from retrieval.stores.protocol import VectorStore
from retrieval.understand import InputReader

if TYPE_CHECKING:  # imported where used: `supportbot search` needs no engine, graph or ingestion code
    from chatbot.engine import ChatEngine, EngineOptions
    from chatbot.generators.protocol import Generator
    from chatbot.traces import TraceStore
    from knowledge_graph.protocol import ContextGraph
    from retrieval.asr.protocol import Transcriber
    from retrieval.ingest import FailureHook, Ingestor, IngestReport
    from retrieval.ocr.protocol import ScreenshotReader

log = logging.getLogger(__name__)

DENSE_OFF_MISSING = (
    "ImageBind dense retrieval OFF: its weights are missing; pictures and sounds are matched by their "
    "text only"
)
TEXT_DENSE_OFF_KB = (
    "text dense retrieval OFF for this KB: it was ingested without the text embedder; re-run `supportbot "
    "ingest` to add it"
)
DENSE_OFF_KB = (
    "dense retrieval OFF for this KB: it was ingested without embedder weights; re-run `supportbot ingest` "
    "with the weights present"
)


def load_embedder(settings: Settings) -> tuple[Embedder | None, str | None, ModelChoice]:
    """The configured embedder, loaded; or (None, note) when it is off under the reduced-mode rule."""
    decided = reduced.resolve(settings, reduced.CROSS_MODAL)
    if decided.choice.used is None:
        return None, DENSE_OFF_MISSING, decided.choice
    embedder = make_embedder(settings)
    embedder.load()
    return embedder, None, decided.choice


def load_text_embedder(settings: Settings) -> tuple[TextEmbedder | None, ModelChoice]:
    """The text embedder the reduced-mode rule picks, loaded; None when it is off."""
    decided = reduced.resolve(settings, reduced.TEXT)
    settings = settings.with_(**decided.changes) if decided.changes else settings
    embedder = make_text_embedder(settings) if decided.choice.used is not None else None
    if embedder is not None:
        embedder.load()
    return embedder, decided.choice


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
    choices: dict[str, ModelChoice] = field(default_factory=dict)
    _reader: InputReader | None = field(default=None, init=False, repr=False)
    _graph: ContextGraph | None = field(default=None, init=False, repr=False)
    _engine: ChatEngine | None = field(default=None, init=False, repr=False)
    _traces: TraceStore | None = field(default=None, init=False, repr=False)

    @property
    def traces(self) -> TraceStore:
        """The trace store of this run: one for the runtime's lifetime, shared by every engine it
        builds and by the staff console; closed with the runtime."""
        if self._traces is None:
            from chatbot.traces import TraceStore

            self._traces = TraceStore(self.settings.traces_path)
            self._traces.open()
        return self._traces

    def graph(self) -> ContextGraph:
        """The knowledge graph of the ingested KB (`<data_dir>/graph.json`; empty before any ingest)."""
        if self._graph is None:
            from knowledge_graph.factory import load_graph

            self._graph = load_graph(self.settings.graph_path)
        return self._graph

    def prepare(self, roles: tuple[str, ...] = reduced.ALL_ROLES) -> str | None:
        """Decide now what each of `roles` runs with (a missing model stops here, before any work);
        returns the start-up statement of what runs reduced (None: everything as configured)."""
        for role in roles:
            self._decide(role)
        return reduced.statement(tuple(self.choices.values()))

    def _decide(self, role: str) -> ModelChoice:
        """The reduced-mode decision for `role`, made once; applies its settings change."""
        if role not in self.choices:
            decided = reduced.resolve(self.settings, role)
            self.settings = self.settings.with_(**decided.changes) if decided.changes else self.settings
            self.choices[role] = decided.choice
        return self.choices[role]

    def input_reader(self, *, screenshots: bool = True) -> InputReader:
        """Reads screenshots (OCR) and voice notes (ASR); the engines load on first use, once.
        `screenshots=False` (a query known to hold no image) skips the OCR reader, and with it the
        knowledge graph it takes product names from; that reader is not kept."""
        if self._reader is not None:
            return self._reader
        from retrieval.asr.factory import make_transcriber

        transcriber = self.transcriber
        if transcriber is None and self._decide(reduced.SPEECH).used is not None:
            transcriber = make_transcriber(self.settings)
        ocr = self.ocr
        if screenshots and ocr is None and self._decide(reduced.OCR).used is not None:
            from retrieval.ocr.factory import make_reader

            products = [e.name for e in self.graph().entities("product")]
            ocr = make_reader(self.settings, known_products=products)
        s = self.settings
        reader = InputReader(
            s.limits, transcriber=transcriber, ocr=ocr, allow_missing_models=s.allow_missing_models
        )
        if screenshots:
            self._reader = reader
        return reader

    def retriever(self) -> Retriever:
        embedder, note = self.embedder, self.dense_note
        if embedder is not None and not self.store.dense_populated():
            embedder, note = None, DENSE_OFF_KB
        text = self.text_embedder
        if text is not None and not self.store.dense_populated("text_dense"):
            text = None
            note = f"{note}; {TEXT_DENSE_OFF_KB}" if note else TEXT_DENSE_OFF_KB
        weights = fusion_weights(self.settings)
        spelling = retrieval_options(self.settings).spelling
        return Retriever(
            self.store, embedder, dense_note=note, text_embedder=text, weights=weights, spelling=spelling
        )

    def engine(
        self,
        generator: Generator | None = None,
        options: EngineOptions | None = None,
        traces: TraceStore | None = None,
    ) -> ChatEngine:
        """The conversation engine over this runtime; loads the generator the reduced-mode rule
        picks (the configured one, or with --allow-missing-models the offline composer), once.
        Without `options` the abstention thresholds are this KB's calibration (`supportbot
        calibrate`) when it has one; `--set` overrides apply on top either way. `traces`: another
        trace store than the data dir's (calibration keeps its questions out of the staff console)."""
        if self._engine is None or generator is not None or options is not None or traces is not None:
            from app.calibration_state import calibrated_options
            from app.options import engine_options
            from chatbot.engine import ChatEngine
            from chatbot.generators.factory import make_generator

            if generator is None:
                self._decide(reduced.ANSWERS)
                generator = make_generator(self.settings)
                generator.load()
            options = engine_options(self.settings, options or calibrated_options(self.settings))
            engine = ChatEngine(
                self.input_reader(),
                self.retriever(),
                self.graph(),
                generator,
                traces or self.traces,
                options,
                models=tuple(self.choices.values()),
            )
            if traces is not None:
                return engine
            self._engine = engine
        return self._engine

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
        from retrieval.ingest import Ingestor
        from retrieval.manifest import Manifest

        manifest = Manifest.load(self.settings.manifest_path)
        if manifest.entries and not self.settings.graph_path.exists():
            manifest = Manifest(manifest.path)  # the graph is missing: rebuild everything once
        if manifest.entries and self.store.count() == 0:
            log.warning("the index is empty but the manifest lists files: every file is ingested again")
            manifest = Manifest(manifest.path)  # milvus.db was deleted or replaced: rebuild everything
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

    def data_dir_problems(self) -> list[str]:
        """What makes the data dir's parts disagree (empty: they agree): the manifest lists ingested
        files but the knowledge graph or the index lost them. `supportbot ingest` repairs each."""
        from retrieval.manifest import Manifest

        manifest = Manifest.load(self.settings.manifest_path)  # unreadable: InputError with advice
        if not manifest.entries:
            return []
        problems: list[str] = []
        if not self.settings.graph_path.exists():
            problems.append(f"the knowledge graph {self.settings.graph_path} is missing")
        else:
            graph_docs = self.graph().doc_ids()
            lost = {d for e in manifest.entries.values() for d in e.doc_ids} - graph_docs
            if lost:
                problems.append(f"the knowledge graph lacks {len(lost)} ingested documents")
        indexed = self.store.count()
        expected = sum(e.chunks for e in manifest.entries.values())
        if indexed == 0:
            problems.append(f"the index is empty but the manifest lists {len(manifest.entries)} files")
        elif indexed < expected:
            problems.append(f"the index holds {indexed} chunks but the manifest lists {expected}")
        return problems

    def close(self) -> None:
        if self._traces is not None:
            self._traces.close()
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
    choices: dict[str, ModelChoice] = {}
    if embedder is None and load_models:
        embedder, note, choices[reduced.CROSS_MODAL] = load_embedder(settings)
    elif embedder is None:
        note = DENSE_OFF_MISSING
    if embedder is not None:
        dim = embedder.dim
    elif dim is None:
        dim = make_embedder(settings).dim  # cheap: constructors load nothing
    text: TextEmbedder | None = None
    if text_embedder == "settings":
        if load_models:
            text, choices[reduced.TEXT] = load_text_embedder(settings)
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
    return Runtime(settings, store, embedder, note, transcriber, ocr, text, choices)
