"""Loader for image and audio items: one chunk whose text is the caption; the media is not decoded here.

The caption is the body of the item's sidecar `NAME.md` (whose front-matter gives title, product,
entities and tags); without a sidecar, or with an empty body, it is the front-matter title or one
made from the file name ("e42_mesh_link.png" -> "e42 mesh link"). The chunk's `text` is the title
followed by the caption (just the caption when it already contains the title). The ingestion
step decodes the file itself (with `retrieval.media`) when it embeds it; here only its size is
checked.
"""

from __future__ import annotations

from core.config import Limits
from core.errors import InputError
from core.types import Chunk, Modality
from retrieval.documents.chunking import DEFAULT_DENSE_CHARS, cap_words, dense_text_for
from retrieval.documents.frontmatter import FrontMatter, parse_front_matter, split_front_matter
from retrieval.documents.reading import (
    LoadResult,
    check_chars,
    check_size,
    decode_text,
    metadata,
    name_caption,
    read_path_bytes,
)
from retrieval.documents.walk import KBFile


def _sidecar(kb_file: KBFile, limits: Limits) -> tuple[FrontMatter, str]:
    """(front-matter, caption body) of the item's sidecar; empty when it has none."""
    if kb_file.sidecar is None:
        return FrontMatter(), ""
    label = f"{kb_file.doc_id} (caption file {kb_file.sidecar.name})"
    text = decode_text(read_path_bytes(kb_file.sidecar, label, limits), label)
    check_chars(len(text), label, limits)
    data, body = split_front_matter(text, source=label)
    return parse_front_matter(data, source=label), body.strip()


def load_media(kb_file: KBFile, limits: Limits) -> LoadResult:
    """One image or audio chunk; `media_path` is the absolute path of the file."""
    if kb_file.kind not in ("image", "audio"):
        raise InputError(f"{kb_file.doc_id}: is a {kb_file.kind}, not an image or audio file")
    try:
        size = kb_file.path.stat().st_size
    except OSError as exc:
        raise InputError(f"{kb_file.doc_id}: cannot read the file ({exc.strerror or exc})") from exc
    check_size(size, kb_file.doc_id, limits)
    front, body = _sidecar(kb_file, limits)
    title = front.title or name_caption(kb_file)
    caption = body or title
    # The sidecar's title is part of the caption for full-text search, unless the body already says it.
    text = caption if title.casefold() in caption.casefold() else f"{title}\n\n{caption}"
    dense = dense_text_for(title, "", caption) if caption != title else cap_words(title, DEFAULT_DENSE_CHARS)
    modality: Modality = "image" if kb_file.kind == "image" else "audio"
    chunk = Chunk(
        doc_id=kb_file.doc_id,
        chunk_id=0,
        modality=modality,
        text=text,
        dense_text=dense,
        source=kb_file.doc_id,
        title=title,
        media_path=str(kb_file.path.resolve()),
        metadata=metadata(
            front, title=title, kind=modality, sidecar=kb_file.sidecar.name if kb_file.sidecar else ""
        ),
    )
    return LoadResult((chunk,))
