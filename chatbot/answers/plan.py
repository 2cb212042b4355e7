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
from chatbot.answers.select import asks_verb, pick_content
from core import textnorm
from knowledge_graph.entities import Entity
from retrieval import injection

_HOW_WORDS = frozenset(
    textnorm.tokens("fix fixing steps how to set up setup reset install pair update troubleshoot")
)
_DEFINE = re.compile(r"\b(?:means?|is\s+an?|refers\s+to|indicates?|stands\s+for)\b", re.IGNORECASE)
MAX_DOCS = 3


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
            if kind == "steps" and request.chosen is None:
                branch = self._branch(q, kind, best, sections, request.asked, entities)
                if branch is not None:
                    return AnswerPlan(branch=branch, asked=request.asked, notes=tuple(notes))
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
            if asked_products and scope and not self.scoper.any_compatible(asked_products, scope, entities):
                continue
            if asked_products and self.scoper.any_compatible(asked_products[:1], excluded, entities):
                continue
            body = _terms(f"{section.title} {section.question} {section.plain()}")
            heading = _terms(section.heading or section.title)
            overlap = len(terms & (body | heading)) / len(terms) if terms else 0.0
            if terms and not overlap:
                continue  # shares no topic term with the question
            score = overlap + 0.5 * (len(terms & heading) / len(terms) if terms else 0.0)
            score += 0.4 / (1 + doc_rank[section.doc_id]) + (0.15 if section.rank is not None else 0.0)
            score += _kind_fit(section, q, heading)
            score += 0.3 if section.doc_id in used_docs else 0.0
            reasons = [f"{overlap:.0%} of the question's terms"]
            if scope and asked_products and self.scoper.any_compatible(asked_products, scope, entities):
                score += 0.3 if self.scoper.section_scope(section) else 0.1
                reasons.append("about the customer's " + ", ".join(_names(asked_products, entities)))
            out.append((score, section, "; ".join(reasons)))
        out.sort(key=lambda t: (-t[0], doc_rank[t[1].doc_id], t[1].chunk_ids))
        return out

    def _branch(
        self,
        q: Question,
        kind: AnswerKind,
        best: DocSection,
        sections: Sequence[DocSection],
        asked: Sequence[str],
        entities: dict[str, Entity],
    ) -> Branch | None:
        """A question back when the best document has several procedures, each for other products/versions,
        and nothing the customer said picks one of them."""
        options: list[BranchOption] = []
        scopes: list[tuple[str, ...]] = []
        for section in sections:
            if section.doc_id != best.doc_id or not any(b.kind == "steps" for b in section.blocks):
                continue
            named = self.scoper.section_scope(section)
            if not named:
                continue
            ids = tuple(m.entity.id for m in named)
            if ids in scopes:
                continue
            scopes.append(ids)
            label = " or ".join(dict.fromkeys(m.surface for m in named))
            options.append(BranchOption(label, ids, section.key))
        if len(options) < 2:
            return None
        fitting = [o for o in options if self.scoper.any_compatible(asked, o.entity_ids, entities)]
        if fitting:
            return None
        types = {entities[i].type for o in options for i in o.entity_ids if i in entities}
        attribute = "version" if types == {"version"} else "product"
        return Branch(q.text, kind, best.doc_id, attribute, tuple(options))


def _names(ids: Sequence[str], entities: dict[str, Entity]) -> list[str]:
    return [entities[i].name if i in entities else i for i in ids]


def _kind_fit(section: DocSection, q: Question, heading: set[str]) -> float:
    kind = q.kind
    kinds = {b.kind for b in section.blocks}
    if kind in ("steps", "general"):
        bonus = 0.5 if "steps" in kinds else 0.0
        return bonus + (0.2 if heading & _HOW_WORDS else 0.0)
    if kind == "definition":
        text = plain_text(section.plain())
        return (0.3 if section.chunk_ids[:1] == (0,) else 0.0) + (0.3 if _DEFINE.search(text) else 0.0)
    bonus = 0.6 if kind == "yes_no" and asks_verb(q.text, section.plain()) else 0.0
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
