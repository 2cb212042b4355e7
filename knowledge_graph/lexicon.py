"""Learning the KB gazetteer: what each document declares, merged into product and named entities.

`lexicon_of(chunks)` reads one document's declarations (front-matter `product` codes and
`entities` names, and how its text writes model codes: "X200 Router" twice, "X200 Blue" once);
`merge_lexicons` merges every document's into the gazetteer's entities deterministically: product
names learnt from the most used "CODE Word" phrase, colour editions as variant products, other
names typed by their words (policy, fix, symptom, else component).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core import textnorm
from core.types import Chunk
from knowledge_graph.entities import (
    COLOURS,
    Entity,
    Gazetteer,
    is_model_code,
    norm_key,
    normalise_error_code,
    normalise_version,
    pattern_mentions,
)

_PHRASE_RE = re.compile(r"(?<![\w-])([A-Z]{1,4}\d{1,4}[A-Z]?)((?:[ ]+[A-Z][A-Za-z]*){1,3})")
_KIND_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("policy", re.compile(r"warrant|return|refund|privacy|polic|ship|deliver|subscri|plus\b|gdpr|store")),
    ("fix", re.compile(r"reset|restart|reboot|update\b|re-?pair|reinstall|replace|power.?cycle")),
    ("symptom", re.compile(r"beep|blink|slow|offline|drop|overheat|no internet|not work|won.?t|fails?\b")),
)


def slug(name: str) -> str:
    return re.sub(r"\s+", "-", name.strip())


def classify_name(name: str) -> str:
    """The entity type of a front-matter name that is not a product, error code or version."""
    low = name.casefold()
    return next((kind for kind, pattern in _KIND_WORDS if pattern.search(low)), "component")


def _string_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[,;]", value) if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return []


@dataclass(frozen=True)
class DocLexicon:
    """What one document declares: front-matter product codes and entity names, and how its text
    writes model codes ('X200 Router' -> count) so product names and colour editions can be learnt."""

    doc_id: str
    products: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    phrases: tuple[tuple[str, int], ...] = ()


def lexicon_of(chunks: Sequence[Chunk]) -> DocLexicon:
    """The declarations of one document's chunks (all chunks of one doc_id)."""
    products: dict[str, None] = {}
    names: dict[str, None] = {}
    phrases: Counter[str] = Counter()
    texts: dict[str, None] = {}
    for chunk in chunks:
        meta = chunk.metadata
        products.update(dict.fromkeys(_string_list(meta.get("product"))))
        names.update(dict.fromkeys(_string_list(meta.get("entities"))))
        texts.update(dict.fromkeys([chunk.title, str(meta.get("title", "")), chunk.text]))
    for text in texts:
        for match in _PHRASE_RE.finditer(text):
            words: list[str] = []
            for word in match.group(2).split():
                if word.casefold() in textnorm.STOP_WORDS:  # "X200 Router For ..." ends at "For"
                    break
                words.append(word)
                phrases[" ".join([match.group(1), *words])] += 1
    doc_id = chunks[0].doc_id if chunks else ""
    return DocLexicon(doc_id, tuple(products), tuple(names), tuple(sorted(phrases.items())))


def _pick_name(code: str, phrases: Counter[str], explicit: Sequence[str]) -> str:
    """The most used 'CODE Word' phrase (a longer one must keep half the uses), else the longest alias."""
    best, count = code, 0
    for words in range(1, 4):
        options = [
            (n, p)
            for p, n in phrases.items()
            if len(p.split()) == words + 1
            and p.startswith(best + " ")
            and p.split()[-1].casefold() not in COLOURS
        ]
        if not options:
            break
        n, phrase = max(options, key=lambda o: (o[0], [-ord(c) for c in o[1]]))
        if n < 2 or (count and n * 2 < count):
            break
        best, count = phrase, n
    if best == code and explicit:
        return max(explicit, key=lambda a: (len(a), a))
    return best


class LexiconTotals:
    """The sums the merge needs (product codes, name and phrase counts) over a changing set of
    documents, kept up to date per document so the gazetteer costs the vocabulary, not the KB."""

    def __init__(self) -> None:
        self.codes: Counter[str] = Counter()
        self.phrases: Counter[str] = Counter()
        self.names: Counter[str] = Counter()

    @classmethod
    def of(cls, lexicons: Iterable[DocLexicon]) -> LexiconTotals:
        totals = cls()
        for lex in lexicons:
            totals.add(lex)
        return totals

    def add(self, lex: DocLexicon) -> None:
        self.codes.update(dict.fromkeys(lex.products, 1))
        self.phrases.update(dict(lex.phrases))
        self.names.update(lex.names)

    def remove(self, lex: DocLexicon) -> None:
        self.codes.subtract(dict.fromkeys(lex.products, 1))
        self.phrases.subtract(dict(lex.phrases))
        self.names.subtract(lex.names)
        for counter in (self.codes, self.phrases, self.names):
            for key in [k for k, v in counter.items() if v <= 0]:
                del counter[key]

    def entities(self) -> tuple[Entity, ...]:
        return _merge(sorted(self.codes), self.phrases, self.names)


