"""The layering contract of `scripts/check` bites: `lint-imports` passes on a copy of the tree and fails
on the same copy with one planted back-import (the kernel importing the application) or one planted
cycle between sibling modules, naming the contract that broke. Its size check (`scripts/sizes.py`)
names a function over 60 lines without a reason and a module over 400 lines."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def _sizes() -> Any:
    """scripts/sizes.py (the size check `scripts/check` runs), loaded as a module."""
    spec = importlib.util.spec_from_file_location("sizes", REPO / "scripts" / "sizes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(name: str, lines: int, comment: str = "") -> str:
    """A function of exactly `lines` lines (def line included)."""
    body = "".join(f"    x{i} = {i}\n" for i in range(lines - 2))
    return f"{comment}def {name}() -> int:\n{body}    return 0\n"


def test_the_tree_keeps_the_size_limits() -> None:
    sizes = _sizes()
    found = [
        f
        for p in PACKAGES
        for path in sorted((REPO / p).rglob("*.py"))
        for f in sizes.offenders(path, str(path))
    ]
    assert found == [], "\n".join(found)


def test_the_size_check_names_a_long_function_unless_it_says_why(tmp_path: Path) -> None:
    sizes = _sizes()
    path = tmp_path / "mod.py"
    path.write_text(_function("fits", 60) + _function("too_long", 61), encoding="utf-8")
    found = sizes.offenders(path, "mod.py")
    assert len(found) == 1 and "mod.py:61: too_long has 61 lines" in found[0], found
    path.write_text(_function("explained", 61, "# long: one table row per line\n"), encoding="utf-8")
    assert sizes.offenders(path, "mod.py") == []
    inside = '    """Doc."""\n    # Long by nature: one widget per line\n'
    path.write_text(_function("explained", 61).replace("int:\n", "int:\n" + inside, 1), encoding="utf-8")
    assert sizes.offenders(path, "mod.py") == []


def test_the_size_check_names_a_module_over_400_lines(tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    path.write_text("x = 1\n" * 401, encoding="utf-8")
    assert _sizes().offenders(path, "big.py") == ["big.py:1: module has 401 lines (at most 400)"]
