"""The answer composer on hand-made documents: sections and lists, answer kinds, the product a section is
about, questions back from headings, citations 1..n, customer wording, snippets on word boundaries.

Entities are a real `Gazetteer` built here (the products a KB would declare in its front-matter).
"""

from __future__ import annotations

import re

import pytest

from chatbot.answer_step import finish_citations, word_snippet
from chatbot.answers.compose import compose, plan_evidence
from chatbot.answers.kinds import classify, questions
from chatbot.answers.plan import Planner, PlanRequest
from chatbot.answers.scope import Scoper
from chatbot.answers.sections import Passage, parse_blocks, sections_from_passages
from chatbot.answers.wording import REFUSALS, branch_question, refusal
from chatbot.generators.protocol import Evidence
from knowledge_graph.entities import Entity, Gazetteer

TITLE = "Error Q-7: Link lost"
ROUTERS = (
    Entity("product:R1", "product", "R1 Router", ("R1", "R1 Router")),
    Entity(
        "product:R1/red", "product", "R1 Router Red edition", ("R1 Red",), (("variant_of", "product:R1"),)
    ),
    Entity("product:R9", "product", "R9 Router", ("R9", "R9 Router")),
    Entity("product:B3", "product", "B3 Booster", ("B3", "B3 Booster")),
)
META = {"products": ["R1", "B3", "R9"], "title": TITLE}
CHUNKS = (
    f"{TITLE}\n\nQ-7 means a B3 Booster has lost its link to the router. The app shows a warning.\n\n"
    "Applies to: R1, B3, R9. **The fix depends on the router model.**",
    f"{TITLE} > Fix for the R1 and the B3\n\nThis applies to an R1 with B3 boosters. "
    "It does **not** apply to the R9.\n\n1. Move the B3 closer to the router.\n"
    "2. Unplug the B3 for 10 seconds.\n"
    "   Wait two minutes.\n3. Press **Link** on both devices.",
    f"{TITLE} > Fix for the R9\n\nThe R9 has no Link button. Instead:\n\n1. Open the admin page and go to "
    "**Mesh > Backhaul**.\n2. Set the band to **Auto**.\n\nDo not reset the R9 for Q-7.",
)


def _passages(*extra: Passage) -> tuple[Passage, ...]:
    main = tuple(
        Passage("q7.md", i, text, TITLE, "text", {**META, "heading_path": []}, 1.0 - i / 10, i)
        for i, text in enumerate(CHUNKS)
    )
    return main + extra


def _planner() -> Planner:
    gazetteer = Gazetteer(ROUTERS)
    return Planner(Scoper(gazetteer), {e.id: e for e in ROUTERS})


def _plan(text: str, asked: tuple[str, ...] = (), *extra: Passage, resolved: str | None = None, chosen=None):
    request = PlanRequest(text, resolved or text, asked, _passages(*extra), chosen)
    return _planner().plan(request)


def test_sections_keep_lists_whole_in_order_with_continuation_lines() -> None:
    sections = sections_from_passages(_passages())
    assert [s.heading for s in sections] == ["", "Fix for the R1 and the B3", "Fix for the R9"]
    steps = [b for b in sections[1].blocks if b.kind == "steps"][0]
    assert steps.items == (
        "Move the B3 closer to the router.",
        "Unplug the B3 for 10 seconds. Wait two minutes.",
        "Press **Link** on both devices.",
    )
    blocks, question = parse_blocks("Q: Can I?\nA: Yes, you can.\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert question == "Can I?" and [b.kind for b in blocks] == ["paragraph", "table"]
    assert blocks[1].markdown() == "| a | b |\n|---|---|\n| 1 | 2 |", "a table keeps its rows as written"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("how do I fix it?", "steps"),
        ("My booster shows Q-7, what does that mean?", "definition"),
        ("what is Q-7?", "definition"),
        ("Can I return my router if I changed my mind?", "yes_no"),
        ("does the R1 red use a different adapter?", "yes_no"),
        ("How long do refunds take?", "fact"),
        ("Who pays shipping?", "fact"),
        ("please reset my router", "steps"),
    ],
)
def test_answer_kinds(text: str, kind: str) -> None:
    assert classify(text) == kind


def test_a_message_with_two_questions_is_two() -> None:
    asked = questions("Can I return my router if I changed my mind? Who pays shipping?")
    assert [(q.text, q.kind) for q in asked] == [
        ("Can I return my router if I changed my mind?", "yes_no"),
        ("Who pays shipping?", "fact"),
    ]


