"""The findings of issue 11 on the sample KB (BM25 only, the answer composer): the right steps for the
customer's product, a question back when the fix depends on it, yes/no first, no sentence about another
product, no internal text, a handoff that waits for a yes and keeps every reason, citations 1..n."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.runtime import Runtime, open_runtime
from chatbot.answers.wording import OFFER_BUTTONS
from chatbot.engine import HANDOFF_MESSAGE, ChatEngine, TurnResult
from chatbot.generators.composer import ComposerGenerator
from core.config import Settings
from tests.test_abstention import NoTextOcr

pytestmark = pytest.mark.slow
INTERNAL = re.compile(
    r"extractive|\(match|confidence|threshold|no evidence sentence|--allow|dense retrieval"
    r"|(?<![\d.])0\.\d\d(?![\d.])"
)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    kb = Path(__file__).resolve().parent.parent / "data" / "kb"
    if not kb.is_dir():
        pytest.skip("sample KB data/kb not present")
    settings = Settings(data_dir=tmp_path_factory.mktemp("findings") / "data", allow_missing_models=True)
    with open_runtime(settings, load_models=False, ocr=NoTextOcr()) as runtime:
        runtime.ingest(kb, progress=False)
        yield runtime


@pytest.fixture(scope="module")
def engine(runtime: Runtime) -> ChatEngine:
    return runtime.engine(generator=ComposerGenerator())


def _talk(engine: ChatEngine, session: str, *turns: str) -> list[TurnResult]:
    out = [engine.turn(session, t).finish() for t in turns]
    for r in out:
        assert not INTERNAL.search(r.text), r.text
        numbers = [c.number for c in r.citations]
        assert numbers == list(range(1, len(numbers) + 1)), "citations count 1..n"
        assert sorted(set(map(int, re.findall(r"\[(\d+)\]", r.text)))) == numbers, r.text
    return out


def test_the_fix_for_the_m10_after_its_definition(engine: ChatEngine) -> None:
    meaning, fix = _talk(
        engine, "m10", "My M10 extender shows error E42, what does that mean?", "how do I fix it?"
    )
    assert "means an M10 Mesh Extender has lost its link" in meaning.text
    assert fix.text.startswith("**Fix for the X200 and the M10** [1]")
    steps = re.findall(r"^(\d)\. ", fix.text, re.M)
    assert steps == ["1", "2", "3", "4"], "the section's steps, whole and in order"
    assert "Backhaul" not in fix.text, "nothing of the X300 fix"
    plan = fix.trace.answer.plan
    assert plan is not None
    assert plan.kind == "steps" and plan.items[0].section.endswith("Fix for the X200 and the M10")
    assert "M10" in plan.items[0].why


def test_a_question_back_when_the_router_is_unknown_and_the_reply_resolves_it(engine: ChatEngine) -> None:
    asked, answered = _talk(engine, "branch", "how do I fix error E42?", "X300")
    assert asked.asked_back and asked.options == ("X200 or M10", "X300") and asked.citations == ()
    asked_back = asked.trace.answer.asked_back
    assert asked.text.endswith("?") and asked_back is not None
    assert asked_back.doc_id.endswith("e42-mesh-link-lost.md")
    assert (
        answered.text.startswith("**Fix for the X300** [1]")
        and "Set **Backhaul band** to **Auto**" in answered.text
    )
    assert not answered.asked_back


def test_the_e12_follow_up_gives_the_fix_procedure_not_release_notes(engine: ChatEngine) -> None:
    _first, fix = _talk(engine, "e12", "My X200 router shows E-12 after an update", "how do I fix it?")
    assert fix.citations[0].doc_id == "troubleshooting/e12-firmware-update-failed.md"
    assert "1. Do not unplug the device." in fix.text and "bug-fix release" not in fix.text


def test_a_yes_no_question_gets_yes_first_then_the_condition(engine: ChatEngine) -> None:
    (result,) = _talk(engine, "ret", "Can I return my router if I changed my mind? Who pays shipping?")
    assert result.text.startswith("Yes. You can return any product within **30 days of delivery**")
    assert "€6.90" in result.text and "Changing the address" not in result.text


def test_never_a_sentence_about_another_product(engine: ChatEngine) -> None:
    (result,) = _talk(engine, "blue", "does the X200 blue use a different power adapter?")
    assert "AD-12B" in result.text and "must not be used on it" not in result.text


def test_out_of_scope_says_why_and_the_offer_of_a_person_waits_for_a_yes(
    runtime: Runtime, engine: ChatEngine
) -> None:
    refused, declined = _talk(engine, "oos", "what's the weather tomorrow?", "no thanks")
    assert refused.abstained and not refused.handoff and refused.options == OFFER_BUTTONS
    assert "outside what I can help with" in refused.text
    assert not declined.handoff and declined.trace.handoff is None
    refused, accepted = _talk(engine, "oos2", "what's the weather tomorrow?", "Yes, connect me with a person")
    assert accepted.handoff and accepted.text == HANDOFF_MESSAGE
    engine.request_human("oos2")
    rows = runtime.traces.turns_for_session("oos2")
    packet = next(r.trace.handoff for r in rows if r.trace.handoff is not None)
    assert packet.reasons[0].startswith("the bot could not answer: the question looks out of scope")
    assert packet.reasons[1:] == (
        "the customer accepted the offer of a person",
        "the customer asked for a human",
    )
    assert packet.customer_inputs.typed_text == "what's the weather tomorrow?"


def test_a_product_we_do_not_make(engine: ChatEngine) -> None:
    (result,) = _talk(engine, "x900", "my X900 router shows E-42")
    assert result.abstained and "the X900 among the products we make" in result.text


def test_snippets_end_on_a_word_and_previews_hold_the_whole_section(engine: ChatEngine) -> None:
    (result,) = _talk(engine, "snip", "my X300 router shows E-42, how do I fix it?")
    citation = result.citations[0]
    assert citation.section.startswith("The X300 uses a dedicated backhaul band")
    assert "1. Open the admin page (http://192.168.60.1)" in citation.section
    assert citation.snippet.endswith("…") and not citation.snippet.endswith("(htt…")
    assert len(citation.quoted) >= 4, "the quoted steps are marked for highlighting"
