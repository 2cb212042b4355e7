"""Helpers every loader shares: bounded reading, text decoding, limits, titles and chunk metadata.

Every check raises `InputError` with a message naming the file and saying what to do about it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Limits
from core.errors import ConfigError, InputError
from core.types import Chunk
from retrieval.documents.chunking import DEFAULT_MAX_CHARS
from retrieval.documents.frontmatter import FrontMatter
from retrieval.documents.walk import KBFile

MAX_NONPRINTABLE_RATIO = 0.30
_ALLOWED_CONTROL = frozenset("\n\r\t\f\v")
_NAME_SEPARATORS = re.compile(r"[_\-\s.]+")


@dataclass(frozen=True)
class ChunkOptions:
    """How documents are cut into chunks (see `retrieval.documents.chunking`)."""

    max_chars: int = DEFAULT_MAX_CHARS
    overlap: int = 0

    def __post_init__(self) -> None:
        if self.max_chars < 100:
            raise ConfigError(f"chunk max_chars must be at least 100, got {self.max_chars}")
        if not 0 <= self.overlap <= self.max_chars // 2:
            raise ConfigError(
                f"chunk overlap must be between 0 and max_chars/2 ({self.max_chars // 2}), got {self.overlap}"
            )


@dataclass(frozen=True)
class LoadResult:
    """The chunks of one file, and notes about parts that were skipped (e.g. CSV rows without an answer)."""

    chunks: tuple[Chunk, ...]
    warnings: tuple[str, ...] = field(default=())


def read_bytes(kb_file: KBFile, limits: Limits) -> bytes:
    """The file's bytes; its size is checked against `limits.max_file_bytes` before reading."""
    return read_path_bytes(kb_file.path, kb_file.doc_id, limits)


def read_path_bytes(path: Path, label: str, limits: Limits) -> bytes:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc
    check_size(size, label, limits)
    try:
        with path.open("rb") as handle:
            data: bytes = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc
    check_size(len(data), label, limits)  # the file may have grown since stat()
    return data


def check_size(size: int, label: str, limits: Limits) -> None:
    if size > limits.max_file_bytes:
        raise InputError(
            f"{label}: file is {size:,} bytes, over the limit of {limits.max_file_bytes:,} bytes; "
            "split it into smaller files or raise the max_file_bytes limit"
        )
    if size == 0:
        raise InputError(f"{label}: file is empty (0 bytes); remove it or add content")


def decode_text(data: bytes, label: str) -> str:
    """UTF-8 (with or without BOM; UTF-16 only with its BOM) text, rejecting binary content."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{label}: starts with a UTF-16 mark but is not valid UTF-16; re-save it as UTF-8"
            ) from exc
    else:
        if b"\x00" in data:
            raise InputError(f"{label}: contains NUL bytes, so it is a binary file, not text; remove it")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{label}: is not valid UTF-8 text (bad byte at offset {exc.start}); "
                "re-save it with UTF-8 encoding"
            ) from exc
    if "\x00" in text:
        raise InputError(f"{label}: contains NUL characters, so it is a binary file, not text; remove it")
    if text:
        odd = sum(1 for ch in text if not ch.isprintable() and ch not in _ALLOWED_CONTROL)
        if odd / len(text) > MAX_NONPRINTABLE_RATIO:
            raise InputError(
                f"{label}: {odd / len(text):.0%} of its characters are control characters, so it looks "
                "like binary data, not text; remove it or fix the file"
            )
    return text


def check_chars(count: int, label: str, limits: Limits) -> None:
    if count > limits.max_document_chars:
        raise InputError(
            f"{label}: has over {limits.max_document_chars:,} characters of text (the max_document_chars "
            "limit); split it into smaller documents or raise the limit"
        )


def name_caption(kb_file: KBFile) -> str:
    """A readable phrase from a file name: 'e42_mesh-link.png' -> 'e42 mesh link'."""
    return " ".join(_NAME_SEPARATORS.split(kb_file.path.stem)).strip() or kb_file.path.name


def metadata(
    front: FrontMatter,
    *,
    title: str,
    kind: str,
    heading_path: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The metadata every chunk carries (JSON-friendly: str and lists of str), plus `extra` keys."""
    return {
        "title": title,
        "product": front.product,
        "products": list(front.products),
        "entities": list(front.entities),
        "tags": list(front.tags),
        "heading_path": list(heading_path),
        "kind": kind,
        **extra,
    }
