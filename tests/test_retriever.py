"""Retriever fusion rules that need no store: for typed questions, documents win near-ties against media;
the graph boosts but does not lift a hit above a document every store source ranked high and better."""

from __future__ import annotations

from core.types import Hit, Modality, SourceScore
from retrieval.fusion import TUNED
from retrieval.retriever import _kept_below, _prefer_documents

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


def _ranked_hit(doc_id: str, score: float, modality: Modality = "text", **ranks: int) -> Hit:
    sources = {name.replace("_", ":"): SourceScore(rank, 0.5) for name, rank in ranks.items()}
    return Hit(doc_id, doc_id, 0, modality, "text", doc_id, score, sources)


def test_the_graph_does_not_lift_a_hit_above_a_document_both_text_channels_rank_higher() -> None:
    article = _ranked_hit("e57.md", 0.685, dense_sentence=2, bm25=2)
    manual = _ranked_hit("c5-manual.md", 0.750, dense_sentence=3, bm25=4, graph=1)
    other = _ranked_hit("wall-mount.md", 0.700, dense_sentence=1, bm25=9, graph=2)  # not dominated
    shot = _ranked_hit("e57.png", 0.760, "image", dense_sentence=1, bm25=1)  # media never caps
    kept = {h.doc_id: h.score for h in _kept_below([shot, manual, other, article])}
    assert kept["e57.png"] == 0.760 and kept["wall-mount.md"] == 0.700 and kept["e57.md"] == 0.685
    assert kept["c5-manual.md"] < 0.685  # capped just below the article it may not displace
    far = _ranked_hit("guide.md", 0.6, dense_sentence=8, bm25=1)  # ranked high by one source only
    boosted = _ranked_hit("e88.md", 0.65, dense_sentence=11, bm25=3, graph=1)
    assert _kept_below([far, boosted])[1].score == 0.65
    bm25_only = [_ranked_hit("a.md", 0.6, bm25=1), _ranked_hit("b.md", 0.7, bm25=2, graph=1)]
    assert _kept_below(bm25_only)[1].score == 0.7  # one store source: the graph reorders freely
