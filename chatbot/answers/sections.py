"""A knowledge-base document as the answer composer reads it: sections made of paragraphs, lists and tables.

Chunks come from the store (or from numbered evidence) with the chunker's first line "Title > Heading"
(see `retrieval.documents.chunking`). `sections_from_passages` turns them back into `DocSection`s:
the heading, the markdown body split into `Block`s (a paragraph, a numbered list, a bullet list, a
table, each kept whole and in order), and the chunk numbers it came from. FAQ rows ("Q: ... A: ...")
become a section whose body is the answer. Nothing here knows any particular KB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core import textnorm
from core.textnorm import SENTENCE_END

BlockKind = Literal["paragraph", "steps", "bullets", "table"]

_ORDERED = re.compile(r"^\s{0,3}(\d{1,3})[.)]\s+")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+")
_TABLE = re.compile(r"^\s*\|")
_QA = re.compile(r"^\s*([QA]):\s*", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")


@dataclass(frozen=True)
class Block:
    """A paragraph (one item), a numbered list of steps, a bullet list or a table (rows, as written)."""

    kind: BlockKind
    items: tuple[str, ...]

    def markdown(self) -> str:
        if self.kind == "steps":
            return "\n".join(f"{n}. {item}" for n, item in enumerate(self.items, start=1))
        if self.kind == "bullets":
            return "\n".join(f"- {item}" for item in self.items)
        if self.kind == "table":
            return "\n".join(self.items)
        return self.items[0]

    def plain(self) -> str:
        return plain_text(" ".join(self.items))


@dataclass(frozen=True)
class Passage:
    """One retrieved or fetched chunk: where it is from and its text as the store holds it."""

    doc_id: str
    chunk_id: int
    text: str
    title: str = ""
    modality: str = "text"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    score: float = 0.0
    rank: int | None = None  # retrieval rank (0 = best), None for a chunk fetched to complete a document


@dataclass(frozen=True)
class DocSection:
    """One section of a document: heading, blocks, the chunks it spans, its retrieval rank (best chunk)."""

    doc_id: str
    title: str
    heading: str
    blocks: tuple[Block, ...]
    chunk_ids: tuple[int, ...]
    modality: str = "text"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    rank: int | None = None
    question: str = ""  # an FAQ row's question

    @property
    def key(self) -> str:
        base = f"{self.doc_id}#{self.chunk_ids[0]}" if self.chunk_ids else self.doc_id
        return f"{base}/{self.heading}" if self.heading else base

    @property
    def label(self) -> str:
        """What the section is called in the trace: "title > heading" (or the title)."""
        return f"{self.title} > {self.heading}" if self.heading and self.heading != self.title else self.title

    def markdown(self) -> str:
        return "\n\n".join(b.markdown() for b in self.blocks)

    def plain(self) -> str:
        return " ".join(b.plain() for b in self.blocks)

    def evidence_text(self) -> str:
        """The section as evidence: its "title > heading" line, then its body (what a generator sees)."""
        head = self.label
        body = self.markdown()
        if self.question:
            body = f"Q: {self.question}\nA: {body}"
        return f"{head}\n\n{body}" if head else body


def passage_body(text: str, title: str) -> list[str]:
    """A passage's paragraphs without its header line (title > heading) and without FAQ "Q:" lines,
    each flattened to one line (for training examples that quote sentences)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    flat_title = " ".join(title.split()).casefold()
    if (
        len(paragraphs) > 1
        and flat_title
        and " ".join(paragraphs[0].split()).casefold().startswith(flat_title)
        and not SENTENCE_END.search(paragraphs[0] + " x")
    ):
        paragraphs = paragraphs[1:]
    out: list[str] = []
    for paragraph in paragraphs:
        lines: list[str] = []
        for line in paragraph.splitlines():
            prefix = _QA.match(line)
            if prefix and prefix.group(1).upper() == "Q":
                continue
            lines.append(line[prefix.end() :] if prefix else line)
        text_line = " ".join(" ".join(lines).split())
        if text_line:
            out.append(text_line)
    return out


def plain_text(text: str) -> str:
    """Markdown emphasis removed, whitespace collapsed."""
    return " ".join(_EMPHASIS.sub(r"\2", text).split())


def split_sentences(text: str) -> list[str]:
    """The sentences the composer quotes: `core.textnorm.split_sentences` of `text` with its whitespace
    collapsed, never starting one at a digit."""
    return textnorm.split_sentences(" ".join(text.split()), digit_starts=False)


def _header(text: str, title: str) -> tuple[str, str]:
    """(heading, body): the chunker's "Title > A > B" first line gives the last heading; else none."""
    first, _, rest = text.partition("\n")
    flat = " ".join(first.split())
    if title and flat.casefold().startswith(" ".join(title.split()).casefold()) and not _ends_sentence(flat):
        parts = [p.strip() for p in flat.split(" > ")]
        return (parts[-1] if len(parts) > 1 else ""), rest
    return "", text


