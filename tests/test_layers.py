"""The layering contract of `scripts/check` bites: `lint-imports` passes on a copy of the tree and fails
on the same copy with one planted back-import (the kernel importing the application) or one planted
cycle between sibling modules, naming the contract that broke."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "retrieval", "knowledge_graph", "chatbot", "ui", "app")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_tree(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(REPO / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


def _plant(path: Path, line: str) -> None:
    text = path.read_text(encoding="utf-8")
    marker = "from __future__ import annotations\n"
    assert marker in text, path
    path.write_text(text.replace(marker, f"{marker}\n{line}\n", 1), encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if not LINT_IMPORTS.exists():
        pytest.skip("lint-imports (import-linter) is not installed next to this Python")
    return _copy_tree(tmp_path / "tree")


@pytest.mark.slow  # one more lint-imports run (a few seconds); the planted back-import test stays quick
def test_the_unchanged_tree_keeps_every_contract(tree: Path) -> None:
    run = _lint(tree)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 2 kept, 0 broken." in run.stdout


def test_a_planted_back_import_breaks_the_layer_contract(tree: Path) -> None:
    _plant(tree / "core" / "errors.py", "import app.cli  # planted: the kernel must not know the application")
    run = _lint(tree)
    assert run.returncode != 0, run.stdout
    assert "layers: core <- {retrieval, knowledge_graph} <- chatbot <- ui <- app BROKEN" in run.stdout
    assert "core.errors -> app.cli" in run.stdout, run.stdout


@pytest.mark.slow
def test_a_planted_cycle_breaks_the_acyclic_contract(tree: Path) -> None:
    _plant(tree / "chatbot" / "traces.py", "import chatbot.engine  # planted: engine already imports traces")
    run = _lint(tree)
    assert run.returncode != 0, run.stdout
    assert "no import cycles between sibling modules BROKEN" in run.stdout
