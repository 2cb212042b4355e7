"""Downloads of Hugging Face models at a pinned commit, through `huggingface_hub` (the only hub access).

For a catalogue entry with `source="hub"`:
1. `HfApi.model_info(repo, revision=<pinned commit>, files_metadata=True)` lists the repo's files with
   their sizes and hashes (sha256 for LFS files, the git blob id for small ones);
2. only the files the entry's patterns allow are kept (safetensors / CTranslate2 weights, configs,
   tokenizers), and every required file must be among them;
3. each file is fetched by `huggingface_hub.file_download.http_get` from its `resolve/<commit>` URL into
   `<file>.partial` next to its destination, with a progress bar; an interrupted transfer is resumed
   with a Range request (by huggingface_hub within one run, and from the `.partial` left on disk by
   the next run);
4. size and hash are checked; a mismatch deletes the partial file and raises `ChecksumError`;
5. the file is renamed into place and a `.supportbot-model.json` records repo, commit and hashes.

`endpoint` defaults to huggingface.co; `Settings.hf_endpoint` (from $HF_ENDPOINT) points it at a
mirror, or at the loopback test server of the test suite.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.catalogue import ModelSpec
from core.checkpoints import sha256_of
from core.errors import ChecksumError, ConfigError
from core.models import ModelLocator, fail

MANIFEST = ".supportbot-model.json"
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RemoteFile:
    """One file of a repo at the pinned commit: its size and the hash to check it against."""

    path: str
    size: int
    sha256: str | None
    blob_id: str | None


def _fix(spec: ModelSpec, dest: Path) -> str:
    return (
        f"Check the network (or HF_ENDPOINT for a mirror) and run `supportbot models download {spec.name}` "
        f"again (it resumes), or fetch https://huggingface.co/{spec.repo}/tree/{spec.revision} on another "
        f"machine and run `supportbot models import {spec.name} PATH`; it belongs in {dest}"
    )


def _allowed(spec: ModelSpec, path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in spec.patterns)


def remote_files(
    spec: ModelSpec, *, endpoint: str | None = None, dest: Path | None = None
) -> list[RemoteFile]:
    """The files of `spec` to fetch at its pinned commit, with sizes and hashes (one API call)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    where = dest or Path(spec.name)
    try:
        info = HfApi(endpoint=endpoint).model_info(spec.repo, revision=spec.revision, files_metadata=True)
    except (HfHubHTTPError, OSError) as exc:
        fail(
            spec.role,
            spec.name,
            f"could not list {spec.repo} at {spec.revision[:12]} ({exc})",
            _fix(spec, where),
        )
    found: list[RemoteFile] = []
    for sibling in info.siblings or []:
        if not _allowed(spec, sibling.rfilename) or sibling.size is None:
            continue
        sha256 = sibling.lfs.sha256 if sibling.lfs is not None else None
        found.append(RemoteFile(sibling.rfilename, int(sibling.size), sha256, sibling.blob_id))
    names = {f.path for f in found}
    missing = [" or ".join(group) for group in spec.required if not names.intersection(group)]
    if missing:
        fail(
            spec.role,
            spec.name,
            f"{spec.repo} at {spec.revision[:12]} has no {', '.join(missing)}",
            "The pinned revision does not hold a usable model; report this, or import a copy you trust with "
            f"`supportbot models import {spec.name} PATH`",
        )
    return found


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file's content (what the hub states for files not stored in LFS)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check(path: Path, remote: RemoteFile, model: str) -> None:
    """Size, then sha256 (LFS) or git blob id; `ChecksumError` naming both values on a mismatch."""
    size = path.stat().st_size
    if size != remote.size:
        raise ChecksumError(
            f"{model}: {remote.path} is {size:,} bytes but the hub states {remote.size:,}; the transfer was "
            f"cut or altered. Run `supportbot models download {model}` again."
        )
    if remote.sha256 is not None:
        actual, expected, kind = sha256_of(path), remote.sha256, "sha256"
    elif remote.blob_id is not None:
        actual, expected, kind = git_blob_sha1(path), remote.blob_id, "git blob id"
    else:
        return
    if actual != expected:
        raise ChecksumError(
            f"{model}: {remote.path} has {kind} {actual}, expected {expected} (the pinned commit's); the "
            f"file is corrupt or not the published one. Run `supportbot models download {model}` again."
        )


def _quiet_tqdm() -> Any:
    from tqdm.auto import tqdm

    class Quiet(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return Quiet


def fetch_file(
    spec: ModelSpec, remote: RemoteFile, dest: Path, *, endpoint: str | None, progress: bool
) -> Path:
    """One file into `dest`, resumed from `<file>.partial` when one is there, then checked and renamed."""
    import httpx2
    from huggingface_hub import hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    target = dest / remote.path
    if target.is_file():
        check(target, remote, spec.name)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    if partial.is_file() and partial.stat().st_size > remote.size:
        partial.unlink()  # longer than the file can be: not a prefix of it
    url = hf_hub_url(spec.repo, remote.path, revision=spec.revision, endpoint=endpoint)
    try:
        with partial.open("ab") as out:
            http_get(
                url,
                out,
                resume_size=out.tell(),
                headers=build_hf_headers(library_name="supportbot"),
                expected_size=remote.size,
                displayed_filename=remote.path,
                tqdm_class=None if progress else _quiet_tqdm(),
            )
    except (HfHubHTTPError, httpx2.HTTPError, OSError) as exc:
        # What arrived stays in .partial, so the next run resumes; a refused file keeps nothing.
        if isinstance(exc, HfHubHTTPError):
            partial.unlink(missing_ok=True)
        fail(
            spec.role,
            spec.name,
            f"could not download {remote.path} from {url} ({exc})",
            _fix(spec, dest),
            cause=exc,
        )
    try:
        check(partial, remote, spec.name)
    except ChecksumError:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return target


def download(
    spec: ModelSpec, locator: ModelLocator, *, endpoint: str | None = None, progress: bool = True
) -> Path:
    """Fetch a hub model into `<model_dir>/<folder>` (see the module doc); returns the folder."""
    if spec.source != "hub":
        raise ConfigError(f"{spec.name} is not a Hugging Face model (source: {spec.source})")
    dest = locator.path(*spec.folder)
    files = remote_files(spec, endpoint=endpoint, dest=dest)
    dest.mkdir(parents=True, exist_ok=True)
    for remote in files:
        fetch_file(spec, remote, dest, endpoint=endpoint, progress=progress)
    record = {
        "name": spec.name,
        "repo": spec.repo,
        "revision": spec.revision,
        "files": {f.path: {"size": f.size, "sha256": f.sha256, "blob_id": f.blob_id} for f in files},
    }
    (dest / MANIFEST).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return dest
