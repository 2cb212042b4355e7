"""`supportbot chat`, `finetune` and `eval` (answers) run in-process: stdin replaced by lines, output and
exit codes checked, over a small ingested KB with BM25 only.

The commands run over the in-memory store (`tests.fakes.MemoryStores`: the store is not the subject
here), except `test_chat_answers_with_citations_and_prints_the_trace`, the end-to-end run over real
Milvus Lite (slow)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from app.terminal import plain
from chatbot.engine import HANDOFF_MESSAGE
from chatbot.finetune.data import Example, Passage, write_examples
from chatbot.generators.protocol import ABSTAIN_TEXT
from tests.fakes import MemoryStores
from tests.tiny_t5 import save_tiny_t5

DOCS = {
    "e42.md": (
        "---\ntitle: Error E-42\nproduct: X200\n---\n# Error E-42: mesh link lost\n\n"
        "The M10 extender lost its mesh link to the X200 router. Move the extender closer to the router "
        "and restart it.\n"
    ),
    "refunds.md": "# Refunds\n\nRefunds are paid within 14 days after the return reaches our warehouse.\n",
    "faq.csv": "question,answer\nHow long is the warranty?,The warranty lasts two years from purchase.\n",
}


pytestmark = pytest.mark.usefixtures("empty_model_dir")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("chat-kb")
    for name, text in DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _ingest(kb: Path, data: Path, stores: MemoryStores | None) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUPPORTBOT_MODEL_DIR", str(data.parent / "no-models"))
        if stores is not None:
            stores.install(mp)
        code = main(["ingest", str(kb), "--data-dir", str(data), "--allow-missing-models", "--no-progress"])
    assert code == 0
    return data


@pytest.fixture(scope="module")
def stores() -> MemoryStores:
    """The module's in-memory stores (one per data dir), shared by its commands."""
    return MemoryStores()


@pytest.fixture
def memory_store(stores: MemoryStores, monkeypatch: pytest.MonkeyPatch) -> MemoryStores:
    return stores.install(monkeypatch)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, kb: Path, stores: MemoryStores) -> Path:
    """The small KB ingested into the in-memory store (use with `memory_store`)."""
    return _ingest(kb, tmp_path_factory.mktemp("chat-data") / "data", stores)


@pytest.fixture(scope="module")
def milvus_data_dir(tmp_path_factory: pytest.TempPathFactory, kb: Path) -> Iterator[Path]:
    """The small KB ingested into real Milvus Lite."""
    yield _ingest(kb, tmp_path_factory.mktemp("chat-milvus") / "data", None)


