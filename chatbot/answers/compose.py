"""Writing a plan as the customer's answer: well-formed markdown, KB words verbatim, citations 1..n.

Each plan item becomes one part: a procedure under its section heading with its numbered steps
whole and in order; a definition or fact as the sentence(s) that hold it; a yes/no question opens
with "Yes." or "No.". Lists and tables keep their markdown (bold included). The sections are
numbered 1..n in the order the answer first uses them, and `plan_evidence` gives the same numbers
to the evidence the grounding check and the citations read.
"""

from __future__ import annotations

from chatbot.answers.plan import AnswerPlan, PlanItem
from chatbot.answers.sections import plain_text
from chatbot.generators.protocol import Evidence


def plan_evidence(plan: AnswerPlan) -> tuple[Evidence, ...]:
    """The plan's sections as evidence numbered 1..n in order of first use."""
    return tuple(
        Evidence(n, s.doc_id, s.evidence_text(), s.title, s.modality)
        for n, s in enumerate(plan.sections, start=1)
    )


def plan_hint(plan: AnswerPlan) -> str:
    """The plan in a few words for T5's input: per question, the answer kind and the section it cites."""
    numbers = _number(plan)
    return "; ".join(
        f"{item.kind.replace('_', '/')} from [{numbers[item.section.key]}] {item.section.label}"
        for item in plan.items
    )


def _number(plan: AnswerPlan) -> dict[str, int]:
    return {s.key: n for n, s in enumerate(plan.sections, start=1)}


def _part(item: PlanItem, n: int) -> str:
    cite = f"[{n}]"
    blocks = list(item.blocks)
    listed = any(b.kind != "paragraph" for b in blocks)
    if listed or (item.kind == "steps" and len(blocks) > 1):
        heading = item.section.heading or item.section.title
        head = f"**{heading}** {cite}"
        return "\n\n".join([head, *(b.markdown() for b in blocks)])
    text = "\n\n".join(b.markdown() for b in blocks)
    if item.polarity is not None:
        opens = plain_text(text).split(" ", 1)[0].strip(".,!").lower()
        if opens not in ("yes", "no"):
            text = f"{item.polarity.capitalize()}. {text}"
    return f"{text} {cite}"


def compose(plan: AnswerPlan, numbers: dict[str, int] | None = None) -> str:
    """The answer text for a plan with items (empty for a plan without any); `numbers` maps a section key
    to the evidence number it is cited as (default: 1..n in order of first use, see `plan_evidence`)."""
    numbers = numbers if numbers is not None else _number(plan)
    return "\n\n".join(_part(item, numbers[item.section.key]) for item in plan.items)
