"""Model weights on disk: the table of known checkpoints, where they live, and the one download path.

Weights are never fetched implicitly. `locate()` only looks at the disk (through the model locator,
`core.models`) and, when the file is absent, raises a `ModelMissingError` that says exactly what to
download, from where and to which path. `download()` (run by `supportbot models download <name>`) is the only
function in the project that opens a network connection for weights: it streams to a `.partial` file,
checks size and sha256, and renames atomically so a half-written file is never mistaken for weights.

Layout: a checkpoint lives at `<model_dir>/<name>/<filename>`; a file dropped directly at
`<model_dir>/<filename>` is accepted too. `model_dir` is `Settings.model_dir` (--model-dir >
$SUPPORTBOT_MODEL_DIR, resolved once by `Settings`) or the per-user cache dir, never the working dir.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from core.errors import ChecksumError, ConfigError
from core.models import ModelLocator, fail, where_to_keep

CHUNK_BYTES = 1024 * 1024
DOWNLOAD_TIMEOUT_S = 60.0


class UnverifiedCheckpointWarning(UserWarning):
    """A checkpoint was accepted without a sha256 check because none is published for it."""


@dataclass(frozen=True)
class Checkpoint:
    """One downloadable weights file. `sha256`/`size_bytes` None mean "not published"."""

    name: str
    filename: str
    url: str
    sha256: str | None
    size_bytes: int | None
    licence: str
    description: str

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ConfigError(f"checkpoint name {self.name!r} must be a plain, non-empty name")
        if not self.filename or Path(self.filename).name != self.filename:
            raise ConfigError(f"checkpoint filename {self.filename!r} must be a bare file name")
        if self.sha256 is not None and (
            len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)
        ):
            raise ConfigError(f"checkpoint {self.name}: sha256 must be 64 lowercase hex digits")
        if self.size_bytes is not None and self.size_bytes <= 0:
            raise ConfigError(f"checkpoint {self.name}: size_bytes must be positive")


# Meta publishes no checksum for imagebind_huge.pth, so sha256 is None (see verify()). The size is the
# one pinned, identically, by independent projects that download this URL.
CHECKPOINTS: Mapping[str, Checkpoint] = MappingProxyType(
    {
        "imagebind_huge": Checkpoint(
            name="imagebind_huge",
            filename="imagebind_huge.pth",
            url="https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
            sha256=None,
            size_bytes=4_803_584_173,
            licence="CC BY-NC-SA 4.0 (Meta ImageBind; non-commercial use only)",
            description="ImageBind huge: one 1024-d space for text, images and audio (and 3 more modalities)",
        ),
    }
)


def human_size(n_bytes: int) -> str:
    """`4803584173` -> `4.47 GiB`."""
    size = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def get(checkpoint: str | Checkpoint) -> Checkpoint:
    """The table entry for a name, or the given `Checkpoint` itself."""
    if isinstance(checkpoint, Checkpoint):
        return checkpoint
    try:
        return CHECKPOINTS[checkpoint]
    except KeyError:
        known = ", ".join(sorted(CHECKPOINTS))
        raise ConfigError(f"unknown checkpoint {checkpoint!r}; known checkpoints: {known}") from None


def model_dir(explicit: Path | None = None) -> Path:
    """Where weights live: `explicit` (Settings.model_dir, from --model-dir or the env) or the user cache."""
    return ModelLocator.of(explicit).root


def destination(checkpoint: str | Checkpoint, directory: Path | None = None) -> Path:
    """Where `download()` puts a checkpoint: `<model_dir>/<name>/<filename>`."""
    entry = get(checkpoint)
    return model_dir(directory) / entry.name / entry.filename


def _candidates(entry: Checkpoint, directory: Path) -> tuple[Path, Path]:
    return (directory / entry.name / entry.filename, directory / entry.filename)


def how_to_get(entry: Checkpoint, directory: Path) -> str:
    """What to run (or fetch by hand) to put `entry` on this machine."""
    size = f"{human_size(entry.size_bytes)}, " if entry.size_bytes else ""
    dest = directory / entry.name / entry.filename
    return (
        f"It is {entry.filename} ({size}licence {entry.licence}). Run `supportbot models download "
        f"{entry.name}`, or download {entry.url} yourself and save it as {dest} (or "
        f"{directory / entry.filename}), or `supportbot models import {entry.name} PATH`; {where_to_keep()}"
    )


def locate(checkpoint: str | Checkpoint, directory: Path | None = None, *, role: str = "cross-modal") -> Path:
    """The path of a checkpoint already on disk; `ModelMissingError` saying how to get it otherwise.

    Only the size is checked here (cheap); the full sha256 check runs in `download()`/`verify()`.
    """
    entry = get(checkpoint)
    locator = ModelLocator.of(directory)
    return locator.file(
        role,
        entry.name,
        _candidates(entry, locator.root),
        how_to_get(entry, locator.root),
        size_bytes=entry.size_bytes,
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _check_size(entry: Checkpoint, path: Path, size: int) -> None:
    if entry.size_bytes is not None and size != entry.size_bytes:
        raise ChecksumError(
            f"{path.name}: got {size:,} bytes, expected {entry.size_bytes:,} for {entry.name}; "
            f"download again with `supportbot models download {entry.name}`"
        )


def _check_hash(entry: Checkpoint, path: Path, computed: str) -> None:
    """Raise `ChecksumError` on a sha256 mismatch; warn with the hash when none is published."""
    if entry.sha256 is None:
        warnings.warn(
            f"{path.name} could not be verified: no sha256 is published for {entry.name}. "
            f"Its sha256 is {computed}; compare it with a copy you trust.",
            UnverifiedCheckpointWarning,
            stacklevel=3,
        )
    elif computed != entry.sha256:
        raise ChecksumError(
            f"{path.name}: sha256 is {computed}, expected {entry.sha256} for {entry.name}; the file is "
            f"corrupt or not the published one. Delete it and run `supportbot models download {entry.name}`."
        )


def verify(path: Path, checkpoint: str | Checkpoint) -> str:
    """Check a file against the table (size, sha256); returns the computed sha256."""
    entry = get(checkpoint)
    path = Path(path)
    if not path.is_file():
        fail("checkpoint", entry.name, f"{path} does not exist", how_to_get(entry, path.parent))
    _check_size(entry, path, path.stat().st_size)
    computed = sha256_of(path)
    _check_hash(entry, path, computed)
    return computed


def download(checkpoint: str | Checkpoint, directory: Path | None = None, *, progress: bool = True) -> Path:
    """Fetch a checkpoint into the model dir (the only network access for weights); returns its path.

    A file already at the destination is verified instead of fetched again.
    """
    from tqdm import tqdm

    entry = get(checkpoint)
    dest = destination(entry, directory)
    if dest.is_file():
        verify(dest, entry)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    written = 0
    try:
        request = urllib.request.Request(entry.url, headers={"User-Agent": "supportbot"})
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else entry.size_bytes
            with (
                partial.open("wb") as out,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=entry.filename,
                    disable=not progress,
                ) as bar,
            ):
                while block := response.read(CHUNK_BYTES):
                    out.write(block)
                    digest.update(block)
                    written += len(block)
                    bar.update(len(block))
        _check_size(entry, dest, written)
        _check_hash(entry, dest, digest.hexdigest())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        partial.unlink(missing_ok=True)
        fail(
            "checkpoint",
            entry.name,
            f"could not download {entry.url} ({exc})",
            f"check the network or proxy, or fetch the file another way and save it as {dest}",
            cause=exc,
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, dest)
    return dest
