"""The `Generator` role and its value types: numbered evidence in, a cited, grounding-checked answer out.

Streaming design: `Generator.stream(request)` returns an `AnswerStream`. Iterating it yields the
answer's text pieces as they are produced (their concatenation is exactly `Answer.text`, which is
stripped of surrounding whitespace); once the iteration is exhausted, `stream.answer` holds the
final `Answer` (citations, grounding verdict, prompt). Reading `.answer` before the pieces are
exhausted raises `RuntimeError`. A stream can be iterated once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.errors import InputError, ModelOutputError
from core.types import Hit
from retrieval import injection

if TYPE_CHECKING:
    from chatbot.answers.plan import AnswerPlan

ABSTAIN_TEXT = "I can't answer that reliably from our support knowledge."


@dataclass(frozen=True)
class Evidence:
    """One retrieved passage as the generator sees it; `number` is the n the answer cites as [n]."""

    number: int
    doc_id: str
    text: str
    title: str = ""
    modality: str = "text"
    score: float = 0.0

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InputError(f"evidence numbers start at 1, got {self.number} for {self.doc_id!r}")


@dataclass(frozen=True)
class GenerationRequest:
    """A question, the earlier turns of the conversation (oldest first) and the numbered evidence; `plan`
    is the answer composer's plan (type, section, why) when the engine made one: its sections are the
    first evidence numbers."""

    question: str
    history: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    plan: AnswerPlan | None = None
    hint: str = ""  # the plan in words for a model's input ("steps from [1] Error E-42 > Fix for the X300")

    def __post_init__(self) -> None:
        if not self.question.strip():
            raise InputError("the question is empty: type a question for the assistant to answer")
        numbers = [e.number for e in self.evidence]
        if len(set(numbers)) != len(numbers):
            raise InputError(f"evidence numbers must be unique, got {numbers}")

    def evidence_by_number(self) -> dict[int, Evidence]:
        return {e.number: e for e in self.evidence}


@dataclass(frozen=True)
class Answer:
    """A generated answer and its verdict.

    `grounded` False means the text must not be shown as fact (`reason` says why); `abstained` True
    means the generator declined to answer. `support` is the fraction of the answer's content words
    found in the passages it cites. `prompt` is the exact generator input, for the trace.
    """

    text: str
    citations: tuple[int, ...]
    grounded: bool
    support: float
    generator: str
    abstained: bool = False
    reason: str = ""
    prompt: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.support <= 1.0:
            raise ModelOutputError(f"support must be within [0, 1], got {self.support}")


class AnswerStream:
    """Text pieces of an answer as they are produced, then the final `Answer` (see the module doc)."""

    def __init__(self, pieces: Iterable[str], finish: Callable[[str], Answer]) -> None:
        self._pieces = pieces
        self._finish = finish
        self._answer: Answer | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("an AnswerStream can be iterated only once")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[str]:
        # Leading whitespace is dropped and trailing whitespace held back until more text follows,
        # so the pieces join to exactly the stripped text the final answer carries.
        emitted: list[str] = []
        pending = ""
        for piece in self._pieces:
            if not emitted:
                piece = piece.lstrip()
            text = pending + piece
            body = text.rstrip()
            pending = text[len(body) :]
            if body:
                emitted.append(body)
                yield body
        self._answer = self._finish("".join(emitted))

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            raise RuntimeError("the answer is known only after all its pieces have been read")
        return self._answer

    def consume(self) -> Answer:
        """Read every remaining piece (discarding them) and return the final answer."""
        if not self._started:
            for _ in self:
                pass
        return self.answer


@runtime_checkable
class Generator(Protocol):
    """Writes an answer to a `GenerationRequest`, citing evidence as [n].

    Constructors are cheap; `load()` loads weights and is safe to call twice; `generate` and `stream`
    call `load()` themselves when needed.
    """

    name: str

    def load(self) -> None: ...

    def generate(self, request: GenerationRequest) -> Answer: ...

    def stream(self, request: GenerationRequest) -> AnswerStream: ...


def evidence_from_hits(hits: Sequence[Hit]) -> tuple[Evidence, ...]:
    """Number retrieval hits 1..n, best first, as generator evidence (title from the hit's metadata;
    instruction-like sentences removed, see `retrieval.injection`)."""
    out: list[Evidence] = []
    for number, hit in enumerate(hits, start=1):
        title = str(hit.metadata.get("title") or "")
        # KB text is data: sentences that address the assistant never reach a generator.
        text = injection.strip(hit.text)
        out.append(Evidence(number, hit.doc_id, text, title, hit.modality, float(hit.score)))
    return tuple(out)
