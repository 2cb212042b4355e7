"""The ingestion manifest (`<data_dir>/manifest.json`): what was ingested from which file, by content hash.

It makes ingestion incremental: a file whose hash (file bytes + sidecar bytes) and embedder
signature are unchanged is skipped; a file that vanished from the KB has its doc_ids removed.
Written atomically (temp file + rename) so a crash never leaves a half-written manifest.

Beside it, `manifest.json.journal` lists, one JSON line each, the files written to the store since
the manifest was last saved, with the chunk ids written. A run killed between two saves leaves it
behind, so the next run can take those writes back (`interrupted`) and redo the files from a known
state; every save empties it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import InputError

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class FileEntry:
    """One ingested KB file: its content hash, the doc_ids it produced, and how it was embedded.

    `chunk_ids` are the store primary keys of its chunks (empty in manifests written before they
    were kept: those files are then replaced by doc_id)."""

    sha256: str
    doc_ids: tuple[str, ...]
    chunks: int
    embedder: str | None
    chunk_ids: tuple[str, ...] = ()


def content_hash(path: Path, sidecar: Path | None = None) -> str:
    """sha256 over the file's bytes and, if present, its sidecar caption's bytes."""
    digest = hashlib.sha256()
    for part in (path, sidecar):
        if part is None:
            continue
        digest.update(part.name.encode("utf-8") + b"\0")
        with part.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class Manifest:
    """Mutable map of KB-relative file path -> FileEntry, loaded from and saved to one JSON file."""

    def __init__(self, path: Path, entries: dict[str, FileEntry] | None = None) -> None:
        self.path = path
        self.entries: dict[str, FileEntry] = dict(entries or {})

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + ".journal")

    def note_writing(self, rel: str, chunk_ids: tuple[str, ...]) -> None:
        """Records, before the store sees them, which chunks a file is about to write (flushed at once:
        it must outlive a kill)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.journal_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"file": rel, "chunk_ids": list(chunk_ids)}, ensure_ascii=False) + "\n")
            handle.flush()

    def interrupted(self) -> dict[str, tuple[str, ...]]:
        """file -> every chunk id written for it after the last save (empty when the last run ended
        cleanly). A torn last line (killed mid-write) is ignored: its store write never started."""
        if not self.journal_path.exists():
            return {}
        written: dict[str, set[str]] = {}
        for line in self.journal_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                item = json.loads(line)
                rel, ids = str(item["file"]), [str(i) for i in item["chunk_ids"]]
            except (ValueError, KeyError, TypeError):
                continue
            written.setdefault(rel, set()).update(ids)
        return {rel: tuple(sorted(ids)) for rel, ids in written.items()}

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            return cls(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            files = raw["files"]
            entries = {
                rel: FileEntry(
                    sha256=str(e["sha256"]),
                    doc_ids=tuple(e["doc_ids"]),
                    chunks=int(e["chunks"]),
                    embedder=e.get("embedder"),
                    chunk_ids=tuple(e.get("chunk_ids") or ()),
                )
                for rel, e in files.items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"ingestion manifest {path} is unreadable ({exc}); delete it and the data dir's milvus.db "
                "to re-ingest from scratch"
            ) from exc
        return cls(path, entries)

    def fingerprint(self) -> str:
        """One hash of every ingested file's path and content hash: what the KB was at a moment."""
        digest = hashlib.sha256()
        for rel, entry in sorted(self.entries.items()):
            digest.update(f"{rel}\0{entry.sha256}\n".encode())
        return digest.hexdigest()[:16]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": MANIFEST_VERSION,
            "files": {rel: asdict(entry) for rel, entry in sorted(self.entries.items())},
        }
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=1, ensure_ascii=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.journal_path.unlink(missing_ok=True)  # everything written so far is now listed
