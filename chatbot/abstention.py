"""When the bot should not answer: weak retrieval, an unreliable voice note or screenshot reading.

Retrieval confidence is the best *term coverage* among the top hits: the share of the question's
normalised terms (see `retrieval.textnorm`) that the hit's text contains, raised to the dense
cosine score of the hit where dense retrieval ran. Thresholds are calibrated on the eval set by
`bench/calibrate_abstention.py`, which prints the table the README shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from retrieval import textnorm
from retrieval.errors import ConfigError
from retrieval.types import Hit
from retrieval.understand import Understanding


@dataclass(frozen=True)
class AbstentionPolicy:
    """`min_coverage`: least term coverage of the best hit; `min_dense`: a dense cosine that counts as
    enough on its own; `min_asr` / `min_ocr`: reading confidences below which a voice note / screenshot
    that is the only input is not trusted."""

    min_coverage: float = 0.5
    min_dense: float = 0.35
    min_asr: float = 0.3
    min_ocr: float = 0.5
    top_hits: int = 3

    def __post_init__(self) -> None:
        for name in ("min_coverage", "min_dense", "min_asr", "min_ocr"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"abstention threshold {name} must be in [0, 1], got {getattr(self, name)}")
        if self.top_hits < 1:
            raise ConfigError("top_hits must be >= 1")


@dataclass(frozen=True)
class Verdict:
    abstain: bool
    reason: str
    confidence: float


def query_terms(understanding: Understanding, resolved_text: str) -> set[str]:
    """The terms a good hit should contain: typed/spoken words, else what the screenshot showed."""
    terms = set(textnorm.tokens(resolved_text))
    if understanding.ocr is not None:
        f = understanding.ocr.fields
        terms |= set(textnorm.tokens(" ".join(f.error_codes + f.products)))
        if not terms:
            terms = set(textnorm.tokens(understanding.ocr.text))
    return terms


def coverage(terms: set[str], hit: Hit) -> float:
    if not terms:
        return 0.0
    return len(terms & set(textnorm.tokens(hit.text))) / len(terms)


def retrieval_confidence(terms: set[str], hits: Sequence[Hit], top: int) -> float:
    best = 0.0
    for hit in hits[:top]:
        dense = max((s.score for name, s in hit.sources.items() if name.startswith("dense:")), default=0.0)
        best = max(best, coverage(terms, hit), dense)
    return round(best, 4)


def judge(
    policy: AbstentionPolicy, understanding: Understanding, resolved_text: str, hits: Sequence[Hit]
) -> Verdict:
    """Whether to abstain before generating, and why (the reason is shown to staff and the customer)."""
    typed = bool(understanding.typed_text)
    t, o = understanding.transcript, understanding.ocr
    if t is not None and not typed and t.text.strip() and t.confidence < policy.min_asr:
        return Verdict(
            True, f"the voice note could not be understood reliably (confidence {t.confidence:.2f})", 0.0
        )
    if o is not None and not typed and t is None and not o.empty and o.confidence < policy.min_ocr:
        return Verdict(
            True, f"the screenshot could not be read reliably (confidence {o.confidence:.2f})", 0.0
        )
    if not hits:
        return Verdict(True, "nothing in the knowledge base matches the question", 0.0)
    terms = query_terms(understanding, resolved_text)
    confidence = retrieval_confidence(terms, hits, policy.top_hits)
    has_dense = any(name.startswith("dense:") for hit in hits for name in hit.sources)
    threshold = min(policy.min_coverage, policy.min_dense) if has_dense else policy.min_coverage
    if confidence < threshold:
        return Verdict(
            True,
            "the question looks out of scope for our support knowledge "
            f"(match {confidence:.2f} < {threshold:.2f})",
            confidence,
        )
    return Verdict(False, "", confidence)
