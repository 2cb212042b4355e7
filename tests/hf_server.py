"""A loopback server speaking the small part of the Hugging Face Hub file API that `huggingface_hub` uses.

Routes (what `HfApi.model_info(files_metadata=True)` and `http_get` on a `hf_hub_url` call):
- `GET /api/models/<owner>/<name>/revision/<commit>?blobs=true` -> JSON `{id, sha, siblings: [{rfilename,
  size, blobId, lfs: {sha256, size, pointerSize}}]}`; an unknown repo or commit -> 404 with
  `X-Error-Code: RepositoryNotFound` / `RevisionNotFound`.
- `HEAD|GET /<owner>/<name>/resolve/<commit>/<path>` -> the file, with `X-Repo-Commit`, `ETag` (git blob id,
  or the sha256 for LFS files, which also get `X-Linked-Etag` / `X-Linked-Size`), `Accept-Ranges` and,
  for `Range: bytes=N-`, a 206 with `Content-Range`; a file not in the repo -> 404 with
  `X-Error-Code: EntryNotFound`.

Faults for the tests: `drop_after[path] = n` cuts every response for that file after n bytes (the client
must resume with a Range request); `corrupt` serves other bytes of the same length than the listing
promises; `vanished` lists a file but answers 404 for it. Every request is recorded in `requests`.
Binds 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_FROM_BYTES = 1024  # files at least this big are listed as LFS files (sha256), like the hub's rule


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class Repo:
    revision: str
    files: dict[str, bytes]


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    drop_after: dict[str, int] = field(default_factory=dict)
    corrupt: set[str] = field(default_factory=set)
    vanished: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, repo: str, revision: str, files: dict[str, bytes]) -> None:
        self.repos[repo] = Repo(revision, dict(files))

    def add_folder(self, repo: str, revision: str, folder: Path) -> None:
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        self.add(repo, revision, files)

    def listing(self, repo_id: str) -> dict[str, object]:
        repo = self.repos[repo_id]
        siblings: list[dict[str, object]] = []
        for path, data in repo.files.items():
            entry: dict[str, object] = {"rfilename": path, "size": len(data), "blobId": git_blob_id(data)}
            if len(data) >= LFS_FROM_BYTES:
                sha = hashlib.sha256(data).hexdigest()
                entry["lfs"] = {"sha256": sha, "size": len(data), "pointerSize": 134}
            siblings.append(entry)
        return {
            "id": repo_id,
            "modelId": repo_id,
            "sha": repo.revision,
            "private": False,
            "siblings": siblings,
        }


class _Handler(http.server.BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def _error(self, status: int, code: str) -> None:
        body = json.dumps({"error": code}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self._serve()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._serve()

    def _serve(self) -> None:
        path = unquote(urlsplit(self.path).path)
        self.hub.requests.append((self.command, path, self.headers.get("Range", "")))
        parts = path.strip("/").split("/")
        if len(parts) >= 6 and parts[0] == "api" and parts[1] == "models" and parts[4] == "revision":
            return self._info("/".join(parts[2:4]), parts[5])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._file("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        return self._error(404, "RepositoryNotFound")

    def _info(self, repo_id: str, revision: str) -> None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._error(404, "RepositoryNotFound")
        if revision != repo.revision:
            return self._error(404, "RevisionNotFound")
        body = json.dumps(self.hub.listing(repo_id)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, repo_id: str, revision: str, name: str) -> None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._error(404, "RepositoryNotFound")
        if revision != repo.revision:
            return self._error(404, "RevisionNotFound")
        if name not in repo.files or name in self.hub.vanished:
            return self._error(404, "EntryNotFound")
        data = repo.files[name]
        if name in self.hub.corrupt:
            data = bytes(b ^ 0xFF for b in data)
        start = 0
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted[6:].rstrip("-").isdigit():
            start = int(wanted[6:].rstrip("-"))
        body = data[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Repo-Commit", repo.revision)
        if len(data) >= LFS_FROM_BYTES:
            sha = hashlib.sha256(repo.files[name]).hexdigest()
            self.send_header("ETag", f'"{sha}"')
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
        else:
            self.send_header("ETag", f'"{git_blob_id(repo.files[name])}"')
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = self.hub.drop_after.get(name)
        if cut is not None and len(body) > cut:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the transfer breaks off mid-file
            return
        self.wfile.write(body)


class HubServer:
    """`with HubServer(hub) as url:` serves `hub` on 127.0.0.1 until the block ends."""

    def __init__(self, hub: FakeHub) -> None:
        handler = type("Handler", (_Handler,), {"hub": hub})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
