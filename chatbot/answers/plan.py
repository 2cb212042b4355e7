"""The answer plan: for each question of a message, which section answers it, which part of it, and why.

`Planner.plan` scores every section of the top documents (whole documents, not only the retrieved
chunks) for each question: shared topic terms (heading terms count extra), the document's
retrieval rank, how well the section fits the kind of answer (a numbered procedure for "how do I",
an intro that says what something means for "what does X mean"), and whether it is about the
customer's product. A section about another product is never chosen. When the best document
offers the same kind of answer in several sections, each for a different product or version, and
the conversation has not said which one the customer has, the plan is a `Branch`: one short
question back naming the options. The plan is a typed record that the trace stores.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chatbot.abstention import topic_terms
from chatbot.answers.kinds import AnswerKind, Question, questions
from chatbot.answers.scope import Scoper
from chatbot.answers.sections import Block, DocSection, Passage, plain_text, sections_from_passages
from chatbot.answers.select import asks_verb, pick_content, quantity_fit
from core import textnorm
from knowledge_graph.entities import Entity
from retrieval import injection

_HOW_WORDS = frozenset(
    textnorm.tokens("fix fixing steps how to set up setup reset install pair update troubleshoot")
)
_DEFINE = re.compile(r"\b(?:means?|is\s+an?|refers\s+to|indicates?|stands\s+for)\b", re.IGNORECASE)
MAX_DOCS = 6


@dataclass(frozen=True)
class BranchOption:
    """One answer of a question back: its label (the KB's own words), entities and the section it picks."""

    label: str
    entity_ids: tuple[str, ...]
    section: str  # DocSection.key

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "entity_ids": list(self.entity_ids), "section": self.section}


@dataclass(frozen=True)
class Branch:
    """A question back: the article's answer depends on an attribute the conversation lacks."""

    question: str  # the customer's question it holds back
    kind: AnswerKind
    doc_id: str
    attribute: str  # "product" or "version"
    options: tuple[BranchOption, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "kind": self.kind,
            "doc_id": self.doc_id,
            "attribute": self.attribute,
            "options": [o.to_dict() for o in self.options],
        }


@dataclass(frozen=True)
class PlanItem:
    """One question's answer: its kind, the section, the blocks quoted from it, a yes/no, and why."""

    question: str
    kind: AnswerKind
    section: DocSection
    blocks: tuple[Block, ...]
    why: str
    polarity: str | None = None  # "yes" / "no" for a yes/no question

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "kind": self.kind,
            "doc_id": self.section.doc_id,
            "section": self.section.label,
            "chunks": list(self.section.chunk_ids),
            "why": self.why,
            "polarity": self.polarity,
        }