def _ends_sentence(line: str) -> bool:
    return line.rstrip().endswith((".", "!", "?")) and " > " not in line


def parse_blocks(body: str) -> tuple[list[Block], str]:
    """Blocks of a markdown body (lists with their continuation lines, tables) and an FAQ question."""
    blocks: list[Block] = []
    question = ""
    for para in re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n")):
        lines = [ln for ln in para.split("\n") if ln.strip()]
        qa: list[str] = []
        for line in lines:
            m = _QA.match(line)
            if m and m.group(1).upper() == "Q":
                question = line[m.end() :].strip()
                continue
            qa.append(line[m.end() :] if m else line)
        lines = qa
        if not lines:
            continue
        if all(_TABLE.match(ln) for ln in lines):
            blocks.append(Block("table", tuple(ln.strip() for ln in lines)))
            continue
        blocks.extend(_list_or_paragraph(lines))
    return _merge_lists(blocks), question


def _list_or_paragraph(lines: Sequence[str]) -> list[Block]:
    out: list[Block] = []
    prose: list[str] = []
    items: list[str] = []
    kind: BlockKind | None = None

    def close() -> None:
        nonlocal kind
        if prose:
            out.append(Block("paragraph", (" ".join(" ".join(prose).split()),)))
            prose.clear()
        if items and kind is not None:
            out.append(Block(kind, tuple(" ".join(i.split()) for i in items)))
            items.clear()
        kind = None

    for line in lines:
        ordered, bullet = _ORDERED.match(line), _BULLET.match(line)
        marker = ordered or bullet
        if marker:
            new_kind: BlockKind = "steps" if ordered else "bullets"
            if kind != new_kind or prose:
                close()
            kind = new_kind
            items.append(line[marker.end() :])
        elif kind is not None and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
        else:
            if kind is not None:
                close()
            prose.append(line)
    close()
    return out


def _merge_lists(blocks: list[Block]) -> list[Block]:
    """Numbered items split by blank lines ("1. ...", blank, "2. ...") are one list."""
    out: list[Block] = []
    for block in blocks:
        if out and block.kind in ("steps", "bullets") and out[-1].kind == block.kind:
            out[-1] = Block(block.kind, out[-1].items + block.items)
        else:
            out.append(block)
    return out


_HEADING_LINE = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _by_heading(heading: str, body: str) -> list[tuple[str, str]]:
    """(heading, body) parts of a body cut at its markdown heading lines (one part when it has none)."""
    marks = list(_HEADING_LINE.finditer(body))
    if not marks:
        return [(heading, body)]
    parts = [(heading, body[: marks[0].start()])] if body[: marks[0].start()].strip() else []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        parts.append((plain_text(m.group(1)), body[m.end() : end]))
    return parts


def sections_from_passages(passages: Iterable[Passage]) -> list[DocSection]:
    """Sections in document order (chunk order); consecutive chunks under one heading are one section."""
    by_doc: dict[str, list[Passage]] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    out: list[DocSection] = []
    for doc_id, chunks in by_doc.items():
        unique = {c.chunk_id: c for c in sorted(chunks, key=lambda c: c.rank is None)}
        current: DocSection | None = None
        for chunk in sorted(unique.values(), key=lambda c: c.chunk_id):
            heading, body = _header(chunk.text, chunk.title)
            path = chunk.metadata.get("heading_path") or []
            if isinstance(path, (list, tuple)) and len(path) > 1:
                heading = str(path[-1])
            parts = _by_heading(heading, body)
            if len(parts) > 1:  # a small document kept whole: its "## Heading" lines split it
                for sub_heading, sub_body in parts:
                    blocks, question = parse_blocks(sub_body)
                    current = DocSection(
                        doc_id,
                        chunk.title,
                        sub_heading,
                        tuple(blocks),
                        (chunk.chunk_id,),
                        chunk.modality,
                        chunk.metadata,
                        chunk.rank,
                        question,
                    )
                    out.append(current)
                continue
            blocks, question = parse_blocks(body)
            rank = chunk.rank
            if current is not None and heading and current.heading == heading and not question:
                best = min((r for r in (current.rank, rank) if r is not None), default=None)
                current = DocSection(
                    doc_id,
                    current.title,
                    heading,
                    current.blocks + tuple(blocks),
                    current.chunk_ids + (chunk.chunk_id,),
                    current.modality,
                    current.metadata,
                    best,
                )
                out[-1] = current
                continue
            current = DocSection(
                doc_id,
                chunk.title,
                heading,
                tuple(blocks),
                (chunk.chunk_id,),
                chunk.modality,
                chunk.metadata,
                rank,
                question,
            )
            out.append(current)
    return [s for s in out if s.blocks]
