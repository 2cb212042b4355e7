"""Is an answer supported by the passages it cites? Citation parsing, the grounding check, the verdict.

`check_grounding` is deliberately simple and strict: the answer must cite at least one passage,
every cited number must exist, and at least `threshold` of the answer's content words must occur
in the cited passages. Content words are `core.textnorm` index terms (the stems search and
abstention use), without stop words, phrasing filler and citation markers. An answer that fails
is returned with `grounded=False` and a reason; the chat engine then shows a hedged message or
abstains instead of presenting it as fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from chatbot.generators.protocol import Answer, Evidence, GenerationRequest
from core import textnorm
from core.errors import ConfigError

DEFAULT_THRESHOLD = 0.5

_CITATION = re.compile(r"\[\s*(\d{1,4}(?:\s*[,;]\s*\d{1,4})*)\s*\]")
_ABSTAIN = re.compile(
    r"\b(?:can ?not|can't|cannot|unable to)\s+(?:answer|help with)\b"
    r"|\bdon't know\b"
    r"|\bnot (?:covered|answered) (?:by|in) (?:our|the)\b"
)

# Words an answer uses to phrase things, beyond `core.textnorm`'s stop list, which carry no fact
# to check (contraction leftovers "don", "t", modal and filler verbs).
_FILLER_TEXT = (
    "s t d ll m re ve also may might must shall us let get got yes don doesn didn isn aren wasn weren "
    "won wouldn shouldn couldn cannot one"
)
FILLER: frozenset[str] = frozenset(textnorm.tokens(_FILLER_TEXT))


class GroundingCheck(NamedTuple):
    """The verdict of `check_grounding`; unpacks as (grounded, support, bad_citations)."""

    grounded: bool
    support: float
    bad_citations: tuple[int, ...]


def parse_citations(text: str) -> tuple[int, ...]:
    """Cited passage numbers in order of first appearance: "[2] ... [1, 3] ... [2]" -> (2, 1, 3)."""
    seen: dict[int, None] = {}
    for match in _CITATION.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part.strip()), None)
    return tuple(seen)


def strip_citations(text: str) -> str:
    return " ".join(_CITATION.sub(" ", text).split())


def content_words(text: str) -> list[str]:
    """The index terms (`core.textnorm.tokens`: the same stems abstention and search use) of the words
    that carry meaning: citation markers, stop words and phrasing filler removed."""
    flat = strip_citations(text).replace("’", "'")
    return [t for t in textnorm.tokens(flat) if t not in FILLER]


def is_abstention(text: str) -> bool:
    """Does the text decline to answer (e.g. "I can't answer that reliably ...")?"""
    return bool(_ABSTAIN.search(text.lower().replace("’", "'")))


def check_grounding(
    answer_text: str, evidence: Sequence[Evidence], threshold: float = DEFAULT_THRESHOLD
) -> GroundingCheck:
    """Grounded iff it cites >= 1 passage, cites only existing numbers, and its support >= threshold."""
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"grounding threshold must be within [0, 1], got {threshold}")
    by_number = {e.number: e for e in evidence}
    cited = parse_citations(answer_text)
    bad = tuple(n for n in cited if n not in by_number)
    valid = [by_number[n] for n in cited if n in by_number]
    words = content_words(answer_text)
    if not valid or not words:
        return GroundingCheck(False, 0.0, bad)
    supported_vocab: set[str] = set()
    for passage in valid:
        supported_vocab.update(content_words(f"{passage.title} {passage.text}"))
    support = sum(1 for w in words if w in supported_vocab) / len(words)
    return GroundingCheck(not bad and support >= threshold, support, bad)


def _numbers(numbers: Iterable[int]) -> str:
    return ", ".join(f"[{n}]" for n in numbers)


def finish_answer(
    text: str,
    request: GenerationRequest,
    *,
    generator: str,
    prompt: str,
    threshold: float = DEFAULT_THRESHOLD,
    checked_text: str | None = None,
) -> Answer:
    """Turn generated text into an `Answer` with citations and the grounding verdict.

    `checked_text` is the part of `text` the check looks at (default: all of it), e.g. without a
    label the extractive generator puts in front.
    """
    text = text.strip()
    body = text if checked_text is None else checked_text
    citations = parse_citations(body)
    if not request.evidence:
        return Answer(text, citations, False, 0.0, generator, True, "no evidence was retrieved", prompt)
    if not body.strip():
        return Answer(text, (), False, 0.0, generator, True, "the generator produced no answer", prompt)
    if is_abstention(body) and not citations:
        reason = "the generator found no answer in the retrieved evidence"
        return Answer(text, (), False, 0.0, generator, True, reason, prompt)
    grounded, support, bad = check_grounding(body, request.evidence, threshold)
    if grounded:
        reason = f"{support:.0%} of the answer's content words appear in the cited passages"
    elif bad:
        given = _numbers(sorted(request.evidence_by_number()))
        reason = f"the answer cites {_numbers(bad)} but only {given} were given"
    elif not citations:
        reason = "the answer cites no passage, so it cannot be checked against the knowledge base"
    else:
        reason = (
            f"only {support:.0%} of the answer's content words appear in the cited passages "
            f"(at least {threshold:.0%} needed)"
        )
    return Answer(text, citations, grounded, support, generator, False, reason, prompt)
