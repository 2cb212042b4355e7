"""What kind of answer a customer's question wants: steps, a definition, a fact, a yes/no, or general.

`questions(text)` splits a message into its questions ("Can I return it? Who pays shipping?" is
two) and `classify` names each one's kind from its wording alone (English question forms, no KB
words): "how do I / how to / fix / reset / set up" want the ordered steps of a procedure; "what does
X mean / what is X" a definition; "how long / how much / when / who / which" a fact (the sentence
holding the number or condition); a question opening with an auxiliary ("can I", "does the",
"is there") a yes or no first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

AnswerKind = Literal["steps", "definition", "fact", "yes_no", "general"]
KINDS: tuple[AnswerKind, ...] = ("steps", "definition", "fact", "yes_no", "general")

_POLITE = re.compile(
    r"^\s*(?:(?:hi|hello|hey|please|ok|okay|so|and|also|thanks)[,!.]?\s+)*"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|show|explain\s+to|help)\s+(?:me|us)\s*)?"
    r"(?:(?:i\s+(?:would\s+like|want|need)\s+to\s+know|i\s+wonder|tell\s+me|explain)\s*)?",
    re.IGNORECASE,
)
_DEFINITION = re.compile(
    r"\b(?:mean|means|meaning|stand\s+for|stands\s+for)\b|^\s*what(?:'s|\s+is|\s+are)\s+(?:an?\s+|the\s+)?"
    r"(?:error\s+|code\s+)?[\w-]+\s*\??\s*$",
    re.IGNORECASE,
)
_STEPS = re.compile(
    r"\bhow\s+(?:do|can|should|would|could|to|does\s+one)\b(?!\s+(?:i\s+)?know)"
    r"|\b(?:fix|fixing|repair|solve|resolve|troubleshoot|reset|set\s*up|install|pair|re-?pair|connect|"
    r"reconnect|update|upgrade|mount|change|replace|enable|disable|turn\s+on|turn\s+off|get\s+rid\s+of)\b"
    r"|\bwhat\s+(?:should|do|can)\s+i\s+do\b|\bsteps?\b|\bprocedure\b",
    re.IGNORECASE,
)
_FACT = re.compile(
    r"\bhow\s+(?:long|much|many|far|often|soon|old|fast)\b|^\s*(?:when|where|who|whom|whose|which|what)\b"
    r"|\b(?:cost|costs|price|fee|charge|deadline|limit|address|number|phone|email|hours)\b",
    re.IGNORECASE,
)
_YES_NO = re.compile(
    r"^\s*(?:can|could|does|do|did|is|are|was|were|will|would|should|shall|may|might|must|has|have|"
    r"am|isn't|doesn't|don't|can't|won't|aren't)\b",
    re.IGNORECASE,
)
_HOW_QUESTION = re.compile(r"^\s*(?:how|why|what|where|when|who|which)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """One question of a message and the kind of answer it wants."""

    text: str
    kind: AnswerKind


def _core(text: str) -> str:
    return _POLITE.sub("", text, count=1).strip() or text.strip()


def classify(text: str) -> AnswerKind:
    """The kind of answer `text` asks for (see the module doc)."""
    core = _core(text)
    if not core:
        return "general"
    if _DEFINITION.search(core) and not _STEPS.search(core):
        return "definition"
    if _YES_NO.match(core):
        return "yes_no"
    if _FACT.search(core) and re.match(r"^\s*how\s+(?:long|much|many|far|often|soon|old|fast)\b", core, re.I):
        return "fact"
    if _STEPS.search(core):
        return "steps"
    if _FACT.search(core) or _HOW_QUESTION.match(core):
        return "fact"
    return "general"


_SPLIT = re.compile(
    r"(?<=\?)\s+|(?<=[.!])\s+(?=(?:how|what|why|when|where|who|which|can|does|do|is|are)\b)", re.I
)


def questions(text: str, limit: int = 2) -> tuple[Question, ...]:
    """The message's questions (at most `limit`; a statement before a question joins that question)."""
    parts = [p.strip() for p in _SPLIT.split(" ".join(text.split())) if p.strip()]
    asked = [p for p in parts if p.endswith("?") or _HOW_QUESTION.match(_core(p)) or _YES_NO.match(_core(p))]
    if not asked:
        flat = " ".join(text.split())
        return (Question(flat, classify(flat)),) if flat else ()
    lead = " ".join(p for p in parts[: parts.index(asked[0])])
    first = f"{lead} {asked[0]}".strip()
    chosen = [first, *asked[1:limit]]
    return tuple(Question(q, classify(q)) for q in chosen)
