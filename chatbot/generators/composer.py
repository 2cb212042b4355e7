"""The answer composer as a generator: no model, the KB's own words arranged to answer the question.

It writes the plan the engine made (`GenerationRequest.plan`; without one it plans from the given
evidence alone) with `chatbot.answers.compose`: the procedure's steps whole and in order, the
definition, the fact, a yes or no first. Every word but "Yes."/"No." and a section heading is copied
from a cited passage, and the grounding check still runs. `--generator extractive` names it too
(the name of its quoting predecessor).
"""

from __future__ import annotations

from collections.abc import Iterator

from chatbot.answers.compose import compose
from chatbot.answers.plan import AnswerPlan, Planner, PlanRequest
from chatbot.answers.scope import Scoper
from chatbot.answers.sections import Passage
from chatbot.generators.grounding import DEFAULT_THRESHOLD, finish_answer
from chatbot.generators.prompt import build_prompt
from chatbot.generators.protocol import Answer, AnswerStream, GenerationRequest

NOTHING_FITS = "no section of the evidence answers the question"


def plan_from_evidence(request: GenerationRequest) -> AnswerPlan:
    """A plan made from the request's evidence alone (no knowledge graph, no sibling sections)."""
    passages = tuple(
        Passage(e.doc_id, i, e.text, e.title, e.modality, {}, e.score, i)
        for i, e in enumerate(request.evidence)
    )
    return Planner(Scoper(None)).plan(PlanRequest(request.question, request.question, (), passages))


class ComposerGenerator:
    """Answers by composing the plan's sections (see the module doc)."""

    name = "composer"

    def __init__(self, grounding_threshold: float = DEFAULT_THRESHOLD) -> None:
        self.grounding_threshold = grounding_threshold

    def load(self) -> None:
        """Nothing to load: the composer has no weights."""

    def _answer(self, request: GenerationRequest) -> Answer:
        prompt = build_prompt(request).text
        if not request.evidence:
            return finish_answer("", request, generator=self.name, prompt=prompt)
        plan = (
            request.plan if request.plan is not None and request.plan.items else plan_from_evidence(request)
        )
        if not plan.items:
            return Answer("", (), False, 0.0, self.name, True, NOTHING_FITS, prompt)
        numbers = None
        if request.plan is None:  # sections came from evidence i (chunk_id i): cite its number
            numbers = {s.key: request.evidence[s.chunk_ids[0]].number for s in plan.sections}
        return finish_answer(
            compose(plan, numbers),
            request,
            generator=self.name,
            prompt=prompt,
            threshold=self.grounding_threshold,
        )

    def generate(self, request: GenerationRequest) -> Answer:
        return self._answer(request)

    def stream(self, request: GenerationRequest) -> AnswerStream:
        answer = self._answer(request)

        def pieces() -> Iterator[str]:
            # Paragraph by paragraph, so a chat shows the answer growing without breaking a list.
            parts = answer.text.split("\n\n")
            for i, part in enumerate(parts):
                yield part if i == 0 else "\n\n" + part

        return AnswerStream(pieces(), lambda _text: answer)
