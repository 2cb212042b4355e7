"""Serving knowledge-base files to the public chat, safely: `KBFiles` and the `/kb/<doc_id>` route.

Only files that were ingested are served, looked up by doc_id in the ingestion manifest (never by
a path the client sends), so hidden files, drafts and anything else in the KB folder stay private.
Images and sounds are served inline; plain text (Markdown, CSV, txt) as `text/plain`; active or
unknown types (HTML, SVG, PDF, ...) only as downloads. Every response carries `nosniff` and a
sandboxing Content-Security-Policy, so nothing served here can run script on the app's origin.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response

from core.links import KB_ROUTE, MEDIA_TYPES
from retrieval.manifest import Manifest

INLINE_TYPES = {
    **MEDIA_TYPES,
    ".md": "text/plain; charset=utf-8",
    ".markdown": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".csv": "text/plain; charset=utf-8",
}
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, max-age=300",
}
NOT_FOUND = "No such document in the knowledge base."


class KBFiles:
    """doc_id -> file of an ingested KB. The manifest is re-read when it changes (a new ingest)."""

    def __init__(self, kb_dir: Path, manifest_path: Path) -> None:
        self.kb_dir = kb_dir.resolve()
        self.manifest_path = manifest_path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._files: frozenset[str] = frozenset()

    def _ingested(self) -> frozenset[str]:
        try:
            stat = self.manifest_path.stat()
        except OSError:
            return frozenset()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._files = frozenset(Manifest.load(self.manifest_path).entries)
                except Exception:  # noqa: BLE001 - an unreadable manifest serves nothing
                    self._files = frozenset()
                self._stamp = stamp
            return self._files

    def lookup(self, doc_id: str) -> Path | None:
        """The ingested file behind a doc_id ("manuals/x.md", "faq.csv#row-3"), else None."""
        relative = doc_id.split("#", 1)[0]
        if not relative or relative not in self._ingested():
            return None
        candidate = (self.kb_dir / relative).resolve()
        if not candidate.is_relative_to(self.kb_dir) or not candidate.is_file():
            return None
        return candidate


def kb_response(kb: KBFiles, doc_id: str) -> Response:
    """One KB file for the browser, or 404 with a customer-worded reason."""
    path = kb.lookup(doc_id)
    if path is None:
        return PlainTextResponse(NOT_FOUND, status_code=404, headers=SAFE_HEADERS)
    media_type = INLINE_TYPES.get(path.suffix.lower())
    if media_type is not None:
        return FileResponse(
            path, media_type=media_type, headers=SAFE_HEADERS, content_disposition_type="inline"
        )
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=path.name,
        headers=SAFE_HEADERS,
        content_disposition_type="attachment",
    )


def add_kb_route(app: FastAPI, kb: KBFiles | None) -> None:
    """`GET /kb/<doc_id>` on `app` (before the chat is mounted at `/`, which would shadow it)."""

    def serve_kb_file(doc_id: str) -> Response:
        if kb is None:
            return PlainTextResponse(NOT_FOUND, status_code=404, headers=SAFE_HEADERS)
        return kb_response(kb, doc_id)

    app.add_api_route(
        f"/{KB_ROUTE}/{{doc_id:path}}", serve_kb_file, methods=["GET", "HEAD"], include_in_schema=False
    )