def _chat(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data_dir: Path,
    lines: list[str],
    *extra: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    code = main(["chat", "--data-dir", str(data_dir), "--allow-missing-models", *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # real Milvus Lite (ingest, then the command)
def test_chat_answers_with_citations_and_prints_the_trace(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], milvus_data_dir: Path
) -> None:
    lines = ["my extender shows error E-42, mesh link lost", "/trace", "/quit", "never read"]
    code, out, _ = _chat(monkeypatch, capsys, milvus_data_dir, lines, "--generator", "extractive")
    assert code == 0
    assert "bot> " in out and "(extractive" not in out and "**" not in out
    assert "Move the extender closer to the router" in out and "[1]" in out
    assert "  [1] " in out and "(e42.md)" in out, "citations are listed under the answer"
    assert "dense retrieval" not in out.split("\n{")[0], "modes are the operator's, not in the chat"
    trace = json.loads(out[out.index("\n{") + 1 : out.rindex("}") + 1])
    assert trace["inputs"]["typed_text"] == "my extender shows error E-42, mesh link lost"
    assert trace["answer"]["citations"][0]["doc_id"] == "e42.md"
    assert "never read" not in out


def test_plain_renders_markdown_for_the_terminal() -> None:
    text = (
        "**Fix for the X300** [1]\n\n1. Set **Backhaul band** to **Auto**.\n- one\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert plain(text) == "Fix for the X300 [1]\n\n1. Set Backhaul band to Auto.\n• one\n\na | b\n1 | 2"


@pytest.mark.usefixtures("memory_store")
def test_a_numbered_option_answers_the_question_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "q7.md").write_text(
        "---\ntitle: Error Q-7\nproduct: [R1, R9]\nentities: [R1, R9]\n---\n# Error Q-7\n\n"
        "Q-7 means the link is lost.\n\n## Fix for the R1\n\n1. Press **Link** on the R1.\n2. Wait.\n\n"
        "## Fix for the R9\n\n1. Open the R9 app.\n2. Tap **Relink**.\n",
        encoding="utf-8",
    )
    data_dir = tmp_path / "data"
    assert main(["ingest", str(kb), "--data-dir", str(data_dir), "--allow-missing-models"]) == 0
    capsys.readouterr()
    code, out, _ = _chat(
        monkeypatch, capsys, data_dir, ["how do I fix Q-7?", "2", "/quit"], "--generator", "composer"
    )
    assert code == 0 and "  (1) R1\n  (2) R9\n" in out
    assert "1. Open the R9 app.\n2. Tap Relink." in out and "**" not in out


@pytest.mark.usefixtures("memory_store")
def test_chat_reports_a_bad_image_and_goes_on_then_hands_over(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.png"
    lines = [f"/image {missing} what is this", "how long do refunds take?", "/human"]
    code, out, _ = _chat(monkeypatch, capsys, data_dir, lines, "--generator", "extractive")
    assert code == 0
    assert "error: " in out and "nope.png" in out and "no such file" in out
    assert "Refunds are paid within 14 days" in out, "the conversation went on after the error"
    assert f"bot> {HANDOFF_MESSAGE}" in out


@pytest.mark.usefixtures("memory_store")
def test_chat_with_t5_missing_and_the_flag_answers_with_the_composer_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    lines = ["my extender shows error E-42, mesh link lost", "/trace", "/quit"]
    code, out, err = _chat(monkeypatch, capsys, data_dir, lines, "--generator", "t5")
    assert code == 0 and "Move the extender closer to the router" in out
    notes = [line for line in err.splitlines() if line.startswith("note: reduced mode:")]
    assert len(notes) == 1 and "answers: composer instead of flan-t5-base" in notes[0]
    assert "--allow-missing-models" not in err and "--generator extractive" not in err  # it was passed
    trace = json.loads(out[out.index("\n{") + 1 : out.rindex("}") + 1])
    assert any(c["role"] == "answers" and c["used"] == "composer" for c in trace["models"])


@pytest.mark.usefixtures("memory_store")
def test_chat_with_t5_missing_and_no_flag_stops_with_what_to_download(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    code = main(["chat", "--data-dir", str(data_dir), "--generator", "t5"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("supportbot chat: error: ")
    # the first missing part stops it (here ImageBind: no model is on this machine at all)
    for needle in ("supportbot models download imagebind_huge", "models import", "--allow-missing-models"):
        assert needle in err, needle


def test_chat_without_an_index_says_to_ingest_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _chat(monkeypatch, capsys, tmp_path / "empty", ["hi"], "--generator", "extractive")
    assert code == 1 and "supportbot ingest" in err and err.count("\n") == 1


@pytest.mark.usefixtures("memory_store")
def test_eval_reports_answers_and_turns(capsys: pytest.CaptureFixture[str], kb: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    cases = [
        {"id": "a", "text": "mesh link lost on my extender E-42", "expected": ["e42.md"], "answerable": True},
        {"id": "b", "text": "how long do refunds take", "expected": ["refunds.md"], "answerable": True},
        {
            "id": "c",
            "history": [{"text": "my X200 shows E-42"}],
            "text": "how do I fix the mesh link?",
            "expected": ["e42.md"],
            "answerable": True,
        },
        {"id": "d", "text": "what's the price of bitcoin", "expected": [], "answerable": False},
    ]
    queries.write_text("\n".join(json.dumps(c) for c in cases), encoding="utf-8")
    out_file = tmp_path / "report.json"
    argv = ["eval", "--kb", str(kb), "--queries", str(queries), "--out", str(out_file)]
    code = main([*argv, "--generator", "extractive", "--allow-missing-models"])
    out, _ = capsys.readouterr()
    assert code == 0 and "abstention accuracy" in out
    report = json.loads(out_file.read_text())
    answers = report["answers"]
    assert answers["n"] == 4
    assert answers["abstention_accuracy"] == 1.0 and answers["citation_accuracy"] == 1.0
    assert set(report["by_turn"]) == {"first", "follow_up"}
    assert report["by_turn"]["first"]["n"] == 2 and report["by_turn"]["follow_up"]["n"] == 1
    assert report["by_turn"]["follow_up"]["hit@1"] == 1.0
    by_id = {c["id"]: c for c in report["cases"]}
    assert by_id["d"]["abstained"] is True and by_id["a"]["cited"][0] == "e42.md"


@pytest.mark.slow
def test_finetune_command_on_a_tiny_t5(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    reset = "To reset the X200 router, hold the reset button for ten seconds."
    returns = "Returns are accepted within 30 days of delivery."
    both = (Passage("Returns", returns), Passage("Reset", reset))
    examples = [
        Example("How do I reset my router?", both, f"{reset} [2]"),
        Example("How long can I return it?", (Passage("Returns", returns),), "30 days [1]"),
        Example("Tell me a joke", (Passage("Reset", reset),), ABSTAIN_TEXT),
        Example("Where is the reset button?", (Passage("Reset", reset),), f"{reset} [1]"),
    ]  # fmt: skip
    train = tmp_path / "train.jsonl"
    write_examples(train, examples)
    base = save_tiny_t5(tmp_path / "base", extra_texts=[reset, returns])
    out_dir = tmp_path / "out"
    argv = ["finetune", "--train", str(train), "--output", str(out_dir), "--base-model", str(base)]
    code = main([*argv, "--max-steps", "3", "--batch-size", "2", "--device", "cpu"])
    out, _ = capsys.readouterr()
    assert code == 0
    report = json.loads(out[out.index("{") :])
    assert report["steps"] == 3 and report["eval_examples"] >= 1
    assert isinstance(report["eval_loss"], float) and report["eval_loss"] > 0
    assert report["output_dir"] == str(out_dir)
    assert (out_dir / "model.safetensors").is_file() and (out_dir / "config.json").is_file()
    assert (out_dir / "finetune_report.json").is_file()