def merge_lexicons(lexicons: list[DocLexicon]) -> tuple[Entity, ...]:
    """Deterministic merge of every document's declarations into gazetteer entities."""
    return LexiconTotals.of(lexicons).entities()


@dataclass
class _Names:
    """Front-matter names sorted out by the product codes: each product's explicit aliases and colour
    editions, and the other entities' spellings with their counts."""

    explicit: dict[str, set[str]]
    colours: dict[str, set[str]]
    others: dict[str, Counter[str]]


def _sort_names(codes: list[str], phrases: Counter[str], names: Counter[str]) -> _Names:
    code_keys = {norm_key(c): c for c in codes}
    out = _Names({c: set() for c in codes}, {c: set() for c in codes}, {})
    for name in sorted(names):
        if normalise_error_code(name) or normalise_version(name) or pattern_mentions(name):
            continue
        words = name.split()
        first, last = norm_key(words[0]), norm_key(words[-1])
        rest = [w for w in words[1:] if w.casefold() not in ("edition", "model")]
        if first in code_keys and rest and rest[0].casefold() in COLOURS and len(rest) == 1:
            out.colours[code_keys[first]].add(rest[0].casefold())
        elif first in code_keys and is_model_code(code_keys[first]):
            out.explicit[code_keys[first]].add(name)
        elif last in code_keys and not is_model_code(code_keys[last]):
            out.explicit[code_keys[last]].add(name)
        elif norm_key(name) not in code_keys:
            out.others.setdefault(norm_key(name), Counter())[name] += names[name]
    for phrase, count in phrases.items():
        code, _, follower = phrase.partition(" ")
        if code in out.colours and follower.casefold() in COLOURS and count >= 2:
            out.colours[code].add(follower.casefold())
    return out


def _descriptors(
    codes: list[str], product_names: dict[str, str]
) -> tuple[dict[str, list[str]], Counter[str]]:
    """Each product's short names ("Router" of "X200 Router") and how many products share each."""
    descriptors: Counter[str] = Counter()
    desc_of: dict[str, list[str]] = {}
    for code in codes:
        name = product_names[code]
        label = name
        if is_model_code(code):
            label = " ".join(w for w in name.split() if norm_key(w) != norm_key(code))
        options = [label, label.split()[-1]] if label else []
        if label.casefold().startswith("smart "):
            options.append(label.split(" ", 1)[1])
        desc_of[code] = [o for o in dict.fromkeys(options) if len(o) >= 3]
        descriptors.update(norm_key(o) for o in desc_of[code])
    return desc_of, descriptors


def _editions(code: str, name: str, colours: set[str]) -> list[Entity]:
    """The colour editions of one product, each a variant product."""
    entities: list[Entity] = []
    for colour in sorted(colours):
        title = colour.capitalize()
        variant_aliases = {
            f"{code} {title}",
            f"{title} {code}",
            f"{code} {title} edition",
            f"{name} {title}",
            f"{title} {name}",
            f"{name} {title} edition",
        }
        entities.append(
            Entity(
                f"product:{code}/{colour}",
                "product",
                f"{name} {title} edition",
                tuple(sorted(variant_aliases)),
                (("colour", colour), ("edition", colour), ("variant_of", f"product:{code}")),
            )
        )
    return entities


def _merge(codes: list[str], phrases: Counter[str], names: Counter[str]) -> tuple[Entity, ...]:
    sorted_names = _sort_names(codes, phrases, names)
    explicit, colours = sorted_names.explicit, sorted_names.colours
    product_names = {c: _pick_name(c, phrases, sorted(explicit[c])) for c in codes}
    desc_of, descriptors = _descriptors(codes, product_names)
    entities: list[Entity] = []
    for code in codes:
        name = product_names[code]
        aliases = {code, name, *explicit[code]}
        aliases.update(d for d in desc_of[code] if descriptors[norm_key(d)] == 1)
        attrs = {"code": code}
        if colours[code]:
            attrs["editions"] = ",".join(sorted(colours[code]))
        attributes = tuple(sorted(attrs.items()))
        entities.append(Entity(f"product:{code}", "product", name, tuple(sorted(aliases)), attributes))
        entities += _editions(code, name, colours[code])
    for key in sorted(sorted_names.others):
        counter = sorted_names.others[key]
        name = max(counter, key=lambda n: (counter[n], [-ord(c) for c in n]))
        kind = classify_name(name)
        entities.append(Entity(f"{kind}:{slug(name)}", kind, name, tuple(sorted(counter))))
    return tuple(sorted(entities, key=lambda e: e.id))


def gazetteer_from_lexicons(lexicons: Iterable[DocLexicon]) -> Gazetteer:
    """The gazetteer learnt from every document's declarations."""
    return Gazetteer(merge_lexicons(list(lexicons)))


def gazetteer_from_chunks(chunks: Iterable[Chunk]) -> Gazetteer:
    """The gazetteer of a set of chunks, grouped by document."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    return gazetteer_from_lexicons(lexicon_of(doc_chunks) for doc_chunks in by_doc.values())
