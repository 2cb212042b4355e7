"""Milvus Lite process handling for `MilvusStore`: the data dir, its one-process lock, its server.

milvus-lite 3.2.2 serves a `.db` data directory (a directory, despite the name) from an in-process
gRPC server that pymilvus starts on first use, one per path, and it holds an exclusive `flock` on
`<dir>/LOCK` while open, so only one process can use a dir. This module probes that lock to give a
clear "in use" error and counts this process's open stores per dir so the server (and the lock) is
released when the last one closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from core.errors import StoreError

LOCK_FILE = "LOCK"

# Mirrors milvus-lite's own process-wide server registry: open MilvusStores per absolute dir.
_users: dict[str, int] = {}
_users_lock = threading.Lock()


def is_lite_uri(uri: str) -> bool:
    """A Milvus Lite data directory (local path ending in .db), not an http(s)/tcp server URI."""
    return not uri.startswith(("http://", "https://", "tcp://", "unix:")) and uri.endswith(".db")


def in_use_error(uri: str) -> StoreError:
    return StoreError(
        f"data dir {Path(uri).parent} is in use by another supportbot process (Milvus Lite allows one "
        f"process per {uri}); stop it or use another --data-dir"
    )


def prepare(uri: str) -> None:
    """Create the parent dir; raise the "in use" StoreError when another process holds the dir."""
    # milvus-lite's in-process gRPC server does not implement AllocTimestamp, which pymilvus calls and
    # then handles; grpc's server logger would still print a scary traceback for each call.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    path = Path(uri)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the data dir {path.parent}: {exc}; pick a writable --data-dir"
        ) from exc
    # A dir this process already serves is reused; otherwise check no other process holds it, so
    # the user gets this message instead of a milvus-lite traceback.
    with _users_lock:
        served_here = os.path.abspath(uri) in _users
    if not served_here and dir_locked(uri):
        raise in_use_error(uri)


def dir_locked(uri: str) -> bool:
    """Whether some process holds milvus-lite's flock on `<uri>/LOCK` (probe, then release)."""
    try:
        import fcntl
    except ImportError:  # Windows: milvus-lite's own error is reported instead
        return False
    lock = Path(uri) / LOCK_FILE
    if not lock.exists():
        return False
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def acquire(uri: str) -> None:
    """Record one more open store on `uri` (call after connecting succeeded)."""
    key = os.path.abspath(uri)
    with _users_lock:
        _users[key] = _users.get(key, 0) + 1


def release(uri: str) -> None:
    """Record one store fewer on `uri`; the last one stops the server and frees the dir's lock."""
    from milvus_lite.server_manager import server_manager_instance

    key = os.path.abspath(uri)
    with _users_lock:
        _users[key] = _users.get(key, 1) - 1
        if _users[key] <= 0:
            del _users[key]
            with contextlib.suppress(Exception):
                server_manager_instance.release_server(uri)
