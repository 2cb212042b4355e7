"""Turning one knowledge-base file into `Chunk`s, by its kind; every bad file is an `InputError`.

`load_chunks` returns a `LoadResult`: the chunks plus warnings (e.g. skipped CSV rows; warnings do
not repeat the file name). Per kind:

* document: .md/.markdown/.txt (front-matter, then chunked by headings and paragraphs), .html/.htm
  (visible text), .pdf (text layer); doc_id is the relative path, chunk_id 0..n-1;
* table: .csv, one chunk per question/answer row, doc_id "<path>#row-N";
* image/audio: one chunk carrying the caption and the absolute `media_path` (not decoded here).

Every chunk's metadata has title, product, entities, tags, heading_path and kind; `source` is the
file's relative POSIX path.
"""

from __future__ import annotations

from core.config import Limits
from core.errors import InputError
from retrieval.documents.media_items import load_media
from retrieval.documents.reading import ChunkOptions, LoadResult
from retrieval.documents.tables import load_csv
from retrieval.documents.text import (
    HTML_EXTENSIONS,
    MARKDOWN_EXTENSIONS,
    PDF_EXTENSIONS,
    load_html,
    load_markdown,
    load_pdf,
)
from retrieval.documents.walk import KBFile, supported_extensions

__all__ = ["ChunkOptions", "LoadResult", "load_chunks"]


def load_chunks(kb_file: KBFile, limits: Limits, options: ChunkOptions | None = None) -> LoadResult:
    """The chunks of one file and any warnings; raises InputError saying what is wrong with the file."""
    options = options or ChunkOptions()
    ext = kb_file.extension
    if kb_file.kind == "unknown":
        reason = kb_file.reason or (
            f"unsupported file type {ext or '(no extension)'}; supported: {', '.join(supported_extensions())}"
        )
        raise InputError(f"{kb_file.doc_id}: {reason}")
    if kb_file.kind in ("image", "audio"):
        return load_media(kb_file, limits)
    if kb_file.kind == "table":
        return load_csv(kb_file, limits)
    if ext in MARKDOWN_EXTENSIONS:
        return load_markdown(kb_file, limits, options)
    if ext in HTML_EXTENSIONS:
        return load_html(kb_file, limits, options)
    if ext in PDF_EXTENSIONS:
        return load_pdf(kb_file, limits, options)
    raise InputError(
        f"{kb_file.doc_id}: no loader for a {kb_file.kind} with extension {ext or '(none)'}; "
        f"supported: {', '.join(supported_extensions())}"
    )