def test_fix_steps_of_the_customers_product_whole_and_in_order() -> None:
    plan = _plan("how do I fix it?", ("product:B3",), resolved="how do I fix Q-7")
    assert plan.branch is None and plan.kind == "steps"
    item = plan.items[0]
    assert item.section.heading == "Fix for the R1 and the B3" and "B3" in item.why
    text = compose(plan)
    assert text.startswith("**Fix for the R1 and the B3** [1]")
    assert re.search(
        r"^1\. Move the B3.*\n2\. Unplug the B3 for 10 seconds\. Wait two minutes\.\n3\. Press", text, re.M
    )
    assert "R9 has no Link" not in text


def test_an_edition_picks_its_products_section_and_an_exclusion_is_respected() -> None:
    assert (
        _plan("how do I fix Q-7 on my R1 Red?", ("product:R1/red",)).items[0].section.heading.endswith("B3")
    )
    plan = _plan("my R9 with a B3 shows Q-7, how do I fix it?", ("product:R9", "product:B3"))
    assert plan.items[0].section.heading == "Fix for the R9", (
        "the R1 section says it does not apply to the R9"
    )


def test_question_back_when_the_fix_depends_on_a_product_not_given() -> None:
    plan = _plan("how do I fix error Q-7?")
    assert plan.kind == "ask_back" and plan.branch is not None
    labels = [o.label for o in plan.branch.options]
    assert labels == ["R1 or B3", "R9"], "options come from the article's own headings"
    question = branch_question(plan.branch)
    assert question.endswith("?") and "**R1 or B3**" in question and "**R9**" in question
    chosen = plan.branch.options[1]
    answered = _plan("how do I fix error Q-7?", ("product:R9",), chosen=chosen.section)
    assert answered.items[0].section.heading == "Fix for the R9"
    assert "1. Open the admin page" in compose(answered)


def test_definition_answers_what_it_means() -> None:
    plan = _plan("My booster shows Q-7, what does that mean?", ("product:B3",))
    text = compose(plan)
    assert text.startswith("Q-7 means a B3 Booster has lost its link") and text.endswith("[1]")


def test_never_a_sentence_about_another_product() -> None:
    faq = Passage(
        "faq.csv#row-7",
        0,
        "Q: Does the R9 use the same adapter as the R1?\nA: No. The R9 uses the AD-19 adapter. "
        "R1 adapters do not fit and must not be used on it.",
        "",
        "text",
        {"products": ["R9"]},
        2.0,
        0,
    )
    plan = _plan("does the R1 red use a different adapter?", ("product:R1/red",), faq)
    assert "must not be used on it" not in compose(plan)


def test_yes_no_opens_with_the_answer_and_citations_count_from_one() -> None:
    policy = Passage(
        "returns.md",
        0,
        "Returns > 30-day returns\n\nYou can return any product within **30 days** for any reason.\n\n"
        "Return shipping: a label costs **6.90**.",
        "Returns",
        "text",
        {"heading_path": ["Returns", "30-day returns"]},
        3.0,
        0,
    )
    plan = _plan("Can I return my booster if I changed my mind?", (), policy)
    text = compose(plan)
    assert text.startswith("Yes. You can return any product within **30 days**"), text
    evidence = plan_evidence(plan)
    assert [e.number for e in evidence] == [1] and evidence[0].doc_id == "returns.md"


def test_citations_are_renumbered_in_order_of_first_use() -> None:
    evidence = tuple(
        Evidence(n, f"d{n}.md", f"Title\n\nSentence number {n} is here.", "Title") for n in (1, 2, 3)
    )
    text, cited = finish_citations(
        "First sentence number 3 is here [3]. Then [1]. Again [3].", (3, 1), evidence
    )
    assert text == "First sentence number 3 is here [1]. Then [2]. Again [1]."
    assert [(c.number, c.doc_id) for c in cited] == [(1, "d3.md"), (2, "d1.md")]
    assert cited[0].section == "Sentence number 3 is here." and cited[0].quoted == (
        "Sentence number 3 is here.",
    )


def test_snippets_end_on_a_word_boundary() -> None:
    text = "Open the admin page (http://192.168.60.1) or the app and go to Mesh settings now " * 5
    snippet = word_snippet(text, 60)
    assert snippet.endswith("…") and len(snippet) <= 60
    assert text.startswith(snippet[:-1]) and text[len(snippet) - 1] == " ", "cut after a whole word"


def test_refusals_say_why_in_customer_words_with_a_next_step() -> None:
    for kind in REFUSALS:
        text = refusal(kind, products=("X900",))
        assert not re.search(r"\d\.\d|<|confidence|threshold|match|--|model\b", text), text
        assert text.endswith("support team?"), "every refusal offers a person"
    assert "type your question, or record the voice note again" in refusal("unclear_voice")
    assert "sharper screenshot" in refusal("unreadable_screenshot")
    assert "the X900" in refusal("unknown_product", products=("X900",))
    assert "outside what I can help with" in refusal("out_of_scope")
