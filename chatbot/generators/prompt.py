"""Packing a question, recent history and numbered evidence into the generator's input string.

The input reads "<instruction> question: ... history: ... context: [1] (title) text [2] (title) text"
and never exceeds the tokenizer's input limit (512 tokens for T5). Passages are kept best first
with their numbers; a passage that does not fit whole is cut at a word boundary, and once even a
short cut would not fit, the remaining passages are left out (fewer passages rather than an
overflowing input that the tokenizer would cut mid-passage). `PackedPrompt.text` is the exact
generator input, shown in the trace.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chatbot.generators.protocol import Evidence, GenerationRequest
from core.errors import ConfigError

TokenCounter = Callable[[str], int]

DEFAULT_MAX_TOKENS = 512
MIN_PASSAGE_TOKENS = 24
HISTORY_TURNS = 3
HISTORY_TOKENS = 96
HINT_TOKENS = 48
INSTRUCTION = (
    "Answer the customer's question using only the numbered context and cite passages as [n]. "
    "If the context does not answer it, say: I can't answer that reliably from our support knowledge."
)

_APPROX_TOKEN = re.compile(r"\w+|[^\w\s]")


def approximate_tokens(text: str) -> int:
    """A tokenizer-free estimate (words and punctuation marks, +1 for end-of-sequence)."""
    return len(_APPROX_TOKEN.findall(text)) + 1


def tokenizer_counter(tokenizer: Any) -> TokenCounter:
    """Exact token counts (special tokens included) from a Hugging Face tokenizer."""

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    return count


@dataclass(frozen=True)
class PackedPrompt:
    """The generator input and what it holds: passages used (text possibly cut), cut and dropped numbers."""

    text: str
    evidence: tuple[Evidence, ...]
    truncated: tuple[int, ...]
    dropped: tuple[int, ...]
    tokens: int


def _flat(text: str) -> str:
    return " ".join(text.split())


def _cut_to_fit(prefix: str, words: list[str], suffix: str, count: TokenCounter, limit: int) -> int:
    """The largest n such that prefix + words[:n] + suffix fits `limit` tokens (0 if none does)."""
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(prefix + " ".join(words[:mid]) + suffix) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _passage_head(evidence: Evidence) -> str:
    title = _flat(evidence.title)
    text = _flat(evidence.text)
    if title and not text.lower().startswith(title.lower()):
        return f"[{evidence.number}] ({title}) "
    return f"[{evidence.number}] "


def _history_part(history: tuple[str, ...], count: TokenCounter, budget: int) -> str:
    turns = [_flat(turn) for turn in history[-HISTORY_TURNS:] if turn.strip()]
    while turns:
        part = " history: " + " | ".join(turns)
        if count(part) <= budget:
            return part
        if len(turns) == 1:
            words = turns[0].split()
            keep = _cut_to_fit(" history: ", words[::-1], "", count, budget)
            return " history: " + " ".join(words[len(words) - keep :]) if keep else ""
        turns = turns[1:]
    return ""


def build_prompt(
    request: GenerationRequest,
    count_tokens: TokenCounter | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    *,
    instruction: str = INSTRUCTION,
) -> PackedPrompt:
    """Pack `request` into at most `max_tokens` tokens as counted by `count_tokens`."""
    if max_tokens < 128:
        raise ConfigError(f"max_tokens must be at least 128, got {max_tokens}")
    count = count_tokens or approximate_tokens
    question_words = _flat(request.question).split()
    question_budget = max_tokens // 4
    lead = f"{instruction} question: " if instruction else "question: "
    keep = _cut_to_fit(lead, question_words, "", count, question_budget + count(lead))
    head = lead + " ".join(question_words[: max(keep, 1)])
    if request.hint.strip():  # the composer's answer plan: kind and section (see chatbot.answers.compose)
        hint_words = _flat(request.hint).split()
        fit = _cut_to_fit(" plan: ", hint_words, "", count, HINT_TOKENS)
        head += " plan: " + " ".join(hint_words[:fit]) if fit else ""
    head += _history_part(request.history, count, min(HISTORY_TOKENS, max_tokens // 5))
    text = head + " context:"

    used: list[Evidence] = []
    truncated: list[int] = []
    dropped: list[int] = []
    for index, evidence in enumerate(request.evidence):
        passage_head = _passage_head(evidence)
        body = _flat(evidence.text)
        whole = f"{text} {passage_head}{body}"
        if count(whole) <= max_tokens:
            text = whole
            used.append(evidence)
            continue
        words = body.split()
        fit = _cut_to_fit(f"{text} {passage_head}", words, "", count, max_tokens)
        enough = min(MIN_PASSAGE_TOKENS, math.ceil(len(words) / 2))
        if fit == 0 or count(" ".join(words[:fit])) < enough:
            dropped.extend(e.number for e in request.evidence[index:])
            break
        cut_text = " ".join(words[:fit])
        text = f"{text} {passage_head}{cut_text}"
        truncated.append(evidence.number)
        used.append(
            Evidence(
                evidence.number, evidence.doc_id, cut_text, evidence.title, evidence.modality, evidence.score
            )
        )
    return PackedPrompt(text, tuple(used), tuple(truncated), tuple(dropped), count(text))
