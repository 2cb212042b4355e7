"""Finding the files of a knowledge-base folder and typing them by extension.

`discover(kb_root)` walks the folder and returns one `KBFile` per file, sorted by `doc_id`:

* hidden files and folders (name starting with '.') are skipped;
* an image or audio file `NAME.ext` with a `NAME.md` beside it gets that file as its `sidecar`
  (its caption and front-matter); the sidecar is then not listed as a document of its own;
* symlinks are never followed out of the folder: a symlink (file or folder) whose target lies
  outside `kb_root`, or a broken one, is listed with kind "unknown" and a `reason`, so the caller
  can report it; a symlinked folder whose target lies inside `kb_root` is skipped silently (its
  files are found through the real folder);
* files with any other extension are listed with kind "unknown" and a `reason`.

Image and audio extensions are the ones `retrieval.media` can decode.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import InputError
from retrieval.media import AUDIO_EXTENSIONS, IMAGE_EXTENSIONS

FileKind = Literal["document", "table", "image", "audio", "unknown"]

DOCUMENT_EXTENSIONS: frozenset[str] = frozenset({".md", ".markdown", ".txt", ".html", ".htm", ".pdf"})
TABLE_EXTENSIONS: frozenset[str] = frozenset({".csv"})
SIDECAR_EXTENSION = ".md"


@dataclass(frozen=True)
class KBFile:
    """One file of the knowledge base.

    `path` is absolute; `doc_id` is the path relative to the KB root in POSIX form (NFC-normalised,
    so ids match across file systems); `reason` says why a file is "unknown".
    """

    path: Path
    doc_id: str
    kind: FileKind
    sidecar: Path | None = None
    reason: str = ""

    @property
    def extension(self) -> str:
        return self.path.suffix.lower()


def kind_of(path: Path) -> FileKind:
    """The kind a file has by its extension alone (case-insensitive)."""
    ext = path.suffix.lower()
    if ext in DOCUMENT_EXTENSIONS:
        return "document"
    if ext in TABLE_EXTENSIONS:
        return "table"
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    return "unknown"


def supported_extensions() -> list[str]:
    return sorted(DOCUMENT_EXTENSIONS | TABLE_EXTENSIONS | IMAGE_EXTENSIONS | AUDIO_EXTENSIONS)


def _doc_id(root: Path, path: Path) -> str:
    return unicodedata.normalize("NFC", path.relative_to(root).as_posix())


def _inside(root: Path, target: Path) -> bool:
    return target == root or root in target.parents


def _target(link: Path) -> Path | None:
    """Where a symlink finally points, or None when it is broken or loops."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return target


def _symlink_problem(root: Path, link: Path, what: str) -> str | None:
    """Why the symlink `link` is not followed ("broken or looping", or leading outside `root`), or None."""
    target = _target(link)
    if target is None:
        return "broken or looping symlink"
    if not _inside(root, target):
        return f"{what} pointing outside the knowledge base (not followed)"
    return None


def _unknown(root: Path, path: Path, reason: str) -> KBFile:
    return KBFile(path, _doc_id(root, path), "unknown", reason=reason)


def _walk(root: Path) -> tuple[list[Path], list[KBFile]]:
    """Every regular file under `root` (hidden ones and symlinked folders skipped), and the paths
    that cannot be used (broken or outside symlinks, fifos, sockets) as "unknown" files."""
    found: list[Path] = []
    unusable: list[KBFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        kept_dirs = []
        for name in dirnames:
            if name.startswith("."):
                continue
            sub = here / name
            if sub.is_symlink():
                # os.walk does not descend into symlinked folders; report broken ones and outside ones.
                problem = _symlink_problem(root, sub, "symlinked folder")
                if problem:
                    unusable.append(_unknown(root, sub, problem))
                continue
            kept_dirs.append(name)
        dirnames[:] = sorted(kept_dirs)
        for name in filenames:
            if name.startswith("."):
                continue
            path = here / name
            if path.is_symlink():
                problem = _symlink_problem(root, path, "symlink")
                if problem:
                    unusable.append(_unknown(root, path, problem))
                    continue
            if not path.is_file():
                unusable.append(_unknown(root, path, "not a regular file (fifo, socket...)"))
                continue
            found.append(path)
    return found, unusable


def _media_sidecars(found: list[Path]) -> dict[Path, Path]:
    """Each image or audio file's NAME.md caption (same folder, same stem), where it has one."""
    sidecars: dict[Path, Path] = {}
    for path in found:
        if path.suffix.lower() == SIDECAR_EXTENSION:
            sidecars[path.with_suffix("")] = path
    media_sidecar: dict[Path, Path] = {}
    for path in found:
        if kind_of(path) in ("image", "audio"):
            sidecar = sidecars.get(path.with_suffix(""))
            if sidecar is not None:
                media_sidecar[path] = sidecar
    return media_sidecar


def discover(kb_root: Path) -> list[KBFile]:
    """All files under `kb_root`, typed and sorted by doc_id. Raises InputError if it is not a folder."""
    root = Path(kb_root).expanduser()
    if not root.exists():
        raise InputError(f"knowledge-base folder {str(root)!r} does not exist; check the path")
    if not root.is_dir():
        raise InputError(f"knowledge-base path {str(root)!r} is a file, not a folder; give the folder")
    root = root.resolve()
    found, unusable = _walk(root)
    media_sidecar = _media_sidecars(found)
    used_sidecars = set(media_sidecar.values())
    files = list(unusable)
    supported = ", ".join(supported_extensions())
    for path in found:
        if path in used_sidecars:
            continue
        kind = kind_of(path)
        reason = ""
        if kind == "unknown":
            ext = path.suffix or "(no extension)"
            reason = f"unsupported file type {ext}; supported: {supported}"
        files.append(KBFile(path, _doc_id(root, path), kind, media_sidecar.get(path), reason))
    files.sort(key=lambda f: f.doc_id)
    return files
