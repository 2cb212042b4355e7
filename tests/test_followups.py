"""Which earlier questions a message carries into retrieval (`chatbot.followups.decide`)."""

from __future__ import annotations

from chatbot.followups import CarryOptions, content_terms, decide

ORDER = "help me to cancel order 1135"


def _known(term: str) -> bool:
    return term not in {"pari"}  # the knowledge base never mentions Paris


def test_a_follow_up_with_no_topic_carries_the_recent_questions_by_recency() -> None:
    carry = decide("please help me with that", ["how do I reset my password", ORDER], _known)
    assert carry.kind == "follow_up"
    assert carry.texts == ((ORDER, 1.0), ("how do I reset my password", 0.5))
    assert "no topic of its own" in carry.reason and carry.own_weight == 0.0
    assert decide("can you walk me through it?", [ORDER], _known).texts == ((ORDER, 1.0),)


def test_a_short_message_that_refers_back_carries_at_partial_weight() -> None:
    carry = decide("is there a fee for it?", [ORDER], _known)
    assert carry.kind == "follow_up" and carry.texts == ((ORDER, 0.6),) and carry.own_weight == 1.0


def test_a_message_with_its_own_topic_or_an_unknown_word_inherits_nothing() -> None:
    own = decide("how do I change the shipping address on my account", [ORDER], _known)
    assert own.kind == "new_topic" and not own.texts
    weather = decide("what's the weather in Paris?", ["my C5 camera says the SD card cannot be read"], _known)
    assert weather.kind == "new_topic" and not weather.texts and weather.unknown_terms == ("pari",)
    assert "never mentions (pari)" in weather.reason


def test_first_question_and_carry_off() -> None:
    assert decide("please help me with that", [], _known).kind == "first"
    off = decide("please help me with that", [ORDER], _known, CarryOptions(enabled=False))
    assert off.kind == "first" and not off.texts


def test_content_terms_leave_out_follow_up_words() -> None:
    assert content_terms("can you walk me through it?") == []
    assert content_terms("walk me through the refund") == ["refund"]
