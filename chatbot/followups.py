"""Conversation-aware retrieval: which earlier questions a message carries into its search, and why.

Most customer topics (orders, refunds, accounts) name no product or error code, so the knowledge
graph's entity activation cannot tell what "please help me with that" or "can you walk me through
it?" is about. `decide()` looks at the message's own content terms (`chatbot.abstention.topic_terms`
without the words every follow-up uses: help, walk, explain, steps, next, ...):

* no earlier question: nothing to carry (`first`);
* a content word the knowledge base never uses ("Paris" after a camera question): a new, likely
  off-topic subject — it inherits nothing, not even an active product (`new_topic`);
* no content of its own: the recent questions are carried, the latest at full weight and each older
  one at `decay` times the one after it, and the message's own words ("walk me through it") are left
  out of the search: they would match every page that offers to walk a customer through something
  (`follow_up`);
* one or two content terms and a reference ("it", "that", "this", "them"): carried at `partial`
  weight, so its own words still lead (`follow_up`);
* anything else states its own topic (`new_topic`): nothing is carried.

Carried questions go into both the full-text query and the text embedder's vector (see
`retrieval.retriever.Query.context`), and the trace shows what was carried and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chatbot.abstention import FILLER, topic_terms
from core import textnorm
from core.errors import ConfigError

_FOLLOW_UP_TEXT = (
    "help helps helping please walk through explain explained detail details step steps next then now "
    "guide guidance assist assistance show tell continue proceed sure ok okay thanks thank yes more "
    "further instructions instruction process procedure part bit exactly again how what do done doing "
    "start begin work works answer question questions info information"
)
FOLLOW_UP_WORDS: frozenset[str] = frozenset(textnorm.tokens(_FOLLOW_UP_TEXT))
_REFERENCE = re.compile(r"\b(?:it|its|it's|that|this|them|those|these|they|there|same|one)\b", re.IGNORECASE)

UNKNOWN_SHARE = 0.4
CarryKind = Literal["first", "follow_up", "new_topic"]


@dataclass(frozen=True)
class CarryOptions:
    """How many recent questions a follow-up may carry, their weights, and the size of a short one."""

    enabled: bool = True
    max_questions: int = 2
    decay: float = 0.5
    partial: float = 0.6
    short_terms: int = 2

    def __post_init__(self) -> None:
        if self.max_questions < 0 or self.short_terms < 0:
            raise ConfigError("carry max_questions and short_terms must be >= 0")
        for name in ("decay", "partial"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"carry {name} must be in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class Carry:
    """What a message carries: earlier questions with their weights, and the reason, for the trace."""

    kind: CarryKind
    texts: tuple[tuple[str, float], ...] = ()
    reason: str = ""
    unknown_terms: tuple[str, ...] = ()
    own_weight: float = 1.0  # the message's own words in the search: 0 when they name no topic
    terms: tuple[str, ...] = ()  # the message's own content terms

    @property
    def mostly_unknown(self) -> bool:
        """Most of the message's content is words the knowledge base never uses (an off-topic question,
        not a typo or a name inside a support question)."""
        return bool(self.terms) and len(self.unknown_terms) / len(self.terms) > UNKNOWN_SHARE

    @property
    def carried(self) -> bool:
        return bool(self.texts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "carried": [{"text": t, "weight": round(w, 3)} for t, w in self.texts],
            "reason": self.reason,
            "unknown_terms": list(self.unknown_terms),
            "own_weight": self.own_weight,
        }


def content_terms(text: str) -> list[str]:
    """The message's own topic terms: `topic_terms` without filler and the words any follow-up uses."""
    return [t for t in dict.fromkeys(topic_terms(text)) if t not in FILLER and t not in FOLLOW_UP_WORDS]


def decide(
    text: str,
    recent: Sequence[str],
    known: Callable[[str], bool],
    options: CarryOptions | None = None,
) -> Carry:
    """Whether `text` carries the `recent` questions (latest last); `known(term)` says whether the
    knowledge base uses a term at all."""
    opts = options or CarryOptions()
    if not opts.enabled:
        return Carry("first", (), "carry-over is off")
    terms = content_terms(text)
    unknown = tuple(t for t in terms if not t.isdigit() and not known(t))
    if unknown:
        reason = f"uses words the knowledge base never mentions ({', '.join(unknown)})"
        return Carry("new_topic", (), reason, unknown, terms=tuple(terms))
    if not recent or opts.max_questions == 0:
        return Carry("first", (), "no earlier question in this conversation")
    latest_first = list(reversed(recent))[: opts.max_questions]
    if not terms:
        weights = [opts.decay**i for i in range(len(latest_first))]
        reason = "the message names no topic of its own"
    elif len(terms) <= opts.short_terms and _REFERENCE.search(text):
        weights = [opts.partial * opts.decay**i for i in range(len(latest_first))]
        reason = f"a short message ({', '.join(terms)}) that refers back"
    else:
        return Carry("new_topic", (), f"the message states its own topic ({', '.join(terms[:5])})")
    texts = tuple((q, w) for q, w in zip(latest_first, weights, strict=True) if w > 0)
    return Carry("follow_up", texts, reason, own_weight=1.0 if terms else 0.0)
