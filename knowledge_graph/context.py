"""Per-conversation context: which entities are "active", and resolving follow-up questions.

`ConversationContext` is a plain per-session object (no globals). `observe()` links the entities of
each turn (its text, its OCR text or transcript, and extra parsed entity ids) and raises their
activation; every turn first multiplies all activations by `decay`, so an entity not mentioned
again fades out. `resolve()` rewrites a follow-up such as "how do I fix this?", "does it also
fix the blue one?" or "which firmware should they all run?" by appending short names of the
entities the references most likely mean ("E-42", "X200 Blue": see `query_name`; long product
names would skew full-text search) and reports each substitution for the trace. Call `resolve()`
for a user turn before or after `observe()`-ing it: entities the query names itself are never
pronoun targets. `graph_hits()` then proposes documents for the active entities, steered by the
last resolved question (its entities count double; titles sharing its words rank higher).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from core.errors import ConfigError
from core.types import MODALITIES, Modality
from knowledge_graph.entities import COLOURS, Entity, entity_from_id
from knowledge_graph.protocol import ContextGraph, GraphHit, graph_candidates

_COLOUR = "|".join(COLOURS)
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("colour", re.compile(rf"\b(?:the\s+|that\s+|this\s+)?({_COLOUR})\s+(?:one|edition|model|variant)\b")),
    (
        "error",
        re.compile(
            r"\b(?:this|that|the|same|my)\s+(?:same\s+)?(?:error(?:\s+code)?|code|message|problem|issue|fault)\b"
        ),
    ),
    ("fix", re.compile(r"\b(?:the\s+same|this|that|the|those|these)\s+(?:fix|solution|steps|procedure)\b")),
    ("version", re.compile(r"\b(?:this|that|the\s+same)\s+(?:version|firmware|update|release)\b")),
    (
        "device",
        re.compile(
            r"\b(?:this|that|my|the\s+same)\s+(device|router|extender|camera|plug|hub|product|unit|thing)\b"
        ),
    ),
    ("one", re.compile(r"\b(?:this|that|the\s+same)\s+one\b")),
    ("pronoun", re.compile(r"\b(?:it|its|it's)\b")),
    ("plural", re.compile(r"\b(?:they|them|their|both(?:\s+of\s+them)?|all\s+of\s+them)\b")),
    (
        "pronoun",
        re.compile(
            r"\b(?:this|that)\b(?=\s*(?:[?.!,;]|$)|\s+(?:is|was|mean|means|happen|happens|happened|work|works"
            r"|fix|fixes|apply|applies|also|again|still|help|helps|solve|solves|break|breaks|damage|harm"
            r"|affect|affects|cause|causes)\b)"
        ),
    ),
)
_GENERIC_DEVICES = frozenset({"device", "product", "unit", "thing"})
_MAX_PLURAL = 3  # "they" stands for at most this many active products
_FIX_INTENT = re.compile(
    r"\b(?:fix|fixes|solve|solves|resolve|repair|troubleshoot|get rid of|stop"
    r"|cause|causes|caused|why|mean|means|reason)\b"  # asking why a problem happens is about the problem too
)
_RULE_TYPES: dict[str, tuple[str, ...]] = {
    "error": ("error_code",),
    "fix": ("fix", "error_code"),
    "version": ("version",),
    "device": ("product",),
    "one": ("product",),
}


@dataclass(frozen=True)
class TurnInput:
    """One turn: its text, how it came (`image`: OCR text, `audio`: transcript in `source_text`)."""

    text: str
    modality: Modality = "text"
    source_text: str = ""
    entity_ids: tuple[str, ...] = ()
    role: Literal["user", "assistant"] = "user"

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ConfigError(f"turn modality {self.modality!r} is not one of {', '.join(MODALITIES)}")
        if self.role not in ("user", "assistant"):
            raise ConfigError(f"turn role {self.role!r} is neither 'user' nor 'assistant'")


@dataclass(frozen=True)
class Turn:
    """A recorded turn: its input and the entity ids found in it."""

    index: int
    text: str
    modality: Modality
    source_text: str
    role: str
    entity_ids: tuple[str, ...]


@dataclass(frozen=True)
class ContextOptions:
    """`decay` per turn, how many turns are kept, the activation counted as active, per-role boosts."""

    decay: float = 0.6
    max_turns: int = 20
    threshold: float = 0.25
    min_weight: float = 0.05
    user_boost: float = 1.0
    assistant_boost: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.decay < 1.0:
            raise ConfigError(f"context decay must be between 0 and 1 (exclusive), got {self.decay}")
        if self.max_turns < 1:
            raise ConfigError(f"max_turns must be >= 1, got {self.max_turns}")
        if not 0.0 <= self.min_weight <= self.threshold:
            raise ConfigError("need 0 <= min_weight <= threshold for the context activations")


@dataclass(frozen=True)
class ResolvedQuery:
    """A query with references resolved: `text` is the query plus the resolved entities' names.

    `substituted` pairs each resolved surface ("this error", "it"; "" for an ellipsis) with the
    entity id it stands for; `explicit` are the entities the query names itself; `active` the
    active entity ids (most active first) when it was resolved.
    """

    original: str
    text: str
    substituted: tuple[tuple[str, str], ...]
    active: tuple[str, ...]
    explicit: tuple[str, ...] = ()

    @property
    def appended(self) -> str:
        """The names `resolve()` appended to the query ("E-42"), "" when none."""
        return (
            self.text[len(self.original.strip()) :].strip()
            if self.text.startswith(self.original.strip())
            else ""
        )

    @property
    def entity_ids(self) -> tuple[str, ...]:
        """Explicit and substituted entity ids, in that order, without repeats."""
        return tuple(dict.fromkeys([*self.explicit, *(e for _, e in self.substituted)]))


class ConversationContext:
    """The state of one conversation; serialisable with `to_dict` / `from_dict`."""

    def __init__(self, graph: ContextGraph, options: ContextOptions | None = None) -> None:
        self.graph = graph
        self.options = options or ContextOptions()
        self.shown_documents: set[str] = set()
        self._weights: dict[str, float] = {}
        self._known: dict[str, Entity] = {}
        self._turns: deque[Turn] = deque(maxlen=self.options.max_turns)
        self._count = 0
        self.last_resolved: ResolvedQuery | None = None
        self.questions: deque[str] = deque(maxlen=4)  # recent questions that stated a topic, latest last

    @property
    def turns(self) -> list[Turn]:
        return list(self._turns)

    def _lookup(self, entity_id: str) -> Entity | None:
        entity = self._known.get(entity_id) or self.graph.entity(entity_id) or entity_from_id(entity_id)
        if entity is not None:
            self._known[entity.id] = entity
        return entity

    def observe(self, turn: TurnInput) -> Turn:
        """Decay every activation, then boost the entities of this turn; returns the recorded turn."""
        opts = self.options
        decayed = {e: w * opts.decay for e, w in self._weights.items()}
        self._weights = {e: w for e, w in decayed.items() if w >= opts.min_weight}
        found: list[str] = []
        for text in (turn.text, turn.source_text):
            for mention in self.graph.link(text) if text else ():
                self._known[mention.entity.id] = mention.entity
                found.append(mention.entity.id)
        found += [e.id for i in turn.entity_ids if (e := self._lookup(i)) is not None]  # canonical ids
        ids = tuple(dict.fromkeys(found))
        boost = opts.user_boost if turn.role == "user" else opts.assistant_boost
        for entity_id in ids:
            self._weights[entity_id] = self._weights.get(entity_id, 0.0) + boost
        self._count += 1
        recorded = Turn(self._count, turn.text, turn.modality, turn.source_text, turn.role, ids)
        self._turns.append(recorded)
        return recorded

    def weights(self, threshold: float | None = None) -> dict[str, float]:
        """Active entity ids with their activation, most active first."""
        limit = self.options.threshold if threshold is None else threshold
        ranked = sorted(self._weights.items(), key=lambda kv: (-kv[1], kv[0]))
        return {e: w for e, w in ranked if w >= limit}

    def active_entities(self, threshold: float | None = None) -> list[tuple[Entity, float]]:
        return [(e, w) for i, w in self.weights(threshold).items() if (e := self._lookup(i)) is not None]

    def mark_shown(self, doc_ids: Iterable[str]) -> None:
        self.shown_documents.update(doc_ids)

    def graph_hits(self, hops: int = 2, limit: int = 20) -> list[GraphHit]:
        """Documents the graph proposes for the active entities, weighted by activation.

        After `resolve()`, the question it resolved steers the ranking: the entities it names or
        refers to count double, and documents whose titles share its words come first.
        """
        last = self.last_resolved
        weights = self.weights()
        if last is None:
            return graph_candidates(self.graph, weights, hops=hops, limit=limit)
        for entity_id in last.entity_ids:  # a named entity is a seed even before observe()
            weights.setdefault(entity_id, self.options.user_boost)
        return graph_candidates(
            self.graph, weights, hops=hops, limit=limit, query=last.original, focus=last.entity_ids
        )

    # -- resolution ------------------------------------------------------------------------
    def _most_active(self, types: tuple[str, ...], exclude: set[str], noun: str = "") -> Entity | None:
        """The most active entity of the first type that has one; `noun` ("router") must fit a product."""
        active = self.active_entities()
        for kind in types:
            for entity, weight in active:
                if entity.type == kind and entity.id not in exclude and _fits(entity, noun):
                    # an edition as active as its base product is the more precise referent
                    editions = [e for e, w in active if e.attr("variant_of") == entity.id and w >= weight]
                    editions = [e for e in editions if e.id not in exclude]
                    return editions[0] if editions else entity
        return None

    def _colour_target(self, colour: str, exclude: set[str]) -> Entity | None:
        variants = [e for e in self.graph.entities("product") if e.attr("colour") == colour]
        weights = self.weights(threshold=0.0)

        def rank(entity: Entity) -> float:
            return max(weights.get(entity.id, 0.0), weights.get(entity.attr("variant_of") or "", 0.0))

        variants = [e for e in variants if e.id not in exclude]
        if not variants:
            return None
        best = max(variants, key=lambda e: (rank(e), [-ord(c) for c in e.id]))
        return best if rank(best) > 0 or len(variants) == 1 else None

    def resolve(self, query: str, *, ellipsis: bool = True) -> ResolvedQuery:
        """Resolve pronouns, "this error", "the blue one", ... and (unless `ellipsis` is False, for a
        message that starts a new topic) ellipsis against the active entities."""
        mentions = self.graph.link(query)
        explicit = list(dict.fromkeys(m.entity.id for m in mentions))
        taken = [m.span for m in mentions]
        lowered = query.casefold()
        subs: list[tuple[str, Entity]] = []
        used = set(explicit)
        named_product = any(m.entity.type == "product" for m in mentions)
        for rule, pattern in _RULES:
            for match in pattern.finditer(lowered):
                start, end = match.span()
                if any(start < e and end > s for s, e in taken):
                    continue
                targets: Sequence[Entity | None]
                if rule == "colour":
                    targets = [self._colour_target(match.group(1), used)]
                elif rule == "pronoun":
                    targets = [self._pronoun_target(lowered, explicit + [e.id for _, e in subs], used)]
                elif rule == "plural":  # every active product, unless one is named ("they have an X200")
                    active = [] if named_product else [e for e, _ in self.active_entities()]
                    targets = [e for e in active if e.type == "product" and e.id not in used][:_MAX_PLURAL]
                elif rule == "device":
                    targets = [self._most_active(_RULE_TYPES[rule], used, match.group(1))]
                else:
                    targets = [self._most_active(_RULE_TYPES[rule], used)]
                taken.append((start, end))
                for target in targets:
                    if target is not None:
                        subs.append((query[start:end], target))
                        used.add(target.id)
        if ellipsis and not explicit and not subs and len(query.split()) <= 12:
            kinds = ("error_code", "symptom", "product") if _FIX_INTENT.search(lowered) else ("product",)
            target = self._most_active(kinds, used)
            if target is not None:
                subs.append(("", target))
        names = [n for _, e in subs if (n := query_name(e)).casefold() not in lowered]
        text = " ".join([query.strip(), *dict.fromkeys(names)]).strip()
        self.last_resolved = ResolvedQuery(
            original=query,
            text=text,
            substituted=tuple((surface, e.id) for surface, e in subs),
            active=tuple(self.weights()),
            explicit=tuple(explicit),
        )
        return self.last_resolved

    def _pronoun_target(self, lowered: str, named: list[str], used: set[str]) -> Entity | None:
        """'it'/'this': with a product named, what applies to it; when fixing, the error; else the device."""
        named_types = {(self._lookup(e) or Entity(e, "component", e)).type for e in named}
        if "product" in named_types:
            kinds: tuple[str, ...] = ("fix", "error_code", "symptom", "version", "component")
        elif _FIX_INTENT.search(lowered):
            kinds = ("error_code", "symptom", "product")
        else:
            kinds = ("product", "error_code", "symptom", "component", "fix", "version")
        return self._most_active(kinds, used)

    # -- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "options": asdict(self.options),
            "weights": dict(sorted(self._weights.items())),
            "entities": [self._known[e].to_dict() for e in sorted(self._known) if e in self._weights],
            "turns": [asdict(t) | {"entity_ids": list(t.entity_ids)} for t in self._turns],
            "shown_documents": sorted(self.shown_documents),
            "questions": list(self.questions),
            "count": self._count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], graph: ContextGraph) -> ConversationContext:
        context = cls(graph, ContextOptions(**data.get("options", {})))
        context._known = {e["id"]: Entity.from_dict(e) for e in data.get("entities", [])}
        context._weights = {str(k): float(v) for k, v in data.get("weights", {}).items()}
        for turn in data.get("turns", []):
            context._turns.append(Turn(**(dict(turn) | {"entity_ids": tuple(turn["entity_ids"])})))
        context.shown_documents = set(data.get("shown_documents", []))
        context.questions.extend(str(q) for q in data.get("questions", []))
        context._count = int(data.get("count", len(context._turns)))
        return context


def _fits(entity: Entity, noun: str) -> bool:
    """Whether a product can be called `noun`: "my router" is not the C5 camera; "device" is anything."""
    if not noun or noun in _GENERIC_DEVICES or entity.type != "product":
        return True
    return any(noun in text.casefold() for text in (entity.name, *entity.aliases))


def query_name(entity: Entity) -> str:
    """The words appended to a resolved query for `entity`: short, so full-text search is not skewed.

    Products by model code (and edition: "X200 Blue"), not "X200 Router Blue edition", which would
    match every router article; a fix by its own heading; anything else by its name.
    """
    if entity.type == "product":
        code = entity.attr("code") or (entity.attr("variant_of") or "").partition(":")[2]
        colour = entity.attr("colour")
        if code:
            return f"{code} {colour.capitalize()}" if colour else code
    if entity.type == "fix":
        heading = entity.name.rsplit(" > ", 1)[-1]
        return heading if len(heading.split()) > 1 else entity.name
    return entity.name