@dataclass(frozen=True)
class AnswerPlan:
    """What to answer (items, in order) or what to ask (branch); `notes` say what was left out and why."""

    items: tuple[PlanItem, ...] = ()
    branch: Branch | None = None
    asked: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def kind(self) -> str:
        if self.branch is not None:
            return "ask_back"
        return self.items[0].kind if self.items else "none"

    @property
    def sections(self) -> tuple[DocSection, ...]:
        """The sections used, each once, in order of first use (their evidence numbers are 1..n)."""
        seen: dict[str, DocSection] = {}
        for item in self.items:
            seen.setdefault(item.section.key, item.section)
        return tuple(seen.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "items": [i.to_dict() for i in self.items],
            "branch": self.branch.to_dict() if self.branch else None,
            "asked": list(self.asked),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class PlanRequest:
    """The customer's words this turn, the resolved question (pronouns replaced), the attribute entity ids
    the conversation has given (this turn's first), ranked passages plus the rest of their documents,
    and a section key the customer's answer to a question back chose."""

    text: str
    resolved: str
    asked: tuple[str, ...]
    passages: tuple[Passage, ...]
    chosen: str | None = None


def _terms(text: str) -> set[str]:
    return set(topic_terms(text))


class Planner:
    """Builds `AnswerPlan`s; `scoper` links products and versions (see `chatbot.answers.scope`)."""

    def __init__(self, scoper: Scoper, entities: dict[str, Entity] | None = None) -> None:
        self.scoper = scoper
        self.entities = entities if entities is not None else {}

    def _entity_map(self, asked: Sequence[str], sections: Sequence[DocSection]) -> dict[str, Entity]:
        known = dict(self.entities)
        for section in sections:
            for m in self.scoper.mentions(section.heading):
                known.setdefault(m.entity.id, m.entity)
        linker = self.scoper.linker
        getter = getattr(linker, "entity", None)
        if getter is not None:
            for a in asked:
                if a not in known and (e := getter(a)) is not None:
                    known[a] = e
        return known

    def plan(self, request: PlanRequest) -> AnswerPlan:
        sections = sections_from_passages(request.passages)
        if not sections:
            return AnswerPlan(asked=request.asked, notes=("no section to answer from",))
        entities = self._entity_map(request.asked, sections)
        doc_rank = _doc_ranks(sections)
        asked_qs = questions(request.text) or (Question(request.resolved, "general"),)
        extra = _terms(request.resolved) - _terms(request.text)
        items: list[PlanItem] = []
        notes: list[str] = []
        for index, q in enumerate(asked_qs):
            terms = (
                _terms(q.text) | extra if index == 0 else _terms(q.text) | (extra & _terms(request.resolved))
            )
            used_docs = {i.section.doc_id for i in items}
            scored = self._score(sections, q, terms, request.asked, entities, doc_rank, used_docs)
            if not scored:
                notes.append(f"no section fits {q.text!r}")
                continue
            best_score, best, why = scored[0]
            kind = q.kind
            if kind == "general" and any(b.kind == "steps" for b in best.blocks):
                kind = "steps"
            if kind == "steps" and request.chosen is None and index == 0:
                fork = self._branch(q, kind, scored, sections, request.asked, entities)
                if isinstance(fork, Branch):
                    return AnswerPlan(branch=fork, asked=request.asked, notes=tuple(notes))
                if fork is not None:
                    best_score, best, why = fork
            if request.chosen is not None and index == 0:
                chosen = next((s for s in sections if s.key == request.chosen), None)
                if chosen is not None:
                    best, why = chosen, "the customer's answer to the question back chose this section"
            blocks, polarity = pick_content(best, kind, q.text, terms, request.asked, self.scoper, entities)
            if not blocks:
                notes.append(f"nothing in {best.label!r} fits {q.text!r}")
                continue
            if any(i.section.key == best.key and i.blocks == blocks for i in items):
                notes.append(f"{q.text!r} is answered by the same part of {best.label!r}")
                continue
            items.append(PlanItem(q.text, kind, best, blocks, f"{why} (score {best_score:.2f})", polarity))
        return AnswerPlan(tuple(items), None, request.asked, tuple(notes))

    def _score(
        self,
        sections: Sequence[DocSection],
        q: Question,
        terms: set[str],
        asked: Sequence[str],
        entities: dict[str, Entity],
        doc_rank: dict[str, int],
        used_docs: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> list[tuple[float, DocSection, str]]:
        out: list[tuple[float, DocSection, str]] = []
        for section in sections:
            if doc_rank.get(section.doc_id, MAX_DOCS) >= MAX_DOCS:
                continue
            scope = self.scoper.subject_scope(section)
            excluded = self.scoper.exclusions(section)
            asked_products = [a for a in asked if (e := entities.get(a)) is None or e.type == "product"]
            named = [m.entity.id for m in self.scoper.section_scope(section)]
            fits = (
                not scope or not asked_products or self.scoper.any_compatible(asked_products, scope, entities)
            )
            if not fits and not named:
                continue  # an FAQ row or a document about another product
            if asked_products and self.scoper.any_compatible(asked_products[:1], excluded, entities):
                continue
            body = _terms(f"{section.title} {section.question} {section.plain()}")
            heading = _terms(section.heading or section.title)
            overlap = len(terms & (body | heading)) / len(terms) if terms else 0.0
            if terms and not overlap:
                continue  # shares no topic term with the question
            title = _terms(section.title)
            score = overlap + 0.5 * (len(terms & heading) / len(terms) if terms else 0.0)
            score += 0.3 * (len(terms & title) / len(terms)) if terms and section.heading else 0.0
            score += 0.4 / (1 + doc_rank[section.doc_id]) + (0.15 if section.rank is not None else 0.0)
            score += _kind_fit(section, q, heading)
            score += 0.5 if section.doc_id in used_docs else 0.0  # one message, one topic
            score -= 0.5 if section.modality != "text" else 0.0  # a caption shows; an article explains
            reasons = [f"{overlap:.0%} of the question's terms"]
            if not fits:
                score -= 0.3
            elif scope and asked_products:
                score += 0.3 if named else 0.1
                reasons.append("about the customer's " + ", ".join(_names(asked_products, entities)))
            out.append((score, section, "; ".join(reasons)))
        out.sort(key=lambda t: (-t[0], doc_rank[t[1].doc_id], t[1].chunk_ids))
        return out

    def _branch(
        self,
        q: Question,
        kind: AnswerKind,
        scored: Sequence[tuple[float, DocSection, str]],
        sections: Sequence[DocSection],
        asked: Sequence[str],
        entities: dict[str, Entity],
    ) -> Branch | tuple[float, DocSection, str] | None:
        """When the best article has sections for different products or versions (named in their
        headings), the one for the customer's product (a scored entry), else a question back."""
        best = next((s for _, s, _ in scored if s.modality == "text"), scored[0][1])
        options: list[BranchOption] = []
        by_key: dict[str, DocSection] = {}
        for section in sections:
            named = self.scoper.section_scope(section) if section.doc_id == best.doc_id else []
            ids = tuple(m.entity.id for m in named)
            if not ids or any(o.entity_ids == ids for o in options):
                continue
            label = " or ".join(dict.fromkeys(m.surface for m in named))
            options.append(BranchOption(label, ids, section.key))
            by_key[section.key] = section
        procedural = any(b.kind in ("steps", "bullets") for s in by_key.values() for b in s.blocks)
        if len(options) < 2 or not procedural:
            return None
        fitting = [
            o
            for o in options
            if self.scoper.any_compatible(asked, o.entity_ids, entities)
            and not (
                asked
                and self.scoper.any_compatible(asked[:1], self.scoper.exclusions(by_key[o.section]), entities)
            )
        ]
        if fitting:
            keys = {o.section for o in fitting}
            entry = next((e for e in scored if e[1].key in keys), None)
            if entry is None:
                return None
            score, section, why = entry
            return score, section, f"{why}; the article's section for the customer's product"
        types = {entities[i].type for o in options for i in o.entity_ids if i in entities}
        attribute = "version" if types == {"version"} else "product"
        return Branch(q.text, kind, best.doc_id, attribute, tuple(options))


def _names(ids: Sequence[str], entities: dict[str, Entity]) -> list[str]:
    return [entities[i].name if i in entities else i for i in ids]


def _kind_fit(section: DocSection, q: Question, heading: set[str]) -> float:
    kind = q.kind
    kinds = {b.kind for b in section.blocks}
    if kind in ("steps", "general"):
        bonus = 0.5 if "steps" in kinds else (0.0 if "bullets" in kinds or kind == "general" else -0.3)
        return bonus + (0.2 if heading & _HOW_WORDS else 0.0)
    if kind == "definition":
        text = plain_text(section.plain())
        return (0.3 if section.chunk_ids[:1] == (0,) else 0.0) + (0.3 if _DEFINE.search(text) else 0.0)
    bonus = 0.6 if kind == "yes_no" and asks_verb(q.text, section.plain()) else 0.0
    bonus += 0.3 if kind in ("fact", "general") and quantity_fit(q.text, section.plain()) else 0.0
    return bonus + (0.1 if re.search(r"\d", section.plain()) else 0.0)


def _doc_ranks(sections: Sequence[DocSection]) -> dict[str, int]:
    """Documents ranked by their best retrieved chunk (documents only fetched rank last)."""
    best: dict[str, int] = {}
    for s in sections:
        if s.rank is not None:
            best[s.doc_id] = min(best.get(s.doc_id, s.rank), s.rank)
    ordered = sorted({s.doc_id for s in sections}, key=lambda d: best.get(d, 10_000))
    return {doc: i for i, doc in enumerate(ordered)}


def passages_from_hits(hits: Sequence[Any], siblings: Sequence[Any] = ()) -> tuple[Passage, ...]:
    """`Hit`s (ranked) and the other chunks of their documents (unranked) as planner passages."""
    # KB text is data: instruction-like sentences never reach an answer (see `retrieval.injection`).
    out = [
        Passage(
            h.doc_id,
            h.chunk_id,
            injection.strip(h.text),
            str(h.metadata.get("title") or ""),
            h.modality,
            h.metadata,
            h.score,
            i,
        )
        for i, h in enumerate(hits)
    ]
    seen = {(p.doc_id, p.chunk_id) for p in out}
    for h in siblings:
        if (h.doc_id, h.chunk_id) not in seen:
            title = str(h.metadata.get("title") or "")
            out.append(
                Passage(
                    h.doc_id, h.chunk_id, injection.strip(h.text), title, h.modality, h.metadata, 0.0, None
                )
            )
    return tuple(out)
