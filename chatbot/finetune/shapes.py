"""Training examples in the answer composer's shapes, so a fine-tuned T5 learns the same behaviour:
numbered steps of the section that applies, a yes or no first, the definition, and a question back
when the article branches on a product the question does not name.

Questions come from the KB's own structure (a section heading, an FAQ row's question, a document's
title), the answers from `chatbot.answers` run on the document's own sections, and the input carries
the same plan hint the engine gives T5 at chat time. Products are the front-matter products and
entities of the chunks (no list written for one KB).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from chatbot.answers.compose import compose, plan_evidence, plan_hint
from chatbot.answers.plan import Planner, PlanRequest
from chatbot.answers.scope import Scoper
from chatbot.answers.sections import Passage as PlanPassage
from chatbot.answers.sections import sections_from_passages
from chatbot.answers.wording import branch_question
from core.types import Chunk
from knowledge_graph.entities import Entity, Gazetteer, is_model_code

_YES_NO_ROW = re.compile(r"^\s*A:\s*(?:Yes|No)\b", re.IGNORECASE | re.MULTILINE)


def _gazetteer(chunks: Sequence[Chunk]) -> Gazetteer:
    names: set[str] = set()
    for chunk in chunks:
        for key in ("products", "entities"):
            values = chunk.metadata.get(key) or []
            if isinstance(values, (list, tuple)):
                names.update(str(v).strip() for v in values if is_model_code(str(v).split(" ")[0]))
    entities = tuple(Entity(f"product:{n}", "product", n, (n,)) for n in sorted(names) if n)
    return Gazetteer(entities)


def _passages(chunks: Sequence[Chunk]) -> tuple[PlanPassage, ...]:
    return tuple(
        PlanPassage(c.doc_id, c.chunk_id, c.text, c.title, c.modality, c.metadata, 1.0, i)
        for i, c in enumerate(chunks)
    )


def _questions(chunks: Sequence[Chunk]) -> list[str]:
    """Questions a customer would ask of this document, from its own headings, title and FAQ question."""
    passages = _passages(chunks)
    out: list[str] = []
    for section in sections_from_passages(passages):
        if section.question:
            out.append(section.question)
        elif any(b.kind == "steps" for b in section.blocks):
            heading = section.heading or section.title
            if len(heading.split()) > 1:  # "Pairing with an X200", not a bare "Fix"
                out.append(f"How do I {heading[0].lower()}{heading[1:]}?")
            out.append(f"How do I fix {section.title}?")
    title = chunks[0].title
    if any("mean" in c.text for c in chunks[:1]) and title:
        out.append(f"What does {title.split(':')[0]} mean?")
    return list(dict.fromkeys(q for q in out if q))


def composer_examples(chunks: Sequence[Chunk], seed: int = 0) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(question, answer, hint, evidence texts) in the composer's shapes, one document at a time."""
    rng = random.Random(seed)
    planner = Planner(Scoper(_gazetteer(chunks)))
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        if chunk.modality == "text":
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
    out: list[tuple[str, str, str, tuple[str, ...]]] = []
    for doc_chunks in by_doc.values():
        passages = _passages(doc_chunks)
        for question in _questions(doc_chunks):
            plan = planner.plan(PlanRequest(question, question, (), passages))
            if plan.branch is not None:
                evidence = tuple(p.text for p in passages)
                out.append((question, branch_question(plan.branch), "ask back", evidence))
                for option in plan.branch.options:  # the reply that resolves it
                    chosen = planner.plan(
                        PlanRequest(question, question, option.entity_ids, passages, option.section)
                    )
                    if chosen.items:
                        texts = tuple(e.text for e in plan_evidence(chosen))
                        out.append((f"{question} {option.label}", compose(chosen), plan_hint(chosen), texts))
                continue
            if plan.items and (plan.items[0].kind != "general" or _YES_NO_ROW.search(doc_chunks[0].text)):
                texts = tuple(e.text for e in plan_evidence(plan))
                out.append((question, compose(plan), plan_hint(plan), texts))
    rng.shuffle(out)
    return out
