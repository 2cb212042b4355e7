"""bench/gpu.py's code paths, proven on CPU with tiny configs (`--smoke`) so a GPU session's budget is
not spent finding a bug in the bench; the figures of a smoke run mean nothing and are not checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds three tiny models and a Milvus Lite store (~1 min on 2 cores)

REPO = Path(__file__).resolve().parent.parent


def test_gpu_bench_runs_every_part_in_smoke_mode() -> None:
    done = subprocess.run(
        [sys.executable, "bench/gpu.py", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "FAILED" not in out
    for row in ("raw forward", "product ingest", "T5 HF generate", "T5 CTranslate2", "real-time factor"):
        assert row in out, out


def test_gpu_bench_without_a_gpu_measures_nothing_and_says_so() -> None:
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = subprocess.run(
        [sys.executable, "bench/gpu.py"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0
    assert "no CUDA GPU" in done.stdout
