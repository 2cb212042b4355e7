"""Full-text normalisation applied on our side before Milvus's BM25 sees any text.

Milvus Lite 3.2.2 accepts analyzer filters (stop words, stemming) in the schema but does not apply
them (measured: "refunds" does not match "refund", "the" is indexed), so the same normalisation
is done here, for documents and queries alike, and the store indexes the result: lower-casing,
English stop words removed, Snowball English stemming, and support codes written one way
("E42", "E-42", "error 42" -> "e42"; "v3.0.1" -> "3.0.1"); clock times are dropped.

`split_sentences` is the one sentence splitter (chunking, the answer composer, the injection
filter, the knowledge graph's same-sentence rule all cut text with it).
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

# A compact English stop list (articles, pronouns, auxiliaries, question words that carry no topic).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "hi",
        "hello",
        "please",
        "thanks",
        "thank",
        "ok",
        "okay",
    ]
)

_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[ap]\.?m\b\.?)?", re.IGNORECASE)
_CODE = re.compile(r"\b(?:e|err|error|error\s+code|code)\s*[-:#]?\s*0*(\d{1,3})\b", re.IGNORECASE)
_VERSION = re.compile(r"\bv(?=\d+\.\d)", re.IGNORECASE)
_TOKEN = re.compile(r"\d+(?:\.\d+)+|\w+", re.UNICODE)
# A sentence ends after . ! ? … or a CJK stop and any closing quotes or brackets, at whitespace.
_END = r"(?<=[.!?…。！？])[\"')\]]*\s+"
SENTENCE_END = re.compile(_END + r"(?=\S)")
_END_BEFORE_WORD = re.compile(_END + r"(?=[^\s\d])")


@lru_cache(maxsize=1)
def _stemmer() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=1 << 18)
def index_term(word: str) -> str:
    """The index term of one lower-cased word: its Snowball English stem, or the word itself when it
    holds a digit (codes, versions). Memoised: a KB repeats a small vocabulary, and the pure-Python
    stemmer costs ~80 us a word, 14-21x the rest of the normalisation."""
    return word if any(c.isdigit() for c in word) else str(_stemmer().stemWord(word))


def tokens(text: str) -> list[str]:
    """Normalised index terms of `text`, in order (duplicates kept: BM25 counts them)."""
    text = _CLOCK.sub(" ", text)  # clock times (status bars, timestamps) are never what a customer means
    text = _CODE.sub(lambda m: f" e{int(m.group(1))} ", text)
    text = _VERSION.sub("", text)
    words = [w for w in _TOKEN.findall(text.lower()) if w not in STOP_WORDS]
    return [index_term(w) for w in words]


def normalise(text: str) -> str:
    """`tokens` joined by spaces: what the store's BM25 field holds for a text."""
    return " ".join(tokens(text))


def split_sentences(text: str, *, digit_starts: bool = True) -> list[str]:
    """The sentences of `text`, stripped, empty ones left out (see `SENTENCE_END`).

    `digit_starts=False` never starts a sentence with a digit ("Hold it for 10 s. 2 beeps follow"
    stays whole), as the answer composer reads the passages it quotes; chunking splits there too.
    """
    pattern = SENTENCE_END if digit_starts else _END_BEFORE_WORD
    return [s.strip() for s in pattern.split(text) if s.strip()]
