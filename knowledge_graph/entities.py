"""Entities of the support domain: types, normalisation, pattern extraction and the KB gazetteer.

* `Entity` / `EntityMention`: what the graph and the conversation context talk about. Ids are
  `<type>:<canonical>` (`error_code:E-42`, `version:3.0.1`, `product:X200`, `product:X200/blue`).
* Pattern extraction (`pattern_mentions`): error codes ("E42", "E-42", "e 42", "error 42", "error
  code 42" -> `error_code:E-42`), versions ("v3.0.1", "firmware 3.0.1", "app 4.2.1" ->
  `version:3.0.1`) and beep symptoms ("three short beeps" -> `symptom:beeps-3-short`).
* `Gazetteer`: products and other named things declared by the KB front-matter (`product`,
  `entities`), with aliases matched case-, space- and hyphen-insensitively ("x-200", "the X200",
  "X200 Router"). Colour editions ("X200 Blue") become variant products carrying `colour`,
  `edition` and `variant_of` attributes, so "blue X200" or "the blue one" can be resolved.
  The product names ("X200 Router") are learnt from how the KB text writes the model codes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.types import Chunk

__all__ = [
    "COLOURS",
    "ENTITY_TYPES",
    "DocLexicon",
    "Entity",
    "EntityMention",
    "Gazetteer",
    "entity_from_id",
    "error_code_entity",
    "lexicon_of",
    "norm_key",
    "normalise_error_code",
    "normalise_version",
    "pattern_mentions",
    "version_entity",
]

ENTITY_TYPES: tuple[str, ...] = ("product", "component", "error_code", "symptom", "fix", "policy", "version")

_SEP = r"[\s\-_]*"
_ERROR_RE = re.compile(
    r"(?<![A-Za-z0-9])(?:(?:error\s*(?:code\s*)?(?:#\s*)?)(?:e[\s\-_]?)?|e[\s\-_]?)(\d{1,3})(?![A-Za-z0-9]|\.\d)",
    re.IGNORECASE,
)
_VERSION_RE = re.compile(
    r"(?<![\w.])(?:(?P<prefix>(?:firmware|fw|app|version|ver\.?)(?:\s+version)?)\s*v?|v)"
    r"(?P<v1>\d+(?:\.\d+){1,2}(?:\.x)?)(?![\w]|\.\d)"
    r"|(?<![\w.])(?P<v2>\d+\.\d+\.(?:\d+|x))(?![\w]|\.\d)",
    re.IGNORECASE,
)
_NUMBERS = {"one": 1, "single": 1, "two": 2, "double": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_BEEP_RE = re.compile(
    r"\b(?P<n>one|single|two|double|three|four|five|six|[1-6])\s+(?P<mods>(?:(?:short|long|high|low|quick),?\s+)*)"
    r"beeps?\b",
    re.IGNORECASE,
)
_DETERMINER_BEFORE = re.compile(r"(?:\b(?:the|my|your|our|this|that|a|an)\s+)$", re.IGNORECASE)
_MODEL_CODE = re.compile(r"[A-Z]{1,4}\d{1,4}[A-Z]?")
_PHRASE_RE = re.compile(r"(?<![\w-])([A-Z]{1,4}\d{1,4}[A-Z]?)((?:[ ]+[A-Z][A-Za-z]*){1,3})")
_STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "if", "in", "is", "it"]
    + ["no", "not", "of", "on", "or", "the", "then", "to", "with"]
)
COLOURS: tuple[str, ...] = ("black", "blue", "gray", "green", "grey", "pink", "red", "silver", "white")
_KIND_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("policy", re.compile(r"warrant|return|refund|privacy|polic|ship|deliver|subscri|plus\b|gdpr|store")),
    ("fix", re.compile(r"reset|restart|reboot|update\b|re-?pair|reinstall|replace|power.?cycle")),
    ("symptom", re.compile(r"beep|blink|slow|offline|drop|overheat|no internet|not work|won.?t|fails?\b")),
)


@dataclass(frozen=True)
class Entity:
    """A typed thing of the support domain. `attributes` holds sorted (key, value) pairs (e.g. colour)."""

    id: str
    type: str
    name: str
    aliases: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.type not in ENTITY_TYPES:
            from retrieval.errors import ConfigError

            kinds = ", ".join(ENTITY_TYPES)
            raise ConfigError(f"entity {self.id!r} has type {self.type!r}; use one of {kinds}")

    def attr(self, key: str, default: str | None = None) -> str | None:
        return dict(self.attributes).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "aliases": list(self.aliases),
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entity:
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            name=str(data["name"]),
            aliases=tuple(str(a) for a in data.get("aliases", ())),
            attributes=tuple(sorted((str(k), str(v)) for k, v in dict(data.get("attributes", {})).items())),
        )


@dataclass(frozen=True)
class EntityMention:
    """Where an entity was found in a text: character span [start, end) and the surface string."""

    entity: Entity
    span: tuple[int, int]
    surface: str


def norm_key(text: str) -> str:
    """Case-, space- and hyphen-insensitive key: 'The X-200 ' -> 'x200'."""
    key = re.sub(r"^\s*the\s+", "", text.casefold())
    return re.sub(r"[^0-9a-z]+", "", key)


def normalise_error_code(text: str) -> str | None:
    """'E42', 'e-42', 'error code 42' -> 'E-42'; None when `text` is not exactly one error code."""
    match = _ERROR_RE.fullmatch(text.strip())
    return f"E-{int(match.group(1)):02d}" if match else None


def normalise_version(text: str) -> str | None:
    """'v3.0.1', 'firmware 3.0.1', 'app 4.2.x' -> '3.0.1' / '4.2.x'; None when not exactly one version."""
    match = _VERSION_RE.fullmatch(text.strip())
    if match is None:
        return None
    return (match.group("v1") or match.group("v2")).lower()


def error_code_entity(code: str) -> Entity:
    number = code.split("-", 1)[1]
    return Entity(
        f"error_code:{code}",
        "error_code",
        code,
        (code, f"E{number}", f"error {number.lstrip('0') or '0'}"),
    )


def version_entity(version: str) -> Entity:
    return Entity(f"version:{version}", "version", version, (version, f"v{version}"))


def _beep_entity(count: int, length: str) -> Entity:
    suffix = f"-{length}" if length else ""
    words = " ".join(part for part in (str(count), length, "beep" if count == 1 else "beeps") if part)
    return Entity(f"symptom:beeps-{count}{suffix}", "symptom", words, (words,))


def entity_from_id(entity_id: str) -> Entity | None:
    """The entity for a pattern-derived id (error codes, versions, beeps); None for KB-declared ids."""
    kind, _, value = entity_id.partition(":")
    if kind == "error_code" and (code := normalise_error_code(value)):
        return error_code_entity(code)
    if kind == "version" and (version := normalise_version(value)):
        return version_entity(version)
    beeps = re.fullmatch(r"beeps-(\d)(?:-(short|long|high|low|quick))?", value)
    if kind == "symptom" and beeps:
        return _beep_entity(int(beeps.group(1)), beeps.group(2) or "")
    return None


def pattern_mentions(text: str) -> list[EntityMention]:
    """Error codes, versions and beep symptoms found by regular expressions, in text order."""
    found: list[EntityMention] = []
    for match in _ERROR_RE.finditer(text):
        code = f"E-{int(match.group(1)):02d}"
        found.append(EntityMention(error_code_entity(code), match.span(), match.group(0)))
    for match in _VERSION_RE.finditer(text):
        group = "v1" if match.group("v1") else "v2"
        span = match.span(group) if match.group("prefix") else match.span()
        found.append(EntityMention(version_entity(match.group(group).lower()), span, text[span[0] : span[1]]))
    for match in _BEEP_RE.finditer(text):
        mods = match.group("mods").lower()
        length = next((m for m in ("short", "long") if m in mods), "")
        count = _NUMBERS.get(match.group("n").lower()) or int(match.group("n"))
        found.append(EntityMention(_beep_entity(count, length), match.span(), match.group(0)))
    return _non_overlapping(found)


def _non_overlapping(mentions: list[EntityMention]) -> list[EntityMention]:
    """Keep earlier-listed mentions first, then longer ones; drop any that overlap a kept one."""
    kept: list[EntityMention] = []
    for mention in mentions:
        start, end = mention.span
        if all(end <= s or start >= e for s, e in (k.span for k in kept)):
            kept.append(mention)
    return sorted(kept, key=lambda m: m.span)


def is_model_code(text: str) -> bool:
    """'X200', 'M10', 'C5' are model codes; error codes ('E42') are not."""
    return bool(_MODEL_CODE.fullmatch(text)) and normalise_error_code(text) is None


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
                if word.casefold() in _STOPWORDS:
                    break
                words.append(word)
                phrases[" ".join([match.group(1), *words])] += 1
    doc_id = chunks[0].doc_id if chunks else ""
    return DocLexicon(doc_id, tuple(products), tuple(names), tuple(sorted(phrases.items())))


def _alias_pattern(alias: str) -> str | None:
    tokens = re.findall(r"[a-z]+|\d+", alias.casefold())
    return _SEP.join(re.escape(t) for t in tokens) if tokens else None


@dataclass(frozen=True)
class Gazetteer:
    """KB-declared entities (sorted by id) and a linker over their aliases plus the regex patterns."""

    entities: tuple[Entity, ...] = ()
    _by_key: dict[str, Entity] = field(default_factory=dict, init=False, repr=False, compare=False)
    _weak: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key: dict[str, Entity] = {}
        weak: set[str] = set()
        patterns: list[tuple[int, str]] = []
        for entity in self.entities:
            for alias in entity.aliases:
                key = norm_key(alias)
                pattern = _alias_pattern(alias)
                if not key or pattern is None or key in by_key:
                    continue
                by_key[key] = entity
                patterns.append((len(key), pattern))
                if entity.type == "product" and alias.isalpha() and alias != alias.upper():
                    weak.add(key)  # a bare noun ("hub", "plug") counts only after a determiner
        patterns.sort(key=lambda p: (-p[0], p[1]))
        regex = (
            re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(p for _, p in patterns) + r")(?![A-Za-z0-9])", re.I)
            if patterns
            else None
        )
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_weak", frozenset(weak))
        object.__setattr__(self, "_regex", regex)

    @classmethod
    def from_chunks(cls, chunks: Iterable[Chunk]) -> Gazetteer:
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        return cls.from_lexicons(lexicon_of(doc_chunks) for doc_chunks in by_doc.values())

    @classmethod
    def from_lexicons(cls, lexicons: Iterable[DocLexicon]) -> Gazetteer:
        return cls(_merge(list(lexicons)))

    def get(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def lookup(self, surface: str) -> Entity | None:
        """The entity one alias names exactly (case/space/hyphen-insensitive), else None."""
        return self._by_key.get(norm_key(surface))

    def link(self, text: str) -> list[EntityMention]:
        """Every entity mentioned in `text`: regex patterns first, then gazetteer aliases (longest wins)."""
        mentions = pattern_mentions(text)
        if self._regex is not None:
            for match in self._regex.finditer(text):
                key = norm_key(match.group(0))
                entity = self._by_key.get(key)
                if entity is None:
                    continue
                if key in self._weak and not _DETERMINER_BEFORE.search(text[: match.start()]):
                    continue
                mentions.append(EntityMention(entity, match.span(), match.group(0)))
        return _non_overlapping(mentions)


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


def _merge(lexicons: list[DocLexicon]) -> tuple[Entity, ...]:
    """Deterministic merge of every document's declarations into gazetteer entities."""
    codes = sorted({c for lex in lexicons for c in lex.products})
    code_keys = {norm_key(c): c for c in codes}
    phrases: Counter[str] = Counter()
    names: Counter[str] = Counter()
    for lex in lexicons:
        phrases.update(dict(lex.phrases))
        names.update(lex.names)
    explicit: dict[str, set[str]] = {c: set() for c in codes}
    colours: dict[str, set[str]] = {c: set() for c in codes}
    others: dict[str, Counter[str]] = {}
    for name in sorted(names):
        if normalise_error_code(name) or normalise_version(name) or pattern_mentions(name):
            continue
        words = name.split()
        first, last = norm_key(words[0]), norm_key(words[-1])
        rest = [w for w in words[1:] if w.casefold() not in ("edition", "model")]
        if first in code_keys and rest and rest[0].casefold() in COLOURS and len(rest) == 1:
            colours[code_keys[first]].add(rest[0].casefold())
        elif first in code_keys and is_model_code(code_keys[first]):
            explicit[code_keys[first]].add(name)
        elif last in code_keys and not is_model_code(code_keys[last]):
            explicit[code_keys[last]].add(name)
        elif norm_key(name) not in code_keys:
            others.setdefault(norm_key(name), Counter())[name] += names[name]
    for phrase, count in phrases.items():
        code, _, follower = phrase.partition(" ")
        if code in colours and follower.casefold() in COLOURS and count >= 2:
            colours[code].add(follower.casefold())
    product_names = {c: _pick_name(c, phrases, sorted(explicit[c])) for c in codes}
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
        for colour in sorted(colours[code]):
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
    for key in sorted(others):
        counter = others[key]
        name = max(counter, key=lambda n: (counter[n], [-ord(c) for c in n]))
        kind = classify_name(name)
        entities.append(Entity(f"{kind}:{slug(name)}", kind, name, tuple(sorted(counter))))
    return tuple(sorted(entities, key=lambda e: e.id))
