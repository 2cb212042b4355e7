"""The values a turn is run with and ends in: `EngineOptions`, the engine's `TurnParts`, the
`TurnResult` and the `TurnStream` that yields the answer so far and then holds the result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chatbot.abstention import AbstentionPolicy
from chatbot.followups import CarryOptions
from chatbot.generators.protocol import Generator
from chatbot.sessions import SessionLimits
from chatbot.traces import TraceStore
from chatbot.turn_trace import Citation, TurnTrace
from core.errors import ConfigError
from core.models import ModelChoice
from knowledge_graph.context import ContextOptions
from knowledge_graph.protocol import ContextGraph
from retrieval.retriever import Retriever


@dataclass(frozen=True)
class EngineOptions:
    """`top_k` hits retrieved, `evidence_k` of them given to the generator, `graph_k` graph candidates;
    `policy` decides abstention, `limits` bound sessions, `context` tunes the conversation context.
    Built from settings (`--set engine.top_k=8`, ...) by `app.options`."""

    top_k: int = 8
    evidence_k: int = 4
    graph_k: int = 5
    graph_hops: int = 2
    policy: AbstentionPolicy = AbstentionPolicy()
    limits: SessionLimits = SessionLimits()
    context: ContextOptions = ContextOptions()
    carry: CarryOptions = CarryOptions()

    def __post_init__(self) -> None:
        if not 1 <= self.evidence_k <= self.top_k <= 50:
            raise ConfigError("need 1 <= evidence_k <= top_k <= 50")
        if self.graph_k < 0 or self.graph_hops < 0:
            raise ConfigError("graph_k and graph_hops must be >= 0")


@dataclass(frozen=True)
class TurnParts:
    """What the steps of a turn run on: the engine's parts and options."""

    retriever: Retriever
    graph: ContextGraph
    generator: Generator | None
    traces: TraceStore
    options: EngineOptions
    models: tuple[ModelChoice, ...] = ()  # what each part runs with, recorded in every trace


@dataclass(frozen=True)
class TurnResult:
    """One finished turn: the text the customer saw, its citations, whether the bot declined to answer,
    handed over (exactly when `trace.handoff` holds a packet), or asked a question back; `options` are
    the replies offered as buttons."""

    turn_id: int
    session_id: str
    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    handoff: bool
    trace: TurnTrace
    options: tuple[str, ...] = ()
    asked_back: bool = False


class TurnStream:
    """Iterate for the growing answer text; then read `.result`."""

    def __init__(self, run: Callable[[TurnStream], Iterator[str]]) -> None:
        self._run = run
        self._result: TurnResult | None = None

    def __iter__(self) -> Iterator[str]:
        return self._run(self)

    @property
    def result(self) -> TurnResult:
        if self._result is None:
            raise RuntimeError("the turn result is known only after the stream has been read")
        return self._result

    def set_result(self, result: TurnResult) -> None:
        self._result = result

    def finish(self) -> TurnResult:
        for _ in self:
            pass
        return self.result
