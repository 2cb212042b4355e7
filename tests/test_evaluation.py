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


def test_answer_content_counts_answered_cases_holding_every_group(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {
            "id": "a",
            "text": "reset?",
            "expected": ["r.md"],
            "answerable": True,
            "must_include": [["10 seconds"], ["beep"]],
        },
        {
            "id": "b",
            "text": "fix?",
            "expected": ["f.md"],
            "answerable": True,
            "must_include": [["Backhaul", "band"]],
        },
        {
            "id": "c",
            "text": "refund?",
            "expected": ["p.md"],
            "answerable": True,
            "must_include": [["14 days"]],
        },
        {"id": "d", "text": "plain", "expected": ["p.md"], "answerable": True},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    cases = load_cases(path)
    assert cases[0].must_include == (("10 seconds",), ("beep",)) and cases[3].must_include == ()
    answers = {
        "a": ("Hold it for **10 seconds** until one long BEEP [1]", False),
        "b": ("Open the admin page [1]", False),
        "c": ("I couldn't find that.", True),
        "d": ("Anything [1]", False),
    }

    def run(case: EvalCase) -> CaseOutcome:
        text, abstained = answers[case.id]
        cites = ({"number": 1, "doc_id": case.expected[0]},) if not abstained else ()
        return CaseOutcome(
            (case.expected[0],), False, abstained=abstained, cited=case.expected, answer=text, citations=cites
        )

    report = evaluate(cases, run)
    assert report.answers is not None
    assert report.answers.answer_content == 0.5, (
        "a holds both groups (emphasis and case ignored), b holds none"
    )
    assert report.answers.content_n == 2 and report.answers.content_abstained == 1
    out = report.to_dict()
    first = out["cases"][0]
    assert first["answer"].startswith("Hold it") and first["citations"] == [{"number": 1, "doc_id": "r.md"}]
    assert first["content_ok"] is True and {"handoff", "asked_back", "abstained"} <= set(first)
    assert "answer content: 0.500 of 2" in format_table(report)


@pytest.mark.parametrize("groups", ['"x"', '[["ok"], []]', '[["ok", 3]]', '[[" "]]'])
def test_must_include_is_validated(tmp_path: Path, groups: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(f'{{"id": "a", "text": "q", "expected": [], "must_include": {groups}}}', encoding="utf-8")
    with pytest.raises(InputError, match="must_include"):
        load_cases(path)
