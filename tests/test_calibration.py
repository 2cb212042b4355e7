"""Per-KB abstention calibration: the threshold fit (`chatbot.calibration`) and `supportbot calibrate`.

The fit runs on hand-made observations (what the abstention rule weighs per question). The command
runs over the in-memory store (`tests.fakes.MemoryStores`: the store is not the subject here) with
the real bundled text embedder, so the similarities it calibrates on are real ones."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.calibration_state import calibrated_options, calibration_note
from app.cli import main
from chatbot.abstention import AbstentionPolicy
from chatbot.calibration import Calibration, Observation, Thresholds, fit, load, save
from chatbot.off_topic import OFF_TOPIC
from core.config import Settings
from core.errors import ConfigError
from tests.fakes import MemoryStores, fake_runtime


def _obs(sim: float, in_scope: bool, cov: float = 0.0, unk: float = 0.0, **kw: bool) -> Observation:
    return Observation(f"q{sim}", in_scope, cov, sim, unk, **kw)


def test_fit_puts_the_similarity_threshold_between_the_two_sides() -> None:
    inside = [_obs(0.30 + 0.01 * i, True) for i in range(20)]  # 0.30 .. 0.49
    outside = [_obs(0.05 + 0.01 * i, False) for i in range(15)]  # 0.05 .. 0.19
    fitted = fit(inside + outside)
    t = fitted.thresholds
    assert 0.19 < t.min_similarity <= 0.30
    assert fitted.accuracy == 1.0 and fitted.false_answer == 0.0 and fitted.met
    assert all(t.answers(o) for o in inside) and not any(t.answers(o) for o in outside)
    # widest margin: the middle of the run of equally good thresholds, not its edge
    assert 0.22 <= t.min_similarity <= 0.27


def test_fit_prefers_a_refusal_to_a_false_answer_and_keeps_the_limit() -> None:
    # one in-scope question sits among the out-of-scope ones: answering it would answer two of them
    inside = [_obs(0.5, True)] * 10 + [_obs(0.2, True)]
    outside = [_obs(0.21, False), _obs(0.19, False)] + [_obs(0.1, False)] * 8
    fitted = fit(inside + outside, max_false_answer=0.0)
    assert fitted.false_answer == 0.0 and fitted.false_refusal == pytest.approx(1 / 11, abs=1e-4)
    assert not fitted.thresholds.answers(_obs(0.21, False))


def test_an_unmeetable_limit_is_reported_not_hidden() -> None:
    # out-of-scope questions that score above every threshold on the grid cannot all be refused
    inside = [_obs(0.5, True)] * 5
    outside = [_obs(0.65, False, cov=1.0)] * 3 + [_obs(0.1, False)] * 3
    fitted = fit(inside + outside, max_false_answer=0.05)
    assert not fitted.met and fitted.false_answer == pytest.approx(0.5)


def test_coverage_and_the_unknown_word_penalty_take_part() -> None:
    # in scope: the KB's words (coverage 1) but low similarity; out: high similarity, unknown words
    inside = [_obs(0.2, True, cov=1.0)] * 10
    outside = [_obs(0.45, False, cov=0.3, unk=0.6)] * 10
    t = fit(inside + outside).thresholds
    assert all(t.answers(o) for o in inside) and not any(t.answers(o) for o in outside)


def test_early_refusals_stay_refused_and_one_sided_data_is_an_error() -> None:
    assert not Thresholds(0.0, 0.0, 0.0, 0.0).answers(_obs(0.9, True, cov=1.0, early=True))
    with pytest.raises(ConfigError, match="both sides"):
        fit([_obs(0.5, True)] * 3)


def test_bundled_questions_the_kb_matches_like_its_own_are_left_out() -> None:
    inside = [_obs(0.4 + 0.01 * i, True) for i in range(10)]
    bundled = [
        Observation("how do I change a car tyre?", False, 1.0, 0.47, 0.0, bundled=True),
        Observation("what is the capital of Peru?", False, 0.0, 0.1, 0.0, bundled=True),
    ]
    fitted = fit(inside + bundled + [_obs(0.05, False)])
    assert fitted.dropped == ("how do I change a car tyre?",)
    assert fitted.n_out == 2  # the other bundled question and the company's own


def test_saved_calibration_round_trips_and_a_damaged_file_says_what_to_do(tmp_path: Path) -> None:
    fitted = fit([_obs(0.5, True)] * 4 + [_obs(0.1, False)] * 4)
    path = tmp_path / "abstention.json"
    save(path, fitted)
    assert load(path) == fitted
    assert load(tmp_path / "none.json") is None
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="delete it"):
        load(path)
    path.write_text(json.dumps({"version": 1, "thresholds": {"min_coverage": 3}}), encoding="utf-8")
    with pytest.raises(ConfigError, match="unreadable"):
        load(path)


def test_thresholds_apply_to_the_policy_and_leave_the_rest() -> None:
    policy = Thresholds(0.6, 0.3, 0.1, 0.2).apply(AbstentionPolicy(min_asr=0.4))
    assert (policy.min_coverage, policy.min_similarity, policy.unknown_penalty) == (0.6, 0.3, 0.1)
    assert policy.unknown_coverage_penalty == 0.2 and policy.min_asr == 0.4
    assert policy.min_dense == 0.6  # the engine takes the lower of the two: the calibrated one


def test_the_bundled_off_topic_questions_are_distinct_questions() -> None:
    assert len(OFF_TOPIC) >= 80 and len(set(OFF_TOPIC)) == len(OFF_TOPIC)
    assert all(q.strip() == q and len(q) > 8 for q in OFF_TOPIC)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    pages = {
        "refunds.md": "# How do I get a refund?\n\nRefunds are paid within 14 days of the return.\n",
        "cancel.md": "# How do I cancel my order?\n\nOpen Orders, pick the order and press Cancel.\n",
        "address.md": "# How do I change my delivery address?\n\nEdit it under Account > Addresses.\n",
        "invoice.md": "# Where can I download my invoice?\n\nInvoices are under Account > Billing.\n",
    }
    for name, text in pages.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def ingested(
    tmp_path: Path, kb: Path, monkeypatch: pytest.MonkeyPatch, empty_model_dir: Path
) -> tuple[Path, list[str]]:
    """The kb ingested into an in-memory store's data dir; (data dir, the commands' common flags)."""
    MemoryStores().install(monkeypatch)
    data = tmp_path / "data"
    common = ["--data-dir", str(data), "--allow-missing-models"]
    assert main(["ingest", str(kb), *common, "--no-progress"]) == 0
    return data, common


def test_calibrate_command_saves_thresholds_the_engine_then_uses(
    tmp_path: Path, kb: Path, ingested: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, common = ingested
    cases = tmp_path / "cases.jsonl"
    rows = [
        {"id": "a", "text": "i want my money back for the stuff i returned", "expected": ["refunds.md"]},
        {"id": "b", "text": "pls stop my purchase", "expected": ["cancel.md"]},
        {"id": "c", "text": "ship it to my new flat instead", "answerable": True},
        {"id": "d", "text": "need the bill for my last purchase", "expected": ["invoice.md"]},
        {"id": "e", "text": "what's a good name for a parrot?", "answerable": False},
        {"id": "f", "text": "this error", "image": "broken.png", "answerable": True},  # not an image
    ]
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    cases.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    capsys.readouterr()
    assert main(["calibrate", str(cases), *common, "--dry-run"]) == 0
    assert "not saved (--dry-run)" in capsys.readouterr().out
    assert not (data / "abstention.json").exists()
    assert main(["calibrate", str(cases), *common]) == 0
    out = capsys.readouterr().out
    assert "skipped (its input was rejected): f:" in out  # one bad case does not end the run
    saved = load(data / "abstention.json")
    assert isinstance(saved, Calibration) and saved.n_in == 4 and saved.kb
    assert saved.n_out == 1 + len(OFF_TOPIC) - len(saved.dropped)
    assert "calibrated: coverage" in out and f"on 4 in-scope and {saved.n_out} out-of-scope" in out
    settings = Settings(data_dir=data, allow_missing_models=True)
    options = calibrated_options(settings)
    assert options is not None and options.policy.min_similarity == saved.thresholds.min_similarity
    with fake_runtime(settings) as runtime:  # every engine of the data dir judges with them
        policy = runtime.engine().options.policy
    assert (policy.min_coverage, policy.min_similarity) == (
        saved.thresholds.min_coverage,
        saved.thresholds.min_similarity,
    )
    traces = data / "traces.sqlite"
    if traces.exists():  # calibration questions never reach the staff console
        with sqlite3.connect(traces) as db:
            assert db.execute("select count(*) from turns").fetchone()[0] == 0
    note = calibration_note(settings)
    assert note is not None and "changed since" not in note

    (kb / "warranty.md").write_text("# Warranty\n\nTwo years on every product.\n", encoding="utf-8")
    assert main(["ingest", str(kb), *common, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["doctor", *common]) in (0, 1)
    assert "changed since, re-run `supportbot calibrate`" in capsys.readouterr().out


@pytest.mark.usefixtures("empty_model_dir")
def test_calibrate_needs_an_ingested_kb_and_a_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"id": "a", "text": "refund?", "answerable": True}), encoding="utf-8")
    common = ["--data-dir", str(tmp_path / "empty"), "--allow-missing-models"]
    assert main(["calibrate", str(cases), *common]) == 1
    assert "supportbot ingest" in capsys.readouterr().err
    assert main(["calibrate", str(cases), *common, "--max-false-answer", "5"]) == 1
    assert "from 0 to 1" in capsys.readouterr().err


def test_doctor_marks_a_damaged_calibration_broken(
    ingested: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, common = ingested
    (data / "abstention.json").write_text("{half a file", encoding="utf-8")
    capsys.readouterr()
    assert main(["doctor", *common]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "abstention.json is unreadable" in out and "delete it" in out


@pytest.mark.slow  # real Milvus Lite: ingest, calibrate, then eval on the same data dir uses the thresholds
@pytest.mark.usefixtures("empty_model_dir")
def test_calibrate_then_eval_on_real_milvus_lite(
    tmp_path: Path, kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    common = ["--data-dir", str(data), "--allow-missing-models"]
    assert main(["ingest", str(kb), *common, "--no-progress"]) == 0
    cases = tmp_path / "cases.jsonl"
    rows = [
        {"id": "a", "text": "i want my money back", "expected": ["refunds.md"], "answerable": True},
        {"id": "b", "text": "stop my purchase please", "expected": ["cancel.md"], "answerable": True},
        {"id": "c", "text": "where is the bill for my order", "expected": ["invoice.md"], "answerable": True},
        {"id": "d", "text": "send it to my new flat", "expected": ["address.md"], "answerable": True},
        {"id": "e", "text": "what's a good name for a parrot?", "expected": [], "answerable": False},
    ]
    cases.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert main(["calibrate", str(cases), *common]) == 0
    saved = load(data / "abstention.json")
    assert saved is not None and saved.met and saved.false_answer <= 0.05
    capsys.readouterr()
    out_file = tmp_path / "report.json"
    code = main(["eval", "--kb", str(kb), "--queries", str(cases), "--out", str(out_file), *common])
    _, err = capsys.readouterr()
    assert code == 0 and "abstention thresholds calibrated" in err
    report = json.loads(out_file.read_text())
    parrot = next(c for c in report["cases"] if c["id"] == "e")
    assert parrot["abstained"] is True
