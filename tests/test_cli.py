"""The `supportbot` command line, run in-process: exit codes, one-line errors, JSON shapes.

The commands run over the in-memory store (`tests.fakes.MemoryStores`: the store is not the subject
here), except `test_ingest_then_search_json`, the end-to-end run over real Milvus Lite (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.fakes import MemoryStores

pytestmark = pytest.mark.usefixtures("empty_model_dir")


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "e42.md").write_text(
        "---\ntitle: Error E-42\nproduct: X200\n---\n# Error E-42: mesh link lost\n\n"
        "The extender lost its link. Move it closer to the router and restart it.\n",
        encoding="utf-8",
    )
    (root / "refunds.md").write_text("# Refunds\n\nRefunds are paid within 14 days of the return.\n")
    (root / "faq.csv").write_text("question,answer\nIs there a warranty?,Yes: two years.\n", encoding="utf-8")
    return root


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> MemoryStores:
    return MemoryStores().install(monkeypatch)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # real Milvus Lite (ingest, then the command)
def test_ingest_then_search_json(tmp_path: Path, kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    code, out, _ = _run(
        capsys, "ingest", str(kb), "--data-dir", data, "--allow-missing-models", "--no-progress"
    )
    assert code == 0
    assert "added 3" in out and "dense retrieval OFF" in out
    code, out, _ = _run(capsys, "search", "error 42", "--data-dir", data, "--allow-missing-models", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["dense_retrieval"] is False
    assert any("dense retrieval OFF" in n for n in result["notes"])
    top = result["hits"][0]
    assert top["doc_id"] == "e42.md"
    assert set(top) >= {"doc_id", "modality", "snippet", "score", "sources"}
    assert top["sources"]["bm25"]["rank"] == 1
    assert top["sources"]["dense:sentence"]["rank"] == 1, "the bundled text embedder is on by default"
    code, out, _ = _run(
        capsys, "search", "refund", "--data-dir", data, "--allow-missing-models", "--top-k", "1"
    )
    assert code == 0 and "refunds.md" in out and "OFF" in out


def test_missing_weights_stop_with_a_message_naming_the_file(
    tmp_path: Path, kb: Path, capsys: pytest.CaptureFixture[str], empty_model_dir: Path
) -> None:
    code, out, err = _run(capsys, "ingest", str(kb), "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert err.count("\n") == 1  # one line
    assert "imagebind_huge.pth" in err and str(empty_model_dir) in err
    assert "--allow-missing-models" in err and "supportbot models download" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "", "--allow-missing-models"], "nothing to search for"),
        (["search", "hello", "--allow-missing-models"], "run `supportbot ingest"),
        (["search", "hi", "--top-k", "0", "--allow-missing-models"], "top-k"),
        (["ingest", "/no/such/kb", "--allow-missing-models"], "does not exist"),
    ],
)
@pytest.mark.usefixtures("memory_store")
def test_errors_are_one_line_with_nonzero_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str, kb: Path
) -> None:
    data = tmp_path / "data"
    if "--top-k" in argv:
        assert (
            main(["ingest", str(kb), "--data-dir", str(data), "--allow-missing-models", "--no-progress"]) == 0
        )
        capsys.readouterr()
    code, _, err = _run(capsys, *argv, "--data-dir", str(data))
    assert code != 0
    assert message in err
    assert err.strip().count("\n") == 0


@pytest.mark.usefixtures("memory_store")
def test_search_with_a_corrupt_image_is_a_clear_error(
    tmp_path: Path, kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "shot.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnope")
    data = str(tmp_path / "data")
    assert main(["ingest", str(kb), "--data-dir", data, "--allow-missing-models", "--no-progress"]) == 0
    code, _, err = _run(capsys, "search", "--image", str(bad), "--allow-missing-models", "--data-dir", data)
    assert code == 1 and "shot.png" in err


@pytest.mark.usefixtures("memory_store")
def test_eval_prints_table_and_writes_json(
    tmp_path: Path, kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "q.jsonl"
    lines = [
        {"id": "a", "text": "mesh link lost on my extender", "expected": ["e42.md"]},
        {"id": "b", "text": "when do I get my money back", "expected": ["refunds.md"]},
        {"id": "c", "text": "weather in Paris", "expected": [], "answerable": False},
    ]
    queries.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    out_file = tmp_path / "report.json"
    code, out, _ = _run(
        capsys,
        "eval",
        "--kb",
        str(kb),
        "--queries",
        str(queries),
        "--out",
        str(out_file),
        "--allow-missing-models",
    )
    assert code == 0
    assert "hit@1" in out and "overall" in out
    report = json.loads(out_file.read_text())
    assert report["overall"]["n"] == 2
    assert set(report["overall"]) == {"n", "hit@1", "hit@5", "mrr"}
    assert set(report["by_modality"]) == {"text"}
    assert set(report["latency_ms"]) == {"p50", "p95"}
    assert report["dense_retrieval"] is False


def test_models_list_names_the_checkpoint(capsys: pytest.CaptureFixture[str], empty_model_dir: Path) -> None:
    code, out, _ = _run(capsys, "models", "list")
    line = next(line for line in out.splitlines() if line.startswith("imagebind_huge "))
    assert code == 0 and " missing " in line and str(empty_model_dir) in line


@pytest.mark.slow
def test_eval_on_the_sample_kb_text_queries(
    tmp_path: Path, sample_kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Full-text retrieval alone must already find the right sample-KB document for typed questions."""
    out_file = tmp_path / "r.json"
    queries = sample_kb.parent / "eval" / "queries.jsonl"
    code, _, _ = _run(
        capsys,
        "eval",
        "--kb",
        str(sample_kb),
        "--queries",
        str(queries),
        "--out",
        str(out_file),
        "--allow-missing-models",
    )
    assert code == 0
    text = json.loads(out_file.read_text())["by_modality"]["text"]
    assert text["n"] >= 40
    assert text["hit@5"] >= 0.85


@pytest.mark.slow  # a CTranslate2 conversion of a tiny T5 (~7 s on 2 busy cores)
def test_models_convert_writes_a_ctranslate2_copy_of_a_t5(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from chatbot.generators.t5_ct2 import converted_dir
    from tests.tiny_t5 import save_tiny_t5

    model_dir = save_tiny_t5(tmp_path / "tiny-t5")
    code, out, _ = _run(capsys, "models", "convert", str(model_dir))
    assert code == 0 and "CTranslate2 copy written" in out
    assert converted_dir(model_dir) is not None
    code, _, err = _run(capsys, "models", "convert", str(tmp_path / "nothing-here"))
    assert code != 0 and err
