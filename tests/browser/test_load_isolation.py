"""The load bench's check with a few sessions (issue 12): concurrent gradio_client conversations
through the real server, each with a unique marker; no marker crosses sessions."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


def test_no_marker_crosses_sessions_under_concurrent_load() -> None:
    from load import run_load  # bench/load.py

    result = run_load(sessions=6, turns=2, queue_size=32, concurrency=2)
    assert result.crossings == []
    assert result.errors == [] and result.queue_refusals == 0
    assert result.turns == 12
