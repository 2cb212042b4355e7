"""Start-up cost of the CLI: wall time of a fresh `supportbot --help` and `supportbot search`, and what
each imports, side by side with the old path (the text embedder's query vector through torch and
transformers, `SUPPORTBOT_TEXT_RUNTIME=torch`).

Each timed run is a new Python process (`python -m app.cli ...` from this checkout), so imports, the
store's start and the model load are all paid again; the OS page cache is warm (one untimed run per
case first), as it is for a user who searches twice. Needs an ingested KB: `--data-dir DIR` (e.g.
after `supportbot ingest data/kb --data-dir DIR --allow-missing-models`), else the sample KB is
ingested into a temporary dir first (about a minute, mostly OCR).

Prints per case: median and best wall seconds over `--runs`, median CPU seconds (user + sys), the
heavy packages the process imported, and its largest top-level imports (`python -X importtime`).

    python bench/startup.py [--data-dir DIR] [--runs 5] [--query "my router shows error E-42"]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = (
    "torch",
    "transformers",
    "gradio",
    "gradio_client",
    "networkx",
    "pymilvus",
    "milvus_lite",
    "pandas",
    "scipy",
    "faiss",
    "tantivy",
    "onnxruntime",
    "ctranslate2",
    "pypdf",
    "matplotlib",
)
WRAPPER = (
    "import atexit, json, runpy, sys\n"
    "heavy = {heavy!r}\n"
    "atexit.register(lambda: sys.__stderr__.write('HEAVY ' + json.dumps([m for m in heavy if m in "
    "sys.modules]) + '\\n'))\n"
    "sys.argv = ['supportbot', *{args!r}]\n"
    "runpy.run_module('app.cli', run_name='__main__', alter_sys=True)\n"
)


@dataclass
class Case:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    heavy: list[str] = field(default_factory=list)
    top_imports: list[tuple[str, float]] = field(default_factory=list)


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **extra}
    env.pop("SUPPORTBOT_TEXT_RUNTIME", None) if "SUPPORTBOT_TEXT_RUNTIME" not in extra else None
    return env


def _run(case: Case) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *case.args],
        cwd=REPO,
        env=_env(case.env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{case.name}: exit {done.returncode}: {done.stderr.strip()[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _imports(case: Case) -> None:
    """One more run under -X importtime through a wrapper that lists the heavy packages imported."""
    code = WRAPPER.format(heavy=HEAVY, args=case.args)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        env=_env(case.env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    top: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if line.startswith("HEAVY "):
            case.heavy = json.loads(line[len("HEAVY ") :])
        elif line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if name.strip() and not name.startswith("  ") and cumulative.strip().isdigit():
                top[name.strip()] = int(cumulative) / 1e6
    case.top_imports = sorted(top.items(), key=lambda kv: -kv[1])[:6]


def _ingest(data_dir: Path) -> None:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "app.cli", "ingest", str(REPO / "data" / "kb"), "--data-dir", str(data_dir)]
        + ["--allow-missing-models", "--no-progress"],
        cwd=REPO,
        env=_env({}),
        check=True,
        capture_output=True,
        timeout=1800,
    )
    print(f"ingested the sample KB into {data_dir} in {time.perf_counter() - start:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="an ingested KB (default: ingest data/kb)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--query", default="my router shows error E-42")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="supportbot-startup-") as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        if args.data_dir is None:
            _ingest(data_dir)
        search = ["search", args.query, "--data-dir", str(data_dir), "--allow-missing-models"]
        cases = [
            Case("supportbot --help", ["--help"]),
            Case("supportbot search (numpy query vector)", search),
            Case(
                "supportbot search (torch query vector, before)", search, {"SUPPORTBOT_TEXT_RUNTIME": "torch"}
            ),
        ]
        print(
            f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.runs} runs each"
        )
        for case in cases:
            _run(case)  # untimed: the page cache holds the files from now on
            for _ in range(args.runs):
                wall, cpu = _run(case)
                case.walls.append(wall)
                case.cpus.append(cpu)
            _imports(case)
    print(f"load average at end: {os.getloadavg()[0]:.2f}\n")
    print("| command | wall s (median) | wall s (best) | CPU s (median) | heavy packages imported |")
    print("|---|---:|---:|---:|---|")
    for case in cases:
        heavy = ", ".join(case.heavy) or "none"
        print(
            f"| {case.name} | {statistics.median(case.walls):.2f} | {min(case.walls):.2f} | "
            f"{statistics.median(case.cpus):.2f} | {heavy} |"
        )
    print()
    for case in cases:
        listed = ", ".join(f"{name} {seconds:.2f}" for name, seconds in case.top_imports)
        print(f"{case.name}: largest top-level imports (s, -X importtime): {listed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
