"""Entities of the support domain: types, normalisation, pattern extraction and the KB gazetteer.

* `Entity` / `EntityMention`: what the graph and the conversation context talk about. Ids are
  `<type>:<canonical>` (`error_code:E-42`, `version:3.0.1`, `product:X200`, `product:X200/blue`).
* Pattern extraction (`pattern_mentions`): error codes ("E42", "E-42", "e 42", "error 42", "error
  code 42" -> `error_code:E-42`), versions ("v3.0.1", "firmware 3.0.1", "app 4.2.1" ->
  `version:3.0.1`) and beep symptoms ("three short beeps" -> `symptom:beeps-3-short`, "beeping
  twice" -> `symptom:beeps-2`).
* `Gazetteer`: products and other named things declared by the KB front-matter (`product`,
  `entities`), with aliases matched case-, space- and hyphen-insensitively ("x-200", "the X200",
  "X200 Router"; plurals such as "two M10s" too). Colour editions ("X200 Blue") become variant
  products carrying `colour`, `edition` and `variant_of` attributes, so "blue X200" or "the blue
  one" can be resolved. The product names ("X200 Router") are learnt from how the KB text writes
  the model codes (`knowledge_graph.lexicon`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "COLOURS",
    "ENTITY_TYPES",
    "Entity",
    "EntityMention",
    "Gazetteer",
    "entity_from_id",
    "error_code_entity",
    "general_symptom",
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
_SAID = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
_TIMES = {"once": 1, "twice": 2, "three times": 3, "four times": 4, "five times": 5}
_BEEP_TIMES_RE = re.compile(  # "beeping twice", "it beeps three times"
    r"\bbeep(?:s|ing|ed)?\s+(?P<n>once|twice|(?:three|four|five)\s+times|[1-6]\s+times)\b", re.IGNORECASE
)
_DETERMINER_BEFORE = re.compile(r"(?:\b(?:the|my|your|our|this|that|a|an)\s+)$", re.IGNORECASE)
_MODEL_CODE = re.compile(r"[A-Z]{1,4}\d{1,4}[A-Z]?")
COLOURS: tuple[str, ...] = ("black", "blue", "gray", "green", "grey", "pink", "red", "silver", "white")


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
            from core.errors import ConfigError

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
    noun = "beep" if count == 1 else "beeps"
    said = _SAID.get(count, str(count))
    name = " ".join(part for part in (said, length, noun) if part)  # "three short beeps"
    digits = " ".join(part for part in (str(count), length, noun) if part)  # "3 short beeps"
    return Entity(f"symptom:beeps-{count}{suffix}", "symptom", name, tuple(sorted({name, digits})))


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


def general_symptom(entity: Entity) -> Entity | None:
    """'three short beeps' -> 'three beeps' (the same count, any length); None for anything else."""
    beeps = re.fullmatch(r"symptom:beeps-(\d)-\w+", entity.id)
    return _beep_entity(int(beeps.group(1)), "") if beeps else None


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
    for match in _BEEP_TIMES_RE.finditer(text):
        said = " ".join(match.group("n").lower().split())
        count = _TIMES.get(said) or int(said.split()[0])
        found.append(EntityMention(_beep_entity(count, ""), match.span(), match.group(0)))
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


def _alias_pattern(alias: str) -> str | None:
    tokens = re.findall(r"[a-z]+|\d+", alias.casefold())
    return _SEP.join(re.escape(t) for t in tokens) if tokens else None


def alias_search(aliases: Iterable[str]) -> re.Pattern[str] | None:
    """A regex that finds every place any of `aliases` could be linked (it is looser than the
    gazetteer's linker: no right boundary, no determiner rule), or None when none can be."""
    patterns = sorted({p for alias in aliases if (p := _alias_pattern(alias)) is not None})
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(patterns) + ")", re.I) if patterns else None


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
            re.compile(
                r"(?<![A-Za-z0-9])(" + "|".join(p for _, p in patterns) + r")(?:'?s)?(?![A-Za-z0-9])", re.I
            )
            if patterns
            else None
        )
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_weak", frozenset(weak))
        object.__setattr__(self, "_regex", regex)

    def get(self, entity_id: str) -> Entity | None:
        return next((e for e in self.entities if e.id == entity_id), None)

    def lookup(self, surface: str) -> Entity | None:
        """The entity one alias names exactly (case/space/hyphen-insensitive), else None."""
        return self._by_key.get(norm_key(surface))

    def link(self, text: str) -> list[EntityMention]:
        """Every entity mentioned in `text`: regex patterns first, then gazetteer aliases (longest wins)."""
        mentions = pattern_mentions(text)
        if self._regex is not None:
            for match in self._regex.finditer(text):  # group 1: the alias without a plural "s"
                key = norm_key(match.group(1))
                entity = self._by_key.get(key)
                if entity is None:
                    continue
                if key in self._weak and not _DETERMINER_BEFORE.search(text[: match.start()]):
                    continue
                mentions.append(EntityMention(entity, match.span(), match.group(0)))
        return _non_overlapping(mentions)
