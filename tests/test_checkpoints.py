"""Checkpoint table, model-dir resolution, locating weights, and downloading from a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import checkpoints
from core.checkpoints import Checkpoint, UnverifiedCheckpointWarning
from core.config import ENV_MODEL_DIR, Settings
from core.errors import ChecksumError, ConfigError, ModelMissingError

PAYLOAD = bytes(range(256)) * (10 * 1024)  # 2.5 MiB: several download chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _entry(url: str, *, sha256: str | None = PAYLOAD_SHA, size: int | None = len(PAYLOAD)) -> Checkpoint:
    return Checkpoint(
        name="demo",
        filename="demo.bin",
        url=url,
        sha256=sha256,
        size_bytes=size,
        licence="test only",
        description="a small file served by the test",
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Base URL of an HTTP server on 127.0.0.1 serving `demo.bin` (= PAYLOAD)."""
    served = tmp_path / "served"
    served.mkdir()
    (served / "demo.bin").write_bytes(PAYLOAD)
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "*")  # never route the loopback request through a configured proxy
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- table --------------------------------------------------------------------------------------


def test_imagebind_huge_entry() -> None:
    entry = checkpoints.get("imagebind_huge")
    assert entry.url == "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth"
    assert entry.filename == "imagebind_huge.pth"
    assert entry.sha256 is None  # Meta publishes none; verify() warns with the computed hash
    assert entry.size_bytes == 4_803_584_173
    assert "CC BY-NC-SA 4.0" in entry.licence


def test_get_accepts_a_checkpoint_and_rejects_unknown_names() -> None:
    entry = _entry("http://127.0.0.1:9/demo.bin")
    assert checkpoints.get(entry) is entry
    with pytest.raises(ConfigError, match="known checkpoints: imagebind_huge"):
        checkpoints.get("nope")


@pytest.mark.parametrize(
    "changes",
    [{"sha256": "ABC"}, {"sha256": "g" * 64}, {"size_bytes": 0}, {"filename": "../x.bin"}, {"name": ""}],
)
def test_checkpoint_fields_are_validated(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "name": "demo",
        "filename": "demo.bin",
        "url": "http://127.0.0.1:9/demo.bin",
        "sha256": PAYLOAD_SHA,
        "size_bytes": 10,
        "licence": "x",
        "description": "x",
    }
    with pytest.raises(ConfigError):
        Checkpoint(**{**fields, **changes})  # type: ignore[arg-type]


def test_human_size() -> None:
    assert checkpoints.human_size(512) == "512 B"
    assert checkpoints.human_size(2048) == "2.00 KiB"
    assert checkpoints.human_size(4_803_584_173) == "4.47 GiB"


# --- model dir ----------------------------------------------------------------------------------


def test_model_dir_explicit_beats_env_beats_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path / "from-env"))
    flag = Settings.from_env(model_dir=tmp_path / "explicit").model_dir
    assert checkpoints.model_dir(flag) == tmp_path / "explicit"
    assert checkpoints.model_dir(Settings.from_env().model_dir) == tmp_path / "from-env"
    monkeypatch.delenv(ENV_MODEL_DIR)
    default = checkpoints.model_dir(Settings.from_env().model_dir)
    assert default.parts[-2:] == ("supportbot", "models")
    assert default.is_absolute() and default != tmp_path / "models"
    if sys.platform.startswith("linux"):
        assert default == tmp_path / "xdg" / "supportbot" / "models"


def test_model_dir_relative_paths_become_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert checkpoints.model_dir(Path("weights")) == tmp_path / "weights"
    monkeypatch.setenv(ENV_MODEL_DIR, "~/w")  # read once, by Settings; the locator gets its result
    assert checkpoints.model_dir(Settings.from_env().model_dir) == Path.home() / "w"


# --- locate -------------------------------------------------------------------------------------


def test_missing_checkpoint_message_says_what_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError) as info:
        checkpoints.locate("imagebind_huge", tmp_path)
    message = str(info.value)
    for needle in (
        "imagebind_huge.pth",
        "4.47 GiB",
        "https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
        str(tmp_path / "imagebind_huge" / "imagebind_huge.pth"),
        ENV_MODEL_DIR,
        "--model-dir",
        "supportbot models download imagebind_huge",
    ):
        assert needle in message, needle


