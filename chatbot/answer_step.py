"""The engine's decide and answer steps: reply to a pending offer or question back, plan, compose, cite.

`pending_reply` reads a turn against what the bot asked last time: "yes" to the offer of a person,
"no thanks", or the customer's pick among a question back's options. `plan_answer` fetches the
top documents whole and asks the `Planner` what to answer (or what to ask back). `finish_citations`
numbers the sources an answer cites 1..n in order of first use and rewrites the text to match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from chatbot.answers.compose import plan_evidence
from chatbot.answers.plan import AnswerPlan, Branch, BranchOption, Planner, PlanRequest, passages_from_hits
from chatbot.answers.scope import Scoper
from chatbot.answers.sections import parse_blocks, plain_text, split_sentences
from chatbot.answers.wording import OFFER_BUTTONS
from chatbot.generators.protocol import Evidence
from chatbot.sessions import Session
from chatbot.turn_trace import Citation
from core.types import Hit
from knowledge_graph.entities import Entity
from knowledge_graph.protocol import ContextGraph
from retrieval.injection import strip as strip_injection
from retrieval.retriever import Retriever

SNIPPET_CHARS = 240
PLAN_DOCS = 6
ATTRIBUTE_TYPES = ("product", "version")

_YES = re.compile(
    r"^\s*(?:yes|yeah|yep|yup|sure|ok|okay|please|y)\b|\b(?:connect me|a person|a human|an agent)\b", re.I
)
_NO = re.compile(r"^\s*(?:no|nope|nah|not now|no thanks|no, thanks|n)\b[\s,.!]*$", re.I)
_CITATION = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class PendingReply:
    """What this turn answers: the offer of a person (accept / decline) or a question back (an option)."""

    kind: Literal["accept", "decline", "choice", "none"]
    option: BranchOption | None = None
    branch: Branch | None = None


def word_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """`text` flattened and cut at the last whole word within `limit` characters (with "…" when cut)."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:(") + "…"


def pending_reply(session: Session, text: str, scoper: Scoper) -> PendingReply:
    """Reads `text` against the session's open offer or question back (and clears them)."""
    offer, branch = session.offer, session.branch
    session.offer, session.branch = None, None
    said = " ".join(text.split())
    if offer is not None and said:
        if said.casefold() == OFFER_BUTTONS[0].casefold() or (len(said) < 40 and _YES.search(said)):
            return PendingReply("accept")
        if said.casefold() == OFFER_BUTTONS[1].casefold() or _NO.match(said):
            return PendingReply("decline")
    if branch is not None and said:
        named = set(scoper.ids(said))
        for option in branch.options:
            if said.casefold().strip(" .!") in (option.label.casefold(), f"the {option.label.casefold()}"):
                return PendingReply("choice", option, branch)
        fitting = [o for o in branch.options if named & set(o.entity_ids)]
        if len(fitting) == 1:
            return PendingReply("choice", fitting[0], branch)
    return PendingReply("none")


def asked_attributes(session: Session, linked_now: Sequence[str], graph: ContextGraph) -> tuple[str, ...]:
    """Products and versions the customer gave: this turn's first, then the conversation's active ones."""
    out: list[str] = []
    for entity_id in linked_now:
        entity = graph.entity(entity_id)
        if entity is not None and entity.type in ATTRIBUTE_TYPES:
            out.append(entity_id)
    for entity, _weight in session.context.active_entities():
        if entity.type in ATTRIBUTE_TYPES:
            out.append(entity.id)
    return tuple(dict.fromkeys(out))


def plan_answer(
    retriever: Retriever,
    graph: ContextGraph,
    hits: Sequence[Hit],
    *,
    text: str,
    resolved: str,
    asked: tuple[str, ...],
    chosen: BranchOption | None = None,
    branch_doc: str | None = None,
) -> AnswerPlan:
    """The plan over the top documents fetched whole (and the question back's document, when answered)."""
    docs = list(dict.fromkeys(h.doc_id for h in hits))[:PLAN_DOCS]
    if branch_doc and branch_doc not in docs:
        docs.insert(0, branch_doc)
    siblings = retriever.store.document_chunks(docs) if docs else []
    entities: dict[str, Entity] = {}
    for entity_id in asked:
        entity = graph.entity(entity_id)
        if entity is not None:
            entities[entity_id] = entity
    planner = Planner(Scoper(graph), entities)
    request = PlanRequest(
        text, resolved, asked, passages_from_hits(hits, siblings), chosen.section if chosen else None
    )
    return planner.plan(request)


def answer_evidence(plan: AnswerPlan, hits: Sequence[Hit], extra: int) -> tuple[Evidence, ...]:
    """The plan's sections as evidence 1..k, then up to `extra` other retrieved passages (for T5)."""
    first = list(plan_evidence(plan))
    used = {(e.doc_id, e.text) for e in first}
    for hit in hits:
        if len(first) >= len(plan.sections) + extra:
            break
        if any(hit.doc_id == s.doc_id and hit.chunk_id in s.chunk_ids for s in plan.sections):
            continue
        text = strip_injection(hit.text)
        if (hit.doc_id, text) in used:
            continue
        title = str(hit.metadata.get("title") or "")
        first.append(Evidence(len(first) + 1, hit.doc_id, text, title, hit.modality, float(hit.score)))
    return tuple(first)


def finish_citations(
    text: str, cited: Sequence[int], evidence: Sequence[Evidence]
) -> tuple[str, tuple[Citation, ...]]:
    """Renumbers the cited sources 1..n in order of first use (text rewritten) and builds their citations."""
    by_number = {e.number: e for e in evidence}
    order = [n for n in dict.fromkeys(cited) if n in by_number]
    new = {old: i for i, old in enumerate(order, start=1)}
    rewritten = _CITATION.sub(
        lambda m: f"[{new[int(m.group(1))]}]" if int(m.group(1)) in new else m.group(0), text
    )
    out = []
    for old in order:
        e = by_number[old]
        section = _section_body(e)
        quoted = tuple(s for s in _sentences(section) if _quoted(s, rewritten))
        out.append(
            Citation(
                new[old],
                e.doc_id,
                e.title,
                e.modality,
                word_snippet(section),
                e.doc_id.split("#", 1)[0],
                section,
                quoted,
            )
        )
    return rewritten, tuple(out)


def _section_body(e: Evidence) -> str:
    first, _, rest = e.text.partition("\n")
    if e.title and first.strip().casefold().startswith(e.title.strip().casefold()) and rest.strip():
        return rest.strip()
    return e.text.strip()


def _sentences(markdown: str) -> list[str]:
    blocks, _question = parse_blocks(markdown)
    return [plain_text(s) for b in blocks for item in b.items for s in split_sentences(item)]


def _quoted(sentence: str, answer: str) -> bool:
    core = sentence.strip().rstrip(".!?").casefold()
    return len(core.split()) >= 3 and core in plain_text(_CITATION.sub("", answer)).casefold()
