"""Start-up stays light (issue 14): `supportbot --help` imports no model stack, and a text `supportbot search`
with the bundled text embedder on imports neither torch, transformers, Gradio nor the knowledge graph's
networkx. Each command runs in a fresh interpreter, as a user runs it; bench/startup.py times them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.harness import SAMPLE_KB, make_tiny_kb

REPO = Path(__file__).resolve().parent.parent
NEVER = ("torch", "transformers", "gradio", "networkx")
WRAPPER = (
    "import atexit, json, runpy, sys\n"
    "names = {never!r}\n"
    "atexit.register(lambda: print('MODULES ' + json.dumps(sorted(m for m in names if m in sys.modules))))\n"
    "sys.argv = ['supportbot', *{args!r}]\n"
    "runpy.run_module('app.cli', run_name='__main__', alter_sys=True)\n"
)


def _run(args: list[str], *, wrapped: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SUPPORTBOT_TEXT_RUNTIME", None)
    command = ["-c", WRAPPER.format(never=NEVER, args=args)] if wrapped else ["-m", "app.cli", *args]
    return subprocess.run(
        [sys.executable, *command], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def _imported(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES "))
    return list(json.loads(line[len("MODULES ") :]))


def test_help_imports_no_model_stack() -> None:
    assert _imported(_run(["--help"])) == []


@pytest.mark.slow  # real Milvus Lite, the bundled text embedder, two fresh interpreters
def test_a_text_search_imports_no_torch_transformers_gradio_or_networkx(tmp_path: Path) -> None:
    if not SAMPLE_KB.is_dir():
        pytest.skip("sample KB data/kb not present")
    kb = make_tiny_kb(tmp_path, media=False)
    data = tmp_path / "data"
    flags = ["--data-dir", str(data), "--allow-missing-models"]
    ingested = _run(["ingest", str(kb), "--no-progress", *flags], wrapped=False)
    assert ingested.returncode == 0, ingested.stderr[-2000:]
    assert "dense (text embedder)" in ingested.stdout
    done = _run(["search", "my extender shows error E-42", "--json", *flags])
    assert _imported(done) == []
    found = json.loads(done.stdout[: done.stdout.index("MODULES ")])
    assert "dense:sentence" in found["sources"]
    assert found["hits"] and found["hits"][0]["doc_id"] == "troubleshooting/e42-mesh-link-lost.md"
