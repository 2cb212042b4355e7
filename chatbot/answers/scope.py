"""Which product, edition or version a text, a section or a sentence is about, from the KB's own entities.

`Scoper` wraps an entity linker (the knowledge graph's `link`: aliases of the products, editions and
versions the KB declares, plus code patterns). A section's *scope* is what its heading names ("Fix
for the X300") or, failing that, an "Applies to: ..." line in it; its *exclusions* are what a
sentence of it says it does not apply to ("It does not apply to the X300"). Two entities are
compatible when they are the same or one is an edition of the other (the X200 and the X200 Blue),
never two editions of one product (Blue and White).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from chatbot.answers.sections import DocSection, plain_text, split_sentences
from knowledge_graph.entities import Entity, EntityMention

ATTRIBUTE_TYPES = ("product", "version")
_APPLIES = re.compile(r"^\s*(?:applies\s+to|products?|for|models?)\s*:", re.IGNORECASE)
_NOT_APPLY = re.compile(
    r"\b(?:not|never)\b[^.;]*\b(?:apply|applies|work|works|for|on|with)\b|\bexcept\b", re.IGNORECASE
)
_REFERS = re.compile(r"\b(?:it|its|it's|this one|that one)\b", re.IGNORECASE)


class Linker(Protocol):
    def link(self, text: str) -> list[EntityMention]: ...


@dataclass(frozen=True)
class Mention:
    """An attribute entity found in a text and the words that named it."""

    entity: Entity
    surface: str


class Scoper:
    """Product/version mentions and compatibility (see the module doc); `linker=None` finds nothing."""

    def __init__(self, linker: Linker | None) -> None:
        self.linker = linker

    def mentions(self, text: str) -> list[Mention]:
        if self.linker is None or not text.strip():
            return []
        out: dict[str, Mention] = {}
        for m in self.linker.link(plain_text(text)):
            if m.entity.type in ATTRIBUTE_TYPES and m.entity.id not in out:
                out[m.entity.id] = Mention(m.entity, m.surface.strip())
        return list(out.values())

    def ids(self, text: str) -> tuple[str, ...]:
        return tuple(m.entity.id for m in self.mentions(text))

    @staticmethod
    def family(entity_id: str, entities: dict[str, Entity]) -> str:
        entity = entities.get(entity_id)
        parent = entity.attr("variant_of") if entity is not None else None
        return parent or entity_id

    def compatible(self, a: str, b: str, entities: dict[str, Entity]) -> bool:
        if a == b:
            return True
        return self.family(a, entities) == b or self.family(b, entities) == a

    def any_compatible(self, asked: Iterable[str], scope: Iterable[str], entities: dict[str, Entity]) -> bool:
        scope = list(scope)
        return any(self.compatible(a, s, entities) for a in asked for s in scope)

    def section_scope(self, section: DocSection) -> list[Mention]:
        """What the section's heading names, else its "Applies to:" line (empty: no particular one)."""
        if section.heading and section.heading.casefold() != section.title.casefold():
            named = self.mentions(section.heading)
            if named:
                return named
        for block in section.blocks:
            if block.kind == "paragraph" and _APPLIES.match(block.items[0]) and section.heading:
                return self.mentions(block.items[0].split(":", 1)[1])
        return []

    def exclusions(self, section: DocSection) -> tuple[str, ...]:
        """Entities a sentence of the section says it does not apply to."""
        out: list[str] = []
        for block in section.blocks:
            if block.kind != "paragraph":
                continue
            for sentence in split_sentences(plain_text(block.items[0])):
                if _NOT_APPLY.search(sentence) and re.search(r"\bappl(?:y|ies)\b", sentence, re.I):
                    out.extend(self.ids(sentence))
        return tuple(dict.fromkeys(out))

    def subject_scope(self, section: DocSection) -> tuple[str, ...]:
        """What the section as a whole is about: its scope, else an FAQ row's or document's one product."""
        named = [m.entity.id for m in self.section_scope(section)]
        if named:
            return tuple(named)
        if section.question:
            asked = self.ids(section.question)
            if asked:
                return asked[:1]
        products = section.metadata.get("products") or []
        if isinstance(products, (list, tuple)) and len(products) == 1:
            return self.ids(str(products[0]))
        return ()

    def sentence_fits(
        self, sentence: str, scope: Sequence[str], asked: Sequence[str], entities: dict[str, Entity]
    ) -> bool:
        """False when the sentence is about a different product from the one asked about: it names only
        other products, or it refers back ("it") inside a section about another product."""
        if not asked:
            return True
        named = [m.entity.id for m in self.mentions(sentence) if m.entity.type == "product"]
        asked_products = [a for a in asked if entities.get(a) is None or entities[a].type == "product"]
        if not asked_products:
            return True
        scope_fits = not scope or self.any_compatible(asked_products, scope, entities)
        if _REFERS.search(sentence) and not scope_fits:
            return False
        if named:
            return self.any_compatible(asked_products, named, entities)
        return scope_fits
