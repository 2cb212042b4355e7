"""`WordIndex`: which documents could mention a gazetteer alias, found without reading every document.

When the learnt gazetteer changes, only the documents whose text could link one of the changed
aliases need re-linking. Each document is indexed by the first three characters of every run of
letters and digits in its texts (chunk text, title, metadata). The linker only matches an alias at
the start of such a run, and a run starting with the alias's first token shares its first
characters, so the index never misses a document. The candidates it gives are then confirmed with
a regex looser than the linker's (`entities.alias_search`) on the document's own texts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence

from core.types import Chunk
from knowledge_graph.entities import alias_search

_RUN = re.compile(r"[a-z0-9]+")
_TOKEN = re.compile(r"[a-z]+|\d+")
_KEY = 3


def chunk_texts(chunks: Sequence[Chunk]) -> list[str]:
    """Every text of a document the graph links entities in."""
    out: list[str] = []
    for chunk in chunks:
        out += [chunk.text, chunk.title, json.dumps(dict(chunk.metadata), ensure_ascii=False, default=str)]
    return out


class WordIndex:
    """Document -> run prefixes and back; updated per document."""

    def __init__(self) -> None:
        self._keys_of: dict[str, set[str]] = {}
        self._docs_of: dict[str, set[str]] = {}

    def add(self, doc_id: str, chunks: Sequence[Chunk]) -> None:
        self.remove(doc_id)
        keys = {run[:_KEY] for text in chunk_texts(chunks) for run in _RUN.findall(text.casefold())}
        self._keys_of[doc_id] = keys
        for key in keys:
            self._docs_of.setdefault(key, set()).add(doc_id)

    def remove(self, doc_id: str) -> None:
        for key in self._keys_of.pop(doc_id, ()):
            docs = self._docs_of[key]
            docs.discard(doc_id)
            if not docs:
                del self._docs_of[key]

    def candidates(self, alias: str) -> set[str]:
        """Documents that hold a run starting like `alias` (a superset of those that mention it)."""
        tokens = _TOKEN.findall(alias.casefold())
        if not tokens:
            return set()
        first = tokens[0]
        if len(first) >= _KEY:
            return set(self._docs_of.get(first[:_KEY], ()))
        found: set[str] = set()
        for key, docs in self._docs_of.items():
            if key.startswith(first):
                found |= docs
        return found

    def docs_matching(self, aliases: Iterable[str], texts_of: Callable[[str], list[str]]) -> set[str]:
        """Documents whose texts could link one of `aliases` (`texts_of(doc_id)` gives a doc's texts)."""
        aliases = set(aliases)
        regex = alias_search(aliases)
        if regex is None:
            return set()
        candidates = set().union(*(self.candidates(a) for a in aliases))
        return {d for d in candidates if any(regex.search(t) for t in texts_of(d))}
