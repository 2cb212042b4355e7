"""Which earlier questions a message carries into retrieval (`chatbot.followups.decide`)."""

from __future__ import annotations

from chatbot.followups import CarryOptions, content_terms, decide

ORDER = "help me to cancel order 1135"


def _known(term: str) -> bool:
    return term not in {"pari"}  # the knowledge base never mentions Paris


def test_a_follow_up_with_no_topic_carries_the_recent_questions_by_recency() -> None:
    earlier = "I placed order 1135 yesterday"
    carry = decide("please help me with that", [earlier, ORDER], _known)
    assert carry.kind == "follow_up"
    assert carry.texts == ((ORDER, 1.0), (earlier, 0.5))
    assert "no topic of its own" in carry.reason and carry.own_weight == 0.0
    assert decide("can you walk me through it?", [ORDER], _known).texts == ((ORDER, 1.0),)
    assert decide("sure, go ahead", [ORDER], _known).texts == ((ORDER, 1.0),)  # no topic, no new subject


def test_questions_before_a_topic_switch_are_left_behind() -> None:
    carry = decide("please help me with that", ["how do I reset my password", ORDER], _known)
    assert carry.texts == ((ORDER, 1.0),)  # the password question shares nothing with the order one
    by_entity = decide(
        "how do I fix it?",
        ["my X200 shows E-42", "another thing: my C5 shows E-57"],
        _known,
        same_topic=lambda older, newer: ("X200" in older) == ("X200" in newer),
    )
    assert by_entity.texts == (("another thing: my C5 shows E-57", 1.0),)


def test_a_reference_the_context_resolved_makes_a_longer_message_a_follow_up() -> None:
    text = "and does the same fix work for the extender at my parents' place?"
    assert decide(text, ["my router shows E-42"], _known).kind == "new_topic"
    carry = decide(text, ["my router shows E-42"], _known, refers_to="the same fix")
    assert carry.kind == "follow_up" and carry.texts == (("my router shows E-42", 0.6),)
    assert "the same fix" in carry.reason and carry.own_weight == 1.0


def test_a_short_message_that_refers_back_carries_at_partial_weight() -> None:
    carry = decide("is there a fee for it?", [ORDER], _known)
    assert carry.kind == "follow_up" and carry.texts == ((ORDER, 0.6),) and carry.own_weight == 1.0


def test_a_message_with_its_own_topic_or_an_unknown_word_inherits_nothing() -> None:
    own = decide("how do I change the shipping address on my account", [ORDER], _known)
    assert own.kind == "new_topic" and not own.texts
    weather = decide("what's the weather in Paris?", ["my C5 camera says the SD card cannot be read"], _known)
    assert weather.kind == "new_topic" and not weather.texts and weather.unknown_terms == ("pari",)
    assert "never mentions (pari)" in weather.reason and weather.off_topic


def test_one_unknown_word_among_others_is_a_name_or_typo_not_a_new_subject() -> None:
    carry = decide("I recently moved the hub to my parents place in Paris", [ORDER], _known)
    assert carry.unknown_terms == ("pari",) and not carry.off_topic and not carry.mostly_unknown
    assert carry.kind == "new_topic" and "states its own topic" in carry.reason


def test_first_question_and_carry_off() -> None:
    assert decide("please help me with that", [], _known).kind == "first"
    off = decide("please help me with that", [ORDER], _known, CarryOptions(enabled=False))
    assert off.kind == "first" and not off.texts


def test_content_terms_leave_out_follow_up_words() -> None:
    assert content_terms("can you walk me through it?") == []
    assert content_terms("walk me through the refund") == ["refund"]


def test_a_follow_up_whose_references_were_resolved_lets_the_graph_count_more() -> None:
    carry = decide("how do I fix it?", ["my camera shows E-57"], _known).boosted(4.0, ["it", "it"])
    assert carry.graph_boost == 4.0 and carry.texts == (("my camera shows E-57", 1.0),)
    assert carry.reason.endswith("the knowledge graph counts 4x for what 'it' refers to")
    assert carry.to_dict()["graph_boost"] == 4.0
    assert decide("how do I fix it?", ["my camera shows E-57"], _known).graph_boost == 1.0


def test_a_reference_the_context_resolved_is_not_off_topic_even_with_an_unknown_word() -> None:
    def known(term: str) -> bool:
        return term != "break"  # the knowledge base never says "break"

    alone = decide("will that break the router?", ["three short beeps"], known)
    assert alone.off_topic and not alone.texts
    carry = decide("will that break the router?", ["three short beeps"], known, refers_to="that")
    assert not carry.off_topic and carry.kind == "follow_up"
    assert carry.texts == (("three short beeps", 0.6),) and carry.unknown_terms == ("break",)
