"""Conversation-aware retrieval: which earlier questions a message carries into its search, and why.

Most customer topics (orders, refunds, accounts) name no product or error code, so the knowledge
graph's entity activation cannot tell what "please help me with that" or "can you walk me through
it?" is about. `decide()` looks at the message's own content terms (`chatbot.abstention.topic_terms`
without the words every follow-up uses: help, walk, explain, steps, next, ...):

* mostly words the knowledge base never uses ("weather in Paris" after a camera question): a new,
  likely off-topic subject — it inherits nothing, not even an active product (`new_topic`, `off_topic`);
  one such word among others ("my parents' place", "recently") is a name or a typo, not a new subject,
  and neither is a message that refers back to what was said ("will that break the router?");
* no earlier question: nothing to carry (`first`);
* no content of its own: the recent questions are carried, the latest at full weight and each older
  one at `decay` times the one after it, and the message's own words ("walk me through it") are left
  out of the search: they would match every page that offers to walk a customer through something
  (`follow_up`);
* one or two content terms and a reference ("it", "that", "this", "them", "instead"): carried at
  `partial` weight, so its own words still lead (`follow_up`);
* anything else states its own topic (`new_topic`): nothing is carried.

An older question is carried only while it is on the latest one's topic (`same_topic`: they name a
common product or error code, or, naming none, share a content term); a question that names other
products or codes than the one before it switched the topic, and what came before is left behind.
Carried questions go into both the full-text query and the text embedder's vector (see
`retrieval.retriever.Query.context`); when the conversation resolved the follow-up's references
("it" -> E-57), the knowledge graph, which knows what they stand for, counts `graph_boost` times as
much (`Carry.boosted`). The trace shows what was carried and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from chatbot.abstention import FILLER, topic_terms
from core import textnorm
from core.errors import ConfigError

_FOLLOW_UP_TEXT = (
    "help helps helping please walk through explain explained detail details step steps next then now "
    "guide guidance assist assistance show tell continue proceed sure ok okay thanks thank yes more "
    "further instructions instruction process procedure part bit exactly again how what do done doing "
    "start begin work works answer question questions info information "
    # the words of acknowledgements, hesitation and asking to go on, which name no topic either
    "ahead go on sure fine alright right great cool perfect good got yes yeah yep no nope hmm well so "
    "stuck lost confused confusing understand understood unclear sense idea clue rid instead "
    "first last else other options option hello hi hey wait moment mean go about handle manage figure out"
)
FOLLOW_UP_WORDS: frozenset[str] = frozenset(textnorm.tokens(_FOLLOW_UP_TEXT))
_REFERENCE = re.compile(
    r"\b(?:it|its|it's|that|this|them|those|these|they|there|same|one|instead|also|too|either)\b",
    re.IGNORECASE,
)

UNKNOWN_SHARE = 0.4
CarryKind = Literal["first", "follow_up", "new_topic"]


@dataclass(frozen=True)
class CarryOptions:
    """How many recent questions a follow-up may carry, their weights, the size of a short one, and how
    much more the knowledge graph counts for a follow-up whose references the conversation resolved
    (`graph_boost`: 4 took `bench/conversations.py` from hit@1 0.84 to 0.92, no case worse; the
    Bitext follow-ups name no entities, so it cannot be chosen on outside data)."""

    enabled: bool = True
    max_questions: int = 2
    decay: float = 0.5
    partial: float = 0.6
    short_terms: int = 2
    graph_boost: float = 4.0

    def __post_init__(self) -> None:
        if self.max_questions < 0 or self.short_terms < 0:
            raise ConfigError("carry max_questions and short_terms must be >= 0")
        if not 1.0 <= self.graph_boost <= 10.0:
            raise ConfigError(f"carry graph_boost must be in [1, 10], got {self.graph_boost}")
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
    graph_boost: float = 1.0  # times the graph's share: what "it" refers to is the graph's to say

    def boosted(self, boost: float, surfaces: Sequence[str]) -> Carry:
        """This follow-up with the graph counting `boost` times as much, because the conversation
        resolved its references (`surfaces`: "it", "the same fix") to what was said before."""
        said = ", ".join(f"{s!r}" for s in dict.fromkeys(surfaces))
        reason = f"{self.reason}; the knowledge graph counts {boost:g}x for what {said} refers to"
        return replace(self, graph_boost=boost, reason=reason)

    @property
    def mostly_unknown(self) -> bool:
        """Most of the message's content is words the knowledge base never uses (an off-topic question,
        not a typo or a name inside a support question)."""
        return bool(self.terms) and len(self.unknown_terms) / len(self.terms) > UNKNOWN_SHARE

    @property
    def off_topic(self) -> bool:
        """A new subject the conversation's products and documents must not leak into."""
        return self.kind == "new_topic" and self.mostly_unknown

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
            "graph_boost": self.graph_boost,
        }


def content_terms(text: str) -> list[str]:
    """The message's own topic terms: `topic_terms` without filler and the words any follow-up uses."""
    return [t for t in dict.fromkeys(topic_terms(text)) if t not in FILLER and t not in FOLLOW_UP_WORDS]


def decide(
    text: str,
    recent: Sequence[str],
    known: Callable[[str], bool],
    options: CarryOptions | None = None,
    same_topic: Callable[[str, str], bool] | None = None,
    refers_to: str = "",
) -> Carry:
    """Whether `text` carries the `recent` questions (latest last); `known(term)` says whether the
    knowledge base uses a term at all; `same_topic(older, newer)` whether two questions are on one
    topic (default: `shares_terms`); `refers_to`: a phrase of the message that the conversation's
    context resolved to something said before ("the same fix" -> E-42), which makes even a longer
    message a follow-up."""
    opts = options or CarryOptions()
    if not opts.enabled:
        return Carry("first", (), "carry-over is off")
    terms = tuple(content_terms(text))
    unknown = tuple(t for t in terms if not t.isdigit() and not known(t))
    off = Carry("new_topic", (), "", unknown, terms=terms)
    if off.mostly_unknown and not refers_to:
        return replace(off, reason=f"uses words the knowledge base never mentions ({', '.join(unknown)})")
    if not recent or opts.max_questions == 0:
        return replace(off, kind="first", reason="no earlier question in this conversation")
    if not terms:
        scale, reason = 1.0, "the message names no topic of its own"
    elif len(terms) <= opts.short_terms and _REFERENCE.search(text):
        scale, reason = opts.partial, f"a short message ({', '.join(terms)}) that refers back"
    elif refers_to:
        scale, reason = opts.partial, f"it refers back to what was said before ({refers_to!r})"
    else:
        return replace(off, reason=f"the message states its own topic ({', '.join(terms[:5])})")
    texts = tuple(
        (q, w * scale) for q, w in on_topic(recent, opts, same_topic or shares_terms) if w * scale > 0
    )
    return replace(off, kind="follow_up", texts=texts, reason=reason, own_weight=1.0 if terms else 0.0)


def on_topic(
    recent: Sequence[str], opts: CarryOptions, same_topic: Callable[[str, str], bool]
) -> list[tuple[str, float]]:
    """The latest questions with their recency weights, latest first, back to the last topic switch."""
    latest_first = list(reversed(recent))[: opts.max_questions]
    out = [(latest_first[0], 1.0)] if latest_first else []
    for i, older in enumerate(latest_first[1:], start=1):
        if not same_topic(older, latest_first[i - 1]):
            break
        out.append((older, opts.decay**i))
    return out


def shares_terms(older: str, newer: str) -> bool:
    """Whether two questions share a content term (the default `same_topic`)."""
    return bool(set(content_terms(older)) & set(content_terms(newer)))
