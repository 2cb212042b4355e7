"""Loaders for prose documents: markdown and plain text, HTML, and PDF (text layer via pypdf)."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from core.config import Limits
from core.errors import InputError
from core.types import Chunk
from retrieval.documents.chunking import Block, Section, chunk_blocks, markdown_blocks
from retrieval.documents.frontmatter import FrontMatter, parse_front_matter, split_front_matter
from retrieval.documents.html_text import html_blocks
from retrieval.documents.reading import (
    ChunkOptions,
    LoadResult,
    check_chars,
    decode_text,
    metadata,
    name_caption,
    read_bytes,
)
from retrieval.documents.walk import KBFile

MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".txt"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
PDF_EXTENSIONS = frozenset({".pdf"})

_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_PDF_JUNK = re.compile(r"[^\S\n]*[\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\S\n]*")


def _chunks(
    kb_file: KBFile,
    title: str,
    front: FrontMatter,
    blocks: list[Block],
    options: ChunkOptions,
    **extra: object,
) -> LoadResult:
    sections: list[Section] = chunk_blocks(
        title, blocks, max_chars=options.max_chars, overlap=options.overlap
    )
    if not sections:
        raise InputError(f"{kb_file.doc_id}: document has no text; add content or remove the file")
    chunks = tuple(
        Chunk(
            doc_id=kb_file.doc_id,
            chunk_id=number,
            modality="text",
            text=section.text,
            dense_text=section.dense_text,
            source=kb_file.doc_id,
            title=title,
            metadata=metadata(
                front, title=title, kind="document", heading_path=section.heading_path, **extra
            ),
        )
        for number, section in enumerate(sections)
    )
    return LoadResult(chunks)


def load_markdown(kb_file: KBFile, limits: Limits, options: ChunkOptions) -> LoadResult:
    """Markdown or plain text: front-matter, then headings and paragraphs."""
    text = decode_text(read_bytes(kb_file, limits), kb_file.doc_id)
    check_chars(len(text), kb_file.doc_id, limits)
    data, body = split_front_matter(text, source=kb_file.doc_id)
    front = parse_front_matter(data, source=kb_file.doc_id)
    blocks = markdown_blocks(body)
    if not blocks:
        raise InputError(f"{kb_file.doc_id}: document has no text (after any front-matter); add content")
    first_h1 = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    title = front.title or first_h1 or name_caption(kb_file)
    return _chunks(kb_file, title, front, blocks, options)


def load_html(kb_file: KBFile, limits: Limits, options: ChunkOptions) -> LoadResult:
    """HTML: visible text (no script/style/nav/head), h1-h6 as headings."""
    html = decode_text(read_bytes(kb_file, limits), kb_file.doc_id)
    check_chars(len(html), kb_file.doc_id, limits)
    page_title, blocks = html_blocks(html)
    if not blocks:
        raise InputError(f"{kb_file.doc_id}: HTML page has no visible text; add content or remove the file")
    title = page_title or name_caption(kb_file)
    return _chunks(kb_file, title, FrontMatter(), blocks, options)


def _pdf_reader(data: bytes, label: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{label}: PDF is password-protected; save an unprotected copy")
        len(reader.pages)  # forces the page tree to be read
    except InputError:
        raise
    except Exception as exc:  # pypdf raises many types (PdfReadError, ValueError, KeyError, ...)
        raise InputError(
            f"{label}: PDF cannot be read ({type(exc).__name__}: {exc}); re-export or repair the file"
        ) from exc
    return reader


def load_pdf(kb_file: KBFile, limits: Limits, options: ChunkOptions) -> LoadResult:
    """PDF: the text layer of each page; scanned PDFs (no text layer) are rejected."""
    data = read_bytes(kb_file, limits)
    label = kb_file.doc_id
    reader = _pdf_reader(data, label)
    pages = reader.pages
    blocks: list[Block] = []
    total = 0
    for number, page in enumerate(pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # a damaged content stream on one page
            raise InputError(
                f"{label}: text of PDF page {number} cannot be extracted ({type(exc).__name__}: {exc}); "
                "re-export the file"
            ) from exc
        text = _PDF_JUNK.sub(" ", raw.replace("\r\n", "\n").replace("\r", "\n"))
        total += len(text)
        check_chars(total, label, limits)
        for paragraph in _BLANK_LINES.split(text):
            lines = [" ".join(line.split()) for line in paragraph.split("\n")]
            joined = "\n".join(line for line in lines if line)
            if joined:
                blocks.append(Block("paragraph", joined))
    if not blocks:
        raise InputError(
            f"{label}: PDF has no text layer (a scan or images only); run OCR on it "
            "(e.g. `ocrmypdf in.pdf out.pdf`) and add the result"
        )
    title = ""
    try:
        meta = reader.metadata
        if meta is not None and meta.title:
            title = " ".join(str(meta.title).split())
    except Exception:  # broken info dictionary: fall back to the file name
        title = ""
    title = title or name_caption(kb_file)
    return _chunks(kb_file, title, FrontMatter(), blocks, options, pages=len(pages))
