"""The one CPU thread policy: auto is the CPUs this process may use (capped), explicit counts win."""

from __future__ import annotations

import os

import pytest

from core.errors import ConfigError
from core.threads import MAX_AUTO_THREADS, compute_threads, ct2_threads, onnx_threads


def test_auto_threads_follow_the_affinity_mask() -> None:
    expected = max(1, min(len(os.sched_getaffinity(0)), MAX_AUTO_THREADS))
    assert compute_threads() == expected
    assert compute_threads(3) == 3
    assert ct2_threads(2) == {"intra_threads": 2, "inter_threads": 1}
    assert onnx_threads(1) == {"intra_op_num_threads": 1, "inter_op_num_threads": 1}
    with pytest.raises(ConfigError, match="threads must be >= 0"):
        compute_threads(-1)
