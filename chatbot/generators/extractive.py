"""The extractive generator: quotes the 1-3 evidence sentences that best match the question, each cited.

No model and no weights: every sentence is copied verbatim from a passage and followed by its [n],
and the answer is labelled as a quotation so nobody mistakes it for a written answer. It is chosen
explicitly (`--generator extractive`); it is never a silent stand-in for the T5 generator.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

from chatbot.generators.grounding import DEFAULT_THRESHOLD, content_words, finish_answer
from chatbot.generators.prompt import build_prompt
from chatbot.generators.protocol import ABSTAIN_TEXT, Answer, AnswerStream, Evidence, GenerationRequest

LABEL = "(extractive answer: quoted from the knowledge base)"
MIN_SENTENCE_WORDS = 3
RELATIVE_CUTOFF = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=\S)")
_QA_PREFIX = re.compile(r"^\s*([QA]):\s*", re.IGNORECASE)


def passage_body(evidence: Evidence) -> list[str]:
    """The passage's paragraphs without its header line (title > heading) and without FAQ "Q:" lines."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", evidence.text) if p.strip()]
    title = " ".join(evidence.title.split()).casefold()
    if (
        len(paragraphs) > 1
        and title
        and " ".join(paragraphs[0].split()).casefold().startswith(title)
        and not _SENTENCE_END.search(paragraphs[0] + " x")
    ):
        paragraphs = paragraphs[1:]
    out: list[str] = []
    for paragraph in paragraphs:
        lines: list[str] = []
        for line in paragraph.splitlines():
            prefix = _QA_PREFIX.match(line)
            if prefix and prefix.group(1).upper() == "Q":
                continue
            lines.append(line[prefix.end() :] if prefix else line)
        text = " ".join(" ".join(lines).split())
        if text:
            out.append(text)
    return out


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


class ExtractiveGenerator:
    """Answers by quoting evidence sentences with the most question words (see the module doc)."""

    name = "extractive"

    def __init__(self, max_sentences: int = 3, grounding_threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 1 <= max_sentences <= 3:
            raise ValueError(f"max_sentences must be 1 to 3, got {max_sentences}")
        self.max_sentences = max_sentences
        self.grounding_threshold = grounding_threshold

    def load(self) -> None:
        """Nothing to load: the extractive generator has no weights."""

    def select(self, request: GenerationRequest) -> list[tuple[str, int]]:
        """The chosen (sentence, evidence number) pairs, in evidence order; empty if nothing matches."""
        wanted = set(content_words(request.question))
        scored: list[tuple[float, int, int, str, int]] = []  # score, rank, position, sentence, number
        position = 0
        for rank, evidence in enumerate(request.evidence):
            for paragraph in passage_body(evidence):
                for sentence in split_sentences(paragraph):
                    position += 1
                    words = set(content_words(sentence))
                    if len(sentence.split()) < MIN_SENTENCE_WORDS or not words:
                        continue
                    overlap = len(wanted & words)
                    if overlap:
                        score = overlap / math.sqrt(len(words)) + 0.01 / (rank + 1)
                        scored.append((score, rank, position, sentence, evidence.number))
        if not scored:
            return []
        scored.sort(key=lambda item: (-item[0], item[1], item[2]))
        best = scored[0][0]
        chosen: list[tuple[float, int, int, str, int]] = []
        for item in scored:
            if len(chosen) == self.max_sentences or item[0] < RELATIVE_CUTOFF * best:
                break
            if all(item[3] != c[3] for c in chosen):
                chosen.append(item)
        chosen.sort(key=lambda item: (item[1], item[2]))
        return [(sentence, number) for _, _, _, sentence, number in chosen]

    def _parts(self, request: GenerationRequest) -> list[str]:
        picked = self.select(request)
        if not picked:
            return []
        return [LABEL] + [f" {sentence} [{number}]" for sentence, number in picked]

    def _finish(self, request: GenerationRequest, prompt: str) -> Answer:
        if not request.evidence:
            return finish_answer("", request, generator=self.name, prompt=prompt)
        parts = self._parts(request)
        if not parts:
            reason = "no evidence sentence shares a content word with the question"
            return Answer(f"{LABEL} {ABSTAIN_TEXT}", (), False, 0.0, self.name, True, reason, prompt)
        return finish_answer(
            "".join(parts),
            request,
            generator=self.name,
            prompt=prompt,
            threshold=self.grounding_threshold,
            checked_text="".join(parts[1:]),
        )

    def generate(self, request: GenerationRequest) -> Answer:
        return self._finish(request, build_prompt(request).text)

    def stream(self, request: GenerationRequest) -> AnswerStream:
        prompt = build_prompt(request).text
        answer = self._finish(request, prompt)

        def pieces() -> Iterator[str]:
            yield from (self._parts(request) if answer.citations else [answer.text])

        return AnswerStream(pieces(), lambda _text: answer)
