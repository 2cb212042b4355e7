"""One reduced-mode rule in every command (issue 13, item 2), and `supportbot doctor`.

No model is on this machine except the bundled ones (empty model dir): with --allow-missing-models
every command runs, states once what runs reduced and never asks for the flag it was given; without
it every command stops with what to download or import. A voice note is transcribed by
bundled-tiny.en when nothing better is present, in every command (they share the runtime's rule;
the slow test hears one through the engine that chat, eval, serve and demo use).

The commands run over the in-memory store (`tests.fakes.MemoryStores`: the store is not the subject
here); `serve` and the voice note run over real Milvus Lite (slow).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app import reduced
from app.cli import main
from app.runtime import open_runtime
from app.serve import GENERATOR_FALLBACK, open_engine
from core.config import Settings
from core.errors import ModelMissingError
from core.models import ModelChoice
from tests.fakes import MemoryStores

pytestmark = pytest.mark.usefixtures("empty_model_dir")

DOC = "# Error E-42\n\nThe extender lost its mesh link. Move the extender closer to the router.\n"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reduced-kb")
    (root / "e42.md").write_text(DOC, encoding="utf-8")
    return root


@pytest.fixture
def memory_store(monkeypatch: pytest.MonkeyPatch) -> MemoryStores:
    return MemoryStores().install(monkeypatch)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("note: reduced mode:")]


@pytest.mark.usefixtures("memory_store")
def test_every_command_states_the_same_reduced_mode_once_and_never_asks_for_the_flag(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = str(tmp_path / "data")
    code, _, err = _run(
        capsys, "ingest", str(kb), "--data-dir", data, "--allow-missing-models", "--no-progress"
    )
    assert code == 0 and len(_notes(err)) == 1 and "cross-modal: off instead of imagebind_huge" in err
    code, _, err = _run(capsys, "search", "mesh link", "--data-dir", data, "--allow-missing-models")
    assert code == 0 and len(_notes(err)) == 1 and "speech: bundled-tiny.en instead of small" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("mesh link lost\n/quit\n"))
    code, out, err = _run(capsys, "chat", "--data-dir", data, "--allow-missing-models")
    chat_note = _notes(err)
    assert code == 0 and len(chat_note) == 1 and "mesh link" in out
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps({"id": "a", "text": "mesh link lost", "expected": ["e42.md"]}) + "\n")
    code, out, err = _run(
        capsys, "eval", "--kb", str(kb), "--queries", str(queries), "--allow-missing-models"
    )
    assert code == 0 and _notes(err) == chat_note  # eval and chat: the same parts, the same statement
    for part in ("cross-modal: off", "answers: composer instead of flan-t5-base", "speech: bundled-tiny.en"):
        assert part in chat_note[0], part
    assert "answers not evaluated" not in out  # eval answers with the composer too, as chat does


@pytest.mark.usefixtures("memory_store")
@pytest.mark.parametrize("command", ["ingest", "search", "chat", "eval"])
def test_without_the_flag_a_missing_model_stops_with_what_to_download(
    command: str, kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["ingest", str(kb), "--data-dir", str(data), "--allow-missing-models", "--no-progress"]) == 0
    capsys.readouterr()
    argv = {
        "ingest": ["ingest", str(kb), "--data-dir", str(data)],
        "search": ["search", "mesh", "--data-dir", str(data)],
        "chat": ["chat", "--data-dir", str(data)],
        "eval": ["eval", "--kb", str(kb), "--queries", str(kb / "e42.md")],
    }[command]
    if command == "eval":
        queries = tmp_path / "q.jsonl"
        queries.write_text(json.dumps({"id": "a", "text": "mesh", "expected": ["e42.md"]}) + "\n")
        argv[-1] = str(queries)
    code, out, err = _run(capsys, *argv)
    assert code == 1 and err.count("\n") == 1, err
    for needle in (
        "supportbot models download imagebind_huge",
        "supportbot models import",
        "--allow-missing-models",
    ):
        assert needle in err, needle


@pytest.mark.slow  # real Milvus Lite
def test_serve_and_demo_use_the_same_rule(
    kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "data", allow_missing_models=True)
    with open_runtime(settings) as runtime:
        runtime.ingest(kb, progress=False)
        engine, notices = open_engine(runtime)  # what `serve` and `demo` call
        statement = _notes(capsys.readouterr().err)
        assert len(statement) == 1 and "answers: composer instead of flan-t5-base" in statement[0]
        assert GENERATOR_FALLBACK in notices
        transcriber = runtime.input_reader().transcriber  # the reader the engine was built with
        assert transcriber is not None
        assert transcriber.name == "faster-whisper:bundled-tiny.en"
        assert {c.role for c in engine.status().models} == set(reduced.ALL_ROLES)
        assert all("--allow-missing-models" not in n for n in notices)


def test_a_named_speech_model_that_is_missing_is_replaced_only_with_the_flag(tmp_path: Path) -> None:
    allowed = Settings(model_dir=tmp_path, asr_model="medium", allow_missing_models=True)
    decided = reduced.resolve(allowed, reduced.SPEECH)
    assert decided.choice == ModelChoice(
        "speech", "medium", "bundled-tiny.en", "medium is not on this machine"
    )
    with pytest.raises(ModelMissingError, match="supportbot models download faster-whisper-medium"):
        reduced.resolve(allowed.with_(allow_missing_models=False), reduced.SPEECH)
    composer = reduced.resolve(allowed.with_(generator="composer"), reduced.ANSWERS).choice
    assert composer == ModelChoice("answers", "composer", "composer") and not composer.reduced


@pytest.mark.slow
def test_a_voice_note_is_transcribed_by_bundled_tiny_en_when_nothing_better_is_present(
    kb: Path, tmp_path: Path
) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = tmp_path / "note.wav"
    subprocess.run(
        [espeak, "-s", "140", "-w", str(wav), "my mesh extender lost the link"], check=True, timeout=60
    )
    settings = Settings.from_env(data_dir=tmp_path / "data", allow_missing_models=True)
    with open_runtime(settings) as runtime:
        runtime.ingest(kb, progress=False)
        runtime.prepare()
        result = runtime.engine().turn("s1", audio=wav).finish()
    trace = result.trace if isinstance(result.trace, dict) else result.trace.to_dict()
    heard = json.dumps(trace["inputs"]).lower()
    assert "mesh" in heard and "bundled-tiny.en" in heard
    assert any(m["role"] == "speech" and m["used"] == "bundled-tiny.en" for m in trace["models"])


def test_doctor_says_what_runs_and_exits_non_zero_when_broken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    code, out, _ = _run(capsys, "doctor", "--data-dir", data)
    assert code == 1 and "[BROKEN] cross-modal" in out and "supportbot models download imagebind_huge" in out
    code, out, _ = _run(capsys, "doctor", "--data-dir", data, "--allow-missing-models")
    assert code == 0 and "[note  ] speech        bundled-tiny.en instead of small" in out
    assert "[ok    ] OCR           rapidocr" in out and "Milvus Lite at" in out and "dtypes" in out
    code, out, _ = _run(
        capsys, "doctor", "--data-dir", data, "--allow-missing-models", "--milvus-uri", "http://127.0.0.1:9"
    )
    assert code == 1 and "[BROKEN] store" in out and "not reachable" in out
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.json").write_text("{not json")
    code, out, _ = _run(capsys, "doctor", "--data-dir", data, "--allow-missing-models")
    assert code == 1 and "manifest.json is unreadable" in out
