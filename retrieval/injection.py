"""Instructions hidden in knowledge-base text ("ignore previous instructions and ...").

A support KB is data, never instructions to the bot. Text that addresses the assistant — telling it
to ignore its rules, change its role, reveal its prompt, promise refunds, or send customers to
another site — is found here so that ingestion can report it (the file is still ingested: nothing
is lost, and full-text search still finds it) and the answer generator never sees it as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOT = r"(?:assistants?|chatbots?|ai|bots?|language models?)"
_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "override",
        r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|rules|prompts?|guidelines)\b",
    ),
    (
        "role change",
        r"\byou are now (?:an?|the)\s+(?!member|customer|subscriber|owner)\w+"
        r"|\byou are no longer (?:an?|the|bound|restricted|required to follow)\b"
        r"|\bfrom now on,? you (?:are|will|must)\b"
        r"|\b(?:you|assistants?|bots?|chatbots?)\s+(?:should\s+|must\s+|will\s+)?(?:now\s+)?act as\b",
    ),
    (
        "prompt probe",
        r"\b(?:reveal|print|show|repeat)\b[^.!?\n]{0,30}\b(?:system prompt|your (?:prompt|instructions))\b",
    ),
    ("system marker", r"(?:^|\s)(?:system|assistant)\s*:\s|<\|?(?:system|im_start|assistant)\|?>|\[/?INST\]"),
    ("directive to the bot", _BOT + r"\s+(?:must|should|shall|will)\s+(?:always|never|now)\b"),
    (
        "unauthorised promise",
        r"\b(?:tell|promise|assure) (?:the |every |all )?(?:customers?|users?)\b[^.!?\n]{0,60}"
        r"\b(?:refund|free|compensation|discount)\b",
    ),
)
_COMPILED = tuple((name, re.compile(pattern, re.IGNORECASE | re.MULTILINE)) for name, pattern in _PATTERNS)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")

REMOVED = "[instruction-like text removed]"


@dataclass(frozen=True)
class Finding:
    kind: str
    excerpt: str


def find(text: str) -> list[Finding]:
    """Every instruction-like passage in `text`, with a short excerpt for the report."""
    found: list[Finding] = []
    for name, pattern in _COMPILED:
        for match in pattern.finditer(text):
            start = max(0, match.start() - 20)
            excerpt = " ".join(text[start : match.end() + 40].split())
            found.append(Finding(name, excerpt))
    return found


def strip(text: str) -> str:
    """`text` with every sentence that holds an instruction-like passage replaced by a marker."""
    if not any(pattern.search(text) for _, pattern in _COMPILED):
        return text
    out: list[str] = []
    for sentence in _SENTENCE.findall(text):
        if any(pattern.search(sentence) for _, pattern in _COMPILED):
            if not out or out[-1] != REMOVED:
                out.append(REMOVED)
        else:
            out.append(sentence.strip())
    return " ".join(part for part in out if part)
