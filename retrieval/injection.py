"""Instructions hidden in knowledge-base text ("ignore previous instructions and ...").

A support KB is data, never instructions to the bot. Text that addresses the assistant — telling it
to ignore its rules, change its role, reveal its prompt, promise refunds, or send customers to
another site — is found here so that ingestion can report it (the file is still ingested: nothing
is lost, and full-text search still finds it) and the answer generator never sees it as evidence.

Matching runs on folded text (`core.sanitise.fold_for_matching`: NFKC, zero-width and bidi
controls removed, look-alike letters mapped to Latin, whitespace collapsed), so "ig\u200bnore" or a
Cyrillic "і" hides nothing; an instruction split over two lines or sentences is caught by checking
neighbouring sentences together; credentials planted in KB text ("the admin password is ...") are
a kind of their own and never reach an answer either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from core import textnorm
from core.sanitise import fold_for_matching
from core.types import Chunk

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
    (
        "secret",
        r"\b(?:admin(?:istrator)?|root|master|staff|internal|superuser)\s+(?:password|passcode|pin|credentials?)"
        # the value must look like one (a digit in it, or quoted): "is printed on the label" is advice
        r"\b[^.!?\n]{0,20}?(?:\bis\s+(?:[\"'\u201c\u2018]\S+|(?=[^\s.!?]*\d)\S+)|[=:]\s*\S+)"
        r"|\b(?:api[ _-]?key|secret[ _-]?key|access[ _-]?token)\b[^.!?\n]{0,12}?(?:\bis\b|=|:)\s*\S{6,}",
    ),
)
_COMPILED = tuple((name, re.compile(pattern, re.IGNORECASE | re.MULTILINE)) for name, pattern in _PATTERNS)

REMOVED = "[instruction-like text removed]"


@dataclass(frozen=True)
class Finding:
    kind: str
    excerpt: str


def _folded(text: str) -> str:
    return " ".join(fold_for_matching(text).split())


def _matches(text: str) -> bool:
    folded = _folded(text)
    return any(pattern.search(folded) for _, pattern in _COMPILED)


def find(text: str) -> list[Finding]:
    """Every instruction-like passage in `text` (matched on its folded form), with a short excerpt."""
    folded = _folded(text)
    found: list[Finding] = []
    for name, pattern in _COMPILED:
        for match in pattern.finditer(folded):
            start = max(0, match.start() - 20)
            excerpt = " ".join(folded[start : match.end() + 40].split())
            found.append(Finding(name, excerpt))
    return found


def strip(text: str) -> str:
    """`text` with every sentence that holds an instruction-like passage replaced by a marker; two
    neighbouring sentences that only together hold one are both replaced."""
    if not _matches(text):
        return text
    sentences = [part for line in text.splitlines() for part in textnorm.split_sentences(line)]
    drop = [_matches(sentence) for sentence in sentences]
    for i in range(len(sentences) - 1):
        if not drop[i] and not drop[i + 1] and _matches(f"{sentences[i]} {sentences[i + 1]}"):
            drop[i] = drop[i + 1] = True
    out: list[str] = []
    for sentence, dropped in zip(sentences, drop, strict=True):
        if dropped:
            if not out or out[-1] != REMOVED:
                out.append(REMOVED)
        else:
            out.append(sentence)
    if not any(drop):  # matched only across more than two sentences: keep nothing of it
        return REMOVED
    return " ".join(out)


def flag_chunks(chunks: list[Chunk], warnings: list[str]) -> tuple[list[Chunk], list[str]]:
    """Marks chunks holding instructions aimed at the bot and warns about them (at ingestion). They are
    still indexed — nothing is lost — but answer generators never see those sentences."""
    out = []
    for chunk in chunks:
        found = find(chunk.text)
        if found:
            kinds = sorted({f.kind for f in found})
            warnings.append(
                f"chunk {chunk.chunk_id} holds text addressed to the assistant ({', '.join(kinds)}): "
                f"{found[0].excerpt!r}; it is kept out of generated answers"
            )
            chunk = replace(chunk, metadata={**chunk.metadata, "injection": kinds})
        out.append(chunk)
    return out, warnings
