"""Evaluation harness: case parsing/validation and the metrics themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.errors import InputError
from retrieval.evaluation import EvalCase, evaluate, format_table, load_cases, score
from retrieval.retriever import RetrievalResult
from retrieval.types import Hit


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def test_score_hits_and_mrr() -> None:
    m = score([["a", "b"], ["x", "y", "z", "w", "b"], ["q"]], [["a"], ["b"], ["b"]])
    assert m.n == 3
    assert m.hit_at_1 == pytest.approx(1 / 3, abs=1e-3)
    assert m.hit_at_5 == pytest.approx(2 / 3, abs=1e-3)
    assert m.mrr == pytest.approx((1 + 1 / 5) / 3, abs=1e-3)


def test_score_empty() -> None:
    assert score([], []).n == 0


def test_load_cases_resolves_media_relative_to_file(tmp_path: Path) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "shot.png").write_bytes(b"png")
    path = _write(
        tmp_path / "q.jsonl",
        [
            {"id": "t1", "text": "hello", "expected": ["a.md"], "answerable": True},
            {"id": "i1", "image": "media/shot.png", "expected": ["b.md"]},
            {"id": "o1", "text": "weather?", "expected": [], "answerable": False},
            {"id": "h1", "text": "and this?", "history": [{"image": "media/shot.png"}], "expected": ["b.md"]},
        ],
    )
    cases = load_cases(path)
    assert [c.modality for c in cases] == ["text", "image", "text", "text"]
    assert cases[1].image == (tmp_path / "media" / "shot.png").resolve()
    assert cases[2].answerable is False
    assert cases[3].history[0].image is not None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"id": "a", "expected": ["x"]}', "needs at least one of"),
        ('{"id": "a", "text": "q", "expected": "x.md"}', "must be a list"),
        ('{"id": "a", "image": "missing.png", "expected": []}', "not found"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_load_cases_rejects_bad_lines(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_cases(path)


def test_load_cases_duplicate_ids(tmp_path: Path) -> None:
    path = _write(tmp_path / "q.jsonl", [{"id": "a", "text": "x", "expected": []}] * 2)
    with pytest.raises(InputError, match="duplicate id"):
        load_cases(path)


def _hit(doc_id: str) -> Hit:
    return Hit(id=doc_id, doc_id=doc_id, chunk_id=0, modality="text", text="t", source=doc_id, score=1.0)


def test_evaluate_skips_unanswerable_and_splits_by_modality(tmp_path: Path) -> None:
    cases = [
        EvalCase(id="1", expected=("a",), text="q"),
        EvalCase(id="2", expected=("b",), image=tmp_path / "x.png"),
        EvalCase(id="3", expected=(), text="out of scope"),
    ]
    ranked = {"1": ["a", "a", "b"], "2": ["c", "b"]}

    def search(case: EvalCase) -> RetrievalResult:
        hits = tuple(_hit(d) for d in ranked[case.id])
        return RetrievalResult(hits=hits, dense=False, sources=("bm25",), notes=("dense off",))

    report = evaluate(cases, search)
    assert report.overall.n == 2
    assert report.by_modality["text"].hit_at_1 == 1.0
    assert report.by_modality["image"].mrr == 0.5
    assert report.cases[0].ranked == ("a", "b")  # chunks of one document count once
    assert not report.dense
    data = report.to_dict()
    assert set(data) >= {"overall", "by_modality", "latency_ms"}
    assert set(data["latency_ms"]) == {"p50", "p95"}
    assert "OFF" in format_table(report)
