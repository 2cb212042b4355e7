"""What of a chosen section goes into the answer, by kind: the whole procedure, the defining sentence,
the sentence holding the fact (its whole list or table when it sits in one), a yes or no.

Sentences about another product than the customer's are skipped (`Scoper.sentence_fits`). A yes/no
reads the polarity from the chosen sentence: an explicit "Yes."/"No." it opens with, else whether it
is negated, compared with whether the question is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from chatbot.answers.kinds import AnswerKind
from chatbot.answers.scope import Scoper
from chatbot.answers.sections import Block, DocSection, plain_text, split_sentences
from knowledge_graph.entities import Entity

_NEGATION = re.compile(
    r"\b(?:not|never|no|cannot|can't|don't|doesn't|won't|isn't|aren't|mustn't|shouldn't|without|neither|nor)\b",
    re.IGNORECASE,
)
_OPENS = re.compile(r"^\s*(yes|no)\b[,.!]?\s*", re.IGNORECASE)
_DEFINE = re.compile(r"\b(?:means?|is\s+an?|refers\s+to|indicates?|stands\s+for)\b", re.IGNORECASE)
_CONDITION = re.compile(r"\d|\b(?:within|free|only|unless|if|after|before|up\s+to|at\s+least|per)\b", re.I)
MAX_TABLE_ROWS = 12
MAX_STEPS_BLOCKS = 8


def _terms(text: str) -> set[str]:
    from chatbot.abstention import topic_terms

    return set(topic_terms(text))


def pick_content(
    section: DocSection,
    kind: AnswerKind,
    question: str,
    terms: set[str],
    asked: Sequence[str],
    scoper: Scoper,
    entities: dict[str, Entity],
) -> tuple[tuple[Block, ...], str | None]:
    """(blocks to quote, polarity) for one question answered from `section`."""
    if kind == "steps":
        return section.blocks[:MAX_STEPS_BLOCKS], None
    scope = scoper.subject_scope(section)
    candidates: list[tuple[float, int, int, str]] = []  # score, block index, sentence index, sentence
    for b_index, block in enumerate(section.blocks):
        pieces = split_sentences(block.items[0]) if block.kind == "paragraph" else list(block.items)
        for s_index, sentence in enumerate(pieces):
            flat = plain_text(sentence)
            if len(flat.split()) < 3 or not scoper.sentence_fits(flat, scope, asked, entities):
                continue
            words = _terms(flat)
            overlap = len(terms & words) / len(terms) if terms else 0.0
            score = overlap + (0.5 if kind == "definition" and _DEFINE.search(flat) else 0.0)
            score += 0.6 if kind == "yes_no" and asks_verb(question, flat) else 0.0
            score += 0.1 if kind in ("fact", "yes_no") and _CONDITION.search(flat) else 0.0
            score += 0.4 if kind in ("fact", "general") and quantity_fit(question, flat) else 0.0
            score += 0.05 / (1 + b_index)
            candidates.append((score, b_index, s_index, sentence))
    if not candidates:
        return (), None
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    score, b_index, s_index, sentence = candidates[0]
    block = section.blocks[b_index]
    if block.kind in ("bullets", "steps"):
        chosen = _with_lead(section, b_index)
    elif block.kind == "table":
        chosen = (Block("table", block.items[: MAX_TABLE_ROWS + 2]),)
    else:
        picked = [sentence]
        rest = split_sentences(block.items[0])
        if kind == "yes_no" and s_index > 0 and _OPENS.fullmatch(rest[0]):
            # "No. The X300 uses ...": the article's own yes or no opens the answer
            return (Block("paragraph", (f"{rest[0]} {sentence}",)),), _polarity(question, rest[0])
        before = rest[s_index - 1] if s_index > 0 else ""
        if before and terms & _terms(before) and _fits(before, scoper, scope, asked, entities):
            picked.insert(0, before)
        following = rest[s_index + 1] if s_index + 1 < len(rest) else ""
        if following and terms & _terms(following) and _fits(following, scoper, scope, asked, entities):
            picked.append(following)
        chosen = (Block("paragraph", (" ".join(picked),)),)
    said = " ".join(b.plain() for b in chosen)
    polarity = _polarity(question, said) if kind == "yes_no" else None
    return chosen, polarity


_MODAL_VERB = re.compile(
    r"^\W*(?:can|could|may|do|does|will|would|should|is|are)\s+(?:i|we|you|it|they|(?:the|my|our|a|an)\s+[\w-]+(?:\s+[\w-]+)?)\s+"
    r"(?:still\s+|also\s+|just\s+)?([a-z]{3,})",
    re.IGNORECASE,
)


def asks_verb(question: str, sentence: str) -> bool:
    """Does the sentence state what a yes/no question asks ("Can I return ...?" -> "you can return")?"""
    m = _MODAL_VERB.match(question)
    if not m:
        return False
    verb = m.group(1).lower()
    return bool(
        re.search(rf"\b(?:can|may|could|will|must|cannot|can't|not)\s+(?:\w+\s+)?{verb}", sentence, re.I)
    )


_QUANTITIES = (
    (
        re.compile(r"\bhow\s+long\b|\bwhen\b|\bhow\s+soon\b", re.I),
        re.compile(
            r"\b\d+\s*(?:business\s+|working\s+)?(?:day|hour|minute|week|month|year|second)s?\b", re.I
        ),
    ),
    (
        re.compile(r"\bhow\s+much\b|\bcosts?\b|\bprice\b|\bpays?\b|\bfee\b|\bcharge", re.I),
        re.compile(r"[€$£]\s?\d|\d[.,]\d{2}\b|\bfree\b|\bcosts?\b", re.I),
    ),
    (re.compile(r"\bhow\s+often\b", re.I), re.compile(r"\bevery\b|\bper\b|\bonce\b|\b\d+\s+times\b", re.I)),
    (re.compile(r"\bhow\s+many\b", re.I), re.compile(r"\b\d+\b")),
)


def quantity_fit(question: str, sentence: str) -> bool:
    """Does the sentence hold the kind of quantity the question asks for (a duration for "how long", a
    price for "how much", a frequency for "how often", a count for "how many")?"""
    return any(asks.search(question) and holds.search(sentence) for asks, holds in _QUANTITIES)


def _fits(
    sentence: str, scoper: Scoper, scope: Sequence[str], asked: Sequence[str], entities: dict[str, Entity]
) -> bool:
    return scoper.sentence_fits(plain_text(sentence), scope, asked, entities)


def _with_lead(section: DocSection, index: int) -> tuple[Block, ...]:
    """A list whole, with the short paragraph that introduces it (ending in ':'), if any."""
    block = section.blocks[index]
    if index > 0:
        before = section.blocks[index - 1]
        if before.kind == "paragraph" and before.items[0].rstrip().endswith(":"):
            return before, block
    return (block,)


def _polarity(question: str, sentence: str) -> str:
    opens = _OPENS.match(plain_text(sentence))
    if opens:
        return opens.group(1).lower()
    negated_answer = bool(_NEGATION.search(plain_text(sentence)))
    negated_question = bool(_NEGATION.search(question))
    return "no" if negated_answer != negated_question else "yes"
