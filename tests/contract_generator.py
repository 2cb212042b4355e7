"""Reusable contract tests every `Generator` backend must pass.

Subclass in a `test_*.py` file, set `NAME` (the name answers carry) and provide a `generator` fixture
(loaded or not: `generate` and `stream` load on first use):

    class TestMyGeneratorContract(GeneratorContract):
        NAME = "mine"

        @pytest.fixture
        def generator(self): ...
"""

from __future__ import annotations

import pytest

from chatbot.generators.protocol import Evidence, GenerationRequest, Generator

RESET = Evidence(
    1,
    "manuals/x200.md",
    "X200 Router > Reset\n\nTo reset the X200 router, hold the reset button for ten seconds. "
    "The power light blinks amber while the router restarts.",
    "X200 Router",
)
RETURNS = Evidence(
    2,
    "policies/returns.md",
    "Returns are accepted within 30 days of delivery. Refunds are paid to the original payment method.",
    "Returns policy",
)
QUESTION = GenerationRequest("How do I reset the X200 router?", ("customer: hello",), (RESET, RETURNS))


class GeneratorContract:
    """The behaviour `chatbot.generators.protocol.Generator` promises; subclasses supply `generator`."""

    NAME = ""

    @pytest.fixture
    def generator(self) -> Generator:
        raise NotImplementedError("subclasses provide a generator")

    def test_is_a_generator_and_loads_twice(self, generator: Generator) -> None:
        assert isinstance(generator, Generator) and generator.name == self.NAME
        generator.load()
        generator.load()  # safe twice

    def test_answer_names_its_generator_prompt_and_cites_given_passages_only(
        self, generator: Generator
    ) -> None:
        answer = generator.generate(QUESTION)
        assert answer.generator == self.NAME and answer.prompt
        assert set(answer.citations) <= {1, 2} or not answer.grounded
        assert 0.0 <= answer.support <= 1.0
        assert answer.grounded is False or answer.citations, "a grounded answer cites a passage"

    def test_stream_joins_to_the_answer_and_matches_generate(self, generator: Generator) -> None:
        stream = generator.stream(QUESTION)
        with pytest.raises(RuntimeError):
            _ = stream.answer  # known only after the stream was read
        pieces = list(stream)
        assert "".join(pieces) == stream.answer.text
        assert stream.answer.text == generator.generate(QUESTION).text, "deterministic"

    def test_abstains_without_evidence(self, generator: Generator) -> None:
        answer = generator.generate(GenerationRequest("Anything?"))
        assert answer.abstained and not answer.grounded and answer.citations == ()
