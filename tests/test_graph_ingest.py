"""The knowledge graph kept by `Runtime.ingest` over incremental KB changes, and `supportbot graph`.

On a temporary copy of a few sample-KB files: ingest, then update one file, delete another and add a
new one, ingest again. The saved `graph.json` must equal (canonical node-link form) a fresh build of
the final folder into a new data dir, and loading it from disk must give the in-memory graph.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from app.runtime import Runtime, open_runtime
from core.config import Settings
from knowledge_graph.graph import NetworkxGraph

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
FILES = (
    "troubleshooting/e42-mesh-link-lost.md",
    "troubleshooting/e35-power-supply-low.md",
    "manuals/x200-router-setup.md",
    "manuals/m10-mesh-extender-setup.md",
    "accessories/power-adapters.md",
)
NEW_ARTICLE = """---
title: "Error E-77: Fan stalled"
product: [X300]
entities: [E-77, X300, firmware 3.0.1]
tags: [error code, troubleshooting]
---
# Error E-77: Fan stalled

E-77 means the fan inside the X300 Router stopped turning. The X300 then plays two long beeps, the light
ring blinks red and the app shows "E-77: Fan stalled". The router keeps working but lowers its Wi-Fi power
so that it does not overheat. Dust in the vents, a blocked air inlet under the router, or a very hot room are
the usual causes. The fan is not a part you can replace yourself.

Applies to: X300 routers only. The X200 has no fan and never shows this error.

## Fix

1. Unplug the X300 Router for one minute and let it cool down.
2. Clean the air vents on the bottom and the back with a dry brush. Do not use compressed air.
3. Put the router on a hard, flat surface with at least 10 cm of free space around it.
4. Plug it in again and update the X300 to firmware 3.0.1 in the app under Router > Firmware.
5. If E-77 comes back within a day, contact support: the router is replaced under warranty.

## Why it happens

The fan speed is measured every ten seconds. When the fan reports no rotation three times in a row,
the router raises E-77 and limits its transmit power until the next restart. Firmware before 3.0.1 also
raised E-77 by mistake right after a cold start in rooms below 5 C, because the fan starts slowly when cold.
That false alarm clears by itself after a few minutes; firmware 3.0.1 waits for the fan to spin up first.
"""


@pytest.fixture(autouse=True)
def empty_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No embedder weights anywhere (dense retrieval OFF), whatever the machine has cached."""
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("SUPPORTBOT_MODEL_DIR", str(models))
    monkeypatch.delenv("SUPPORTBOT_DATA_DIR", raising=False)


def _settings(data_dir: Path) -> Settings:
    return Settings.from_env(data_dir=data_dir, allow_missing_models=True)


def _canonical(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, sort_keys=True))


def _saved(runtime: Runtime) -> dict[str, Any]:
    return _canonical(json.loads(runtime.settings.graph_path.read_text(encoding="utf-8")))


def _copy_kb(sample_kb: Path, target: Path) -> Path:
    for rel in FILES:
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample_kb / rel, target / rel)
    return target


def test_incremental_ingest_equals_fresh_build(sample_kb: Path, tmp_path: Path) -> None:
    kb = _copy_kb(sample_kb, tmp_path / "kb")
    with open_runtime(_settings(tmp_path / "data")) as runtime:
        first = runtime.ingest(kb, progress=False)
        assert first.summary().startswith(f"added {len(FILES)}")
        graph = runtime.graph()
        assert "manuals/m10-mesh-extender-setup.md" in graph.doc_ids()
        assert graph.entity("error_code:E-77") is None

        e35 = kb / "troubleshooting/e35-power-supply-low.md"
        e35.write_text(
            e35.read_text(encoding="utf-8") + "\n## Also on the X300\n\nThe X300 Router shows E-35 too.\n",
            encoding="utf-8",
        )
        (kb / "manuals/m10-mesh-extender-setup.md").unlink()
        (kb / "troubleshooting/e77-fan-stalled.md").write_text(NEW_ARTICLE, encoding="utf-8")
        second = runtime.ingest(kb, progress=False)
        assert "added 1, updated 1, removed 1" in second.summary()

        in_memory = _canonical(graph.to_node_link())
        assert _saved(runtime) == in_memory
        assert _canonical(NetworkxGraph.load(runtime.settings.graph_path).to_node_link()) == in_memory
        assert "manuals/m10-mesh-extender-setup.md" not in graph.doc_ids()
        assert graph.entity("error_code:E-77") is not None
        reached = {p[-1] for p in graph.neighbours("error_code:E-77", hops=1)}
        assert "product:X300" in reached and any(r.startswith("fix:troubleshooting/e77") for r in reached)
        assert any(
            p[-1] == "error_code:E-35" for p in graph.neighbours("product:X300", hops=1)
        )  # the updated article now ties E-35 to the X300

    with open_runtime(_settings(tmp_path / "fresh")) as fresh:
        fresh.ingest(kb, progress=False)
        assert _saved(fresh) == in_memory

    with open_runtime(_settings(tmp_path / "data")) as again:  # a later run on an unchanged KB
        report = again.ingest(kb, progress=False)
        assert not report.wrote_anything
        assert _saved(again) == in_memory
        assert _canonical(again.graph().to_node_link()) == in_memory


def test_graph_cli_after_ingest(sample_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = _copy_kb(sample_kb, tmp_path / "kb")
    data = tmp_path / "data"
    with open_runtime(_settings(data)) as runtime:
        runtime.ingest(kb, progress=False)
    capsys.readouterr()

    assert main(["graph", "stats", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines() if line.strip()}
    assert counts["document"] == len(FILES)
    assert counts["error_code"] >= 2 and counts["product"] >= 3
    assert counts["edge:fixed_by"] >= 1 and counts["chunk"] > counts["document"]

    assert main(["graph", "show", "E-42", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    head, *paths = out.splitlines()
    assert head.startswith("error_code:E-42  (error_code: E-42; aliases: ")
    assert paths and all(p.startswith("  error_code:E-42 ") for p in paths)
    assert any("-fixed_by-> fix:troubleshooting/e42-mesh-link-lost.md#" in p for p in paths)
    assert any(p.endswith("product:M10") for p in paths)

    assert main(["graph", "show", "error 42", "--data-dir", str(data), "--hops", "2"]) == 0
    assert capsys.readouterr().out.startswith("error_code:E-42 ")

    assert main(["graph", "show", "NOSUCH", "--data-dir", str(data)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no entity 'NOSUCH' in the knowledge graph" in captured.err
    assert "supportbot graph stats" in captured.err

    assert main(["graph", "stats", "--data-dir", str(tmp_path / "nothing")]) == 1
    assert "run `supportbot ingest KB_DIR` first" in capsys.readouterr().err
