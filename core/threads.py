"""One CPU thread policy for every inference runtime (torch, CTranslate2, ONNX Runtime).

Each runtime otherwise sizes its own pool to every core of the machine, and two of them, or one
beside another process, oversubscribe the CPU (measured: torch with 2 threads ran 3x slower than
with 1 on a busy 2-core machine). The policy: `threads` (0 = auto) is the number of CPUs this
process may run on (its affinity mask), at most `MAX_AUTO_THREADS`; runtimes use one pool of that
size for work inside an operation and a single thread between operations. numpy's BLAS pool is
narrowed to one thread around small operations (`blas_single_thread`): a query's matrices are too
small to share, and on a busy machine a pool waits for its descheduled threads (measured: a
MiniLM query 8 ms on one thread, 60 ms to 1 s on the two-thread pool at load 4).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from core.errors import ConfigError

MAX_AUTO_THREADS = 8
_torch_applied: list[int] = []
_blas_lock = threading.Lock()
_blas_state: dict[str, Any] = {"users": 0, "limit": None, "controller": None}


def compute_threads(threads: int = 0) -> int:
    """The intra-op thread count for `threads` (0 = auto, see the module doc)."""
    if threads < 0:
        raise ConfigError(f"threads must be >= 0 (0 = one per CPU this process may use), got {threads}")
    if threads:
        return threads
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, MAX_AUTO_THREADS))


def apply_torch(threads: int = 0) -> int:
    """Sets torch's pools by the policy (once per process; later calls with another count resize the
    intra-op pool only, as torch allows). Returns the intra-op count."""
    import torch

    count = compute_threads(threads)
    if not _torch_applied:
        # fails once torch ran parallel work: its inter-op pool is then fixed
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    if _torch_applied[-1:] != [count]:
        torch.set_num_threads(count)
        _torch_applied.append(count)
    return count


def ct2_threads(threads: int = 0) -> dict[str, int]:
    """Keyword arguments for a CTranslate2 model (`intra_threads`, `inter_threads`)."""
    return {"intra_threads": compute_threads(threads), "inter_threads": 1}


def onnx_threads(threads: int = 0) -> dict[str, int]:
    """ONNX Runtime session option values (`intra_op_num_threads`, `inter_op_num_threads`)."""
    return {"intra_op_num_threads": compute_threads(threads), "inter_op_num_threads": 1}


@contextlib.contextmanager
def blas_single_thread() -> Iterator[None]:
    """numpy's BLAS runs on one thread inside the block; the pool is restored when the last of the
    threads inside such a block leaves it (the limit is process-wide, so concurrent turns share it)."""
    with _blas_lock:
        if _blas_state["users"] == 0:
            if _blas_state["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _blas_state["controller"] = ThreadpoolController()
            _blas_state["limit"] = _blas_state["controller"].limit(limits=1, user_api="blas")
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0 and _blas_state["limit"] is not None:
                _blas_state["limit"].restore_original_limits()
                _blas_state["limit"] = None
