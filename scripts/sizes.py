"""Size limits of the production code (run by `scripts/check`): no module over 400 lines and no
function over 60 lines, unless it says why in a comment starting "# long" ("# long: one Gradio
widget per line", "# Long by nature: ...") on the line above it (or above its decorators) or
between its `def` and its first statement after the docstring.

    python scripts/sizes.py [ROOT]      # prints each offender as path:line: what; exit status 1 if any
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("core", "retrieval", "knowledge_graph", "chatbot", "ui", "app")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
REASON = "# long"


def _has_reason(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    body = node.body
    docstring = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
    code = body[1] if docstring and len(body) > 1 else body[0]
    header = range(first - 1, code.lineno + 1)  # 1-based line numbers
    return any(0 < n <= len(lines) and lines[n - 1].lstrip().lower().startswith(REASON) for n in header)


def offenders(path: Path, label: str) -> list[str]:
    """The size problems of one module, each as 'label:line: what'."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found: list[str] = []
    if len(lines) > MAX_MODULE_LINES:
        found.append(f"{label}:1: module has {len(lines)} lines (at most {MAX_MODULE_LINES})")
    for node in ast.walk(ast.parse(text, filename=str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > MAX_FUNCTION_LINES and not _has_reason(lines, node):
            found.append(
                f"{label}:{node.lineno}: {node.name} has {length} lines (at most {MAX_FUNCTION_LINES},"
                f" or say why in a '{REASON}: ...' comment)"
            )
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    found: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found += offenders(path, str(path.relative_to(root)))
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