def test_locate_uses_env_dir_when_none_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    entry = _entry("http://127.0.0.1:9/demo.bin", size=None)
    (tmp_path / "demo.bin").write_bytes(b"weights")
    assert checkpoints.locate(entry, Settings.from_env().model_dir) == tmp_path / "demo.bin"


def test_locate_prefers_named_subdir_and_accepts_flat_file(tmp_path: Path) -> None:
    entry = _entry("http://127.0.0.1:9/demo.bin")
    flat = tmp_path / "demo.bin"
    flat.write_bytes(PAYLOAD)
    assert checkpoints.locate(entry, tmp_path) == flat
    nested = tmp_path / "demo" / "demo.bin"
    nested.parent.mkdir()
    nested.write_bytes(PAYLOAD)
    assert checkpoints.locate(entry, tmp_path) == nested


def test_locate_rejects_a_file_of_the_wrong_size(tmp_path: Path) -> None:
    (tmp_path / "demo.bin").write_bytes(PAYLOAD[:1000])
    with pytest.raises(ChecksumError, match="1,000 bytes"):
        checkpoints.locate(_entry("http://127.0.0.1:9/demo.bin"), tmp_path)


# --- verify -------------------------------------------------------------------------------------


def test_verify_ok_mismatch_missing_and_unpublished(tmp_path: Path) -> None:
    path = tmp_path / "demo.bin"
    path.write_bytes(PAYLOAD)
    assert checkpoints.verify(path, _entry("x")) == PAYLOAD_SHA
    with pytest.raises(ChecksumError, match="sha256"):
        checkpoints.verify(path, _entry("x", sha256="0" * 64))
    with pytest.raises(ChecksumError, match="expected 5"):
        checkpoints.verify(path, _entry("x", size=5))
    with pytest.warns(UnverifiedCheckpointWarning, match=PAYLOAD_SHA):
        assert checkpoints.verify(path, _entry("x", sha256=None)) == PAYLOAD_SHA
    with pytest.raises(ModelMissingError):
        checkpoints.verify(tmp_path / "absent.bin", _entry("x"))


# --- download -----------------------------------------------------------------------------------


def test_download_verifies_and_renames_atomically(server: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    path = checkpoints.download(_entry(f"{server}/demo.bin"), models, progress=True)
    assert path == models / "demo" / "demo.bin"
    assert path.read_bytes() == PAYLOAD
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo.bin"]  # no .partial left
    assert checkpoints.locate(_entry(f"{server}/demo.bin"), models) == path


def test_download_checksum_mismatch_deletes_partial(server: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(ChecksumError, match="sha256"):
        checkpoints.download(_entry(f"{server}/demo.bin", sha256="f" * 64), models, progress=False)
    assert list((models / "demo").iterdir()) == []
    with pytest.raises(ModelMissingError):
        checkpoints.locate(_entry(f"{server}/demo.bin"), models)


def test_download_size_mismatch_is_a_checksum_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="expected 123"):
        checkpoints.download(_entry(f"{server}/demo.bin", size=123), tmp_path, progress=False)
    assert list((tmp_path / "demo").iterdir()) == []


def test_download_without_published_hash_warns_with_computed_hash(server: str, tmp_path: Path) -> None:
    with pytest.warns(UnverifiedCheckpointWarning, match=f"could not be verified.*{PAYLOAD_SHA}"):
        path = checkpoints.download(_entry(f"{server}/demo.bin", sha256=None), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_download_http_error_is_model_missing_without_leftovers(server: str, tmp_path: Path) -> None:
    with pytest.raises(ModelMissingError, match="404"):
        checkpoints.download(_entry(f"{server}/absent.bin"), tmp_path, progress=False)
    assert list((tmp_path / "demo").iterdir()) == []


def test_download_of_present_file_verifies_without_network(tmp_path: Path) -> None:
    dest = tmp_path / "demo" / "demo.bin"
    dest.parent.mkdir()
    dest.write_bytes(PAYLOAD)
    # Port 9 on loopback has no server: reaching the network would fail the test.
    assert checkpoints.download(_entry("http://127.0.0.1:9/demo.bin"), tmp_path, progress=False) == dest
    dest.write_bytes(PAYLOAD[:-1] + b"\x00")
    with pytest.raises(ChecksumError):
        checkpoints.download(_entry("http://127.0.0.1:9/demo.bin"), tmp_path, progress=False)
