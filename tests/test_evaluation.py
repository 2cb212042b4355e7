"""Evaluation harness: case parsing/validation and the metrics themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import InputError
from retrieval.evaluation import CaseOutcome, EvalCase, EvalTurn, evaluate, format_table, load_cases, score


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


def test_evaluate_skips_unanswerable_and_splits_by_modality(tmp_path: Path) -> None:
    cases = [
        EvalCase(id="1", expected=("a",), text="q", answerable=True),
        EvalCase(id="2", expected=("b",), image=tmp_path / "x.png", answerable=True),
        EvalCase(id="3", expected=(), text="out of scope", answerable=False),
        EvalCase(id="4", expected=("a",), text="and it?", history=(EvalTurn(text="q"),), answerable=True),
    ]
    ranked = {"1": ["a", "a", "b"], "2": ["c", "b"], "3": ["c"], "4": ["b", "a"]}
    abstained = {"1": False, "2": False, "3": True, "4": True}
    cited = {"1": ("a",), "2": ("c",), "3": (), "4": ()}

    def run(case: EvalCase) -> CaseOutcome:
        return CaseOutcome(
            ranked=tuple(ranked[case.id]),
            dense=False,
            notes=("dense off",),
            abstained=abstained[case.id],
            cited=cited[case.id],
        )

    report = evaluate(cases, run)
    assert report.overall.n == 3
    assert report.by_turn["first"].n == 2 and report.by_turn["follow_up"].mrr == 0.5
    assert report.answers is not None
    assert report.answers.n == 4
    assert report.answers.abstention_accuracy == 0.75  # case 4 abstained although answerable
    assert report.answers.citation_accuracy == 0.5  # case 1 cited right, case 2 wrong
    assert report.by_modality["text"].hit_at_1 == 0.5  # the follow-up case ranks "a" second
    assert report.by_modality["image"].mrr == 0.5
    assert report.cases[0].ranked == ("a", "b")  # chunks of one document count once
    assert not report.dense
    data = report.to_dict()
    assert set(data) >= {"overall", "by_modality", "by_turn", "answers", "latency_ms"}
    assert set(data["latency_ms"]) == {"p50", "p95"}
    assert "OFF" in format_table(report)
