"""Answer-quality metrics for fine-tuning: ROUGE-L (longest common subsequence F1) and citation accuracy.

ROUGE-L here is computed on lowercased word tokens (letters and digits; citation markers such as
"[1]" are dropped, so wording and citing are scored separately) with the F1 of LCS-based precision
and recall. Citation accuracy: an answer whose reference cites passages counts as correct when its
own citations are non-empty, all name given evidence numbers, and equal the reference's set of
citations; an answer whose reference cites nothing (an abstention) counts as correct when it cites
nothing either.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from chatbot.generators.grounding import parse_citations, strip_citations

_TOKEN = re.compile(r"[a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    return _TOKEN.findall(strip_citations(text).lower())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming over one row, O(len(a)*len(b)))."""
    if not a or not b:
        return 0
    if len(b) > len(a):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for token_a in a:
        current = [0]
        for j, token_b in enumerate(b, start=1):
            if token_a == token_b:
                current.append(previous[j - 1] + 1)
            else:
                current.append(max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F1 of one prediction against one reference, in [0, 1]; two empty texts score 1."""
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    if not pred and not ref:
        return 1.0
    lcs = lcs_length(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def mean_rouge_l(predictions: Sequence[str], references: Sequence[str]) -> float:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        return 0.0
    return sum(rouge_l(p, r) for p, r in zip(predictions, references, strict=True)) / len(predictions)


def citation_correct(prediction: str, reference: str, valid_numbers: Collection[int]) -> bool:
    """One answer's citations judged against the reference's (see the module doc)."""
    predicted = set(parse_citations(prediction))
    expected = set(parse_citations(reference))
    if not expected:
        return not predicted
    return bool(predicted) and predicted <= set(valid_numbers) and predicted == expected


def citation_accuracy(
    predictions: Sequence[str], references: Sequence[str], valid_numbers: Sequence[Collection[int]]
) -> float:
    """The fraction of answers whose citations are correct; `valid_numbers[i]` are example i's passages."""
    if not len(predictions) == len(references) == len(valid_numbers):
        raise ValueError("predictions, references and valid_numbers must have the same length")
    if not predictions:
        return 0.0
    hits = sum(
        citation_correct(p, r, v) for p, r, v in zip(predictions, references, valid_numbers, strict=True)
    )
    return hits / len(predictions)
