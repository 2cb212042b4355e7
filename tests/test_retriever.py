"""Retriever fusion rules that need no store: for typed questions, documents win near-ties against media."""

from __future__ import annotations

from core.types import Hit, Modality
from retrieval.fusion import TUNED
from retrieval.retriever import _prefer_documents

MEDIA_PRIOR = TUNED.media_prior


def _hit(doc_id: str, modality: Modality, score: float) -> Hit:
    return Hit(doc_id, doc_id, 0, modality, "text", doc_id, score)


def test_a_screenshot_loses_a_near_tie_against_an_article() -> None:
    hits = [
        _hit("shot.png", "image", 1 / 61),
        _hit("article.md", "text", 1 / 62),
        _hit("other.md", "text", 1 / 90),
    ]
    ranked = _prefer_documents(hits, MEDIA_PRIOR)
    assert [h.doc_id for h in ranked] == ["article.md", "shot.png", "other.md"]
    assert ranked[1].score == 1 / 61 * MEDIA_PRIOR


def test_a_clearly_better_media_hit_keeps_its_place() -> None:
    hits = [_hit("beep.wav", "audio", 2 / 61), _hit("article.md", "text", 1 / 61)]
    assert [h.doc_id for h in _prefer_documents(hits, MEDIA_PRIOR)] == ["beep.wav", "article.md"]
