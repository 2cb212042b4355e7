"""Splitting a document into retrievable sections: by headings, then paragraphs, then sentences.

A document is first turned into `Block`s (headings and paragraphs): markdown via
`markdown_blocks`, other formats (HTML, PDF) build blocks themselves. `chunk_blocks` then:

* keeps a tiny document (its whole text fits `max_chars`) as one section;
* otherwise cuts at every heading, keeping the heading path (e.g. ("Setup", "Wi-Fi"));
* packs a section's paragraphs into pieces of at most `max_chars` characters of `text`, splitting
  an overlong paragraph on sentence boundaries and an overlong sentence at a word boundary (or
  hard, for a word longer than the budget);
* optionally repeats up to `overlap` characters of whole trailing sentences/paragraphs of the
  previous piece at the start of the next piece of the same section.

Each `Section` has `text` (title and heading path on the first line, then the body: what full-text
search indexes; never longer than `max_chars`) and `dense_text` ("title — heading: first
sentence(s)", at most `dense_chars` characters, cut on a word boundary: what the 77-token ImageBind
text encoder sees). Everything is deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.errors import ConfigError
from core.textnorm import split_sentences

DEFAULT_MAX_CHARS = 1200
DEFAULT_DENSE_CHARS = 200  # ~77 CLIP BPE tokens of English prose
PATH_SEPARATOR = " > "

_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_EMPHASIS_OPEN = re.compile(r"(?<![\w*_~])(\*{1,3}|_{1,3}|~~)(?=\S)")
_EMPHASIS_CLOSE = re.compile(r"(?<=\S)(\*{1,3}|_{1,3}|~~)(?![\w*_~])")
_LINE_MARKER = re.compile(r"^\s*(?:>\s*)*(?:[-*+]\s+|\d{1,3}[.)]\s+|#{1,6}\s+)?", re.MULTILINE)
_FENCE_LINE = re.compile(r"^\s*(?:`{3,}|~{3,}).*$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """A heading (level 1-6) or a paragraph (level 0) of a document, in reading order."""

    kind: Literal["heading", "paragraph"]
    text: str
    level: int = 0


@dataclass(frozen=True)
class Section:
    """One chunk of a document: where it sits, its full text and its short text for the dense encoder."""

    heading_path: tuple[str, ...]
    body: str
    text: str
    dense_text: str


@dataclass(frozen=True)
class _Unit:
    """A piece of a section body that is never split further, and what joins it to the piece before."""

    text: str
    joiner: str


def markdown_blocks(body: str) -> list[Block]:
    """Headings and blank-line separated paragraphs of markdown or plain text.

    Headings are ATX (`#`..`######`) or setext (one line over `===` / `---`); a fenced code block
    stays one paragraph. A `---`/`***`-style rule elsewhere only separates paragraphs.
    """
    blocks: list[Block] = []
    lines: list[str] = []
    fence: str | None = None

    def flush() -> None:
        text = "\n".join(lines).strip("\n")
        if text.strip():
            blocks.append(Block("paragraph", text.rstrip()))
        lines.clear()

    for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        fence_match = _FENCE.match(line)
        if fence is not None:
            lines.append(line)
            marker = fence_match.group(1) if fence_match else ""
            if marker[:1] == fence[0] and len(marker) >= len(fence):
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            lines.append(line)
            continue
        heading = _ATX_HEADING.match(line)
        if heading:
            flush()
            title = clean_inline((heading.group(2) or "").strip())
            if title:
                blocks.append(Block("heading", title, len(heading.group(1))))
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline and (len(lines) == 1 or len(underline.group(1)) >= 3):
            if len(lines) == 1:  # "Title" over "=====" / "-----": a level 1 / level 2 heading
                title = clean_inline(lines[0].strip())
                lines.clear()
                if title:
                    blocks.append(Block("heading", title, 1 if underline.group(1)[0] == "=" else 2))
            else:  # a rule under nothing or under a longer paragraph: a break, no text
                flush()
            continue
        if not line.strip():
            flush()
            continue
        lines.append(line)
    flush()
    return blocks


def clean_inline(text: str) -> str:
    """Markdown/HTML markup removed from running text: links become their label, emphasis goes."""
    text = _FENCE_LINE.sub("", text)
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _LINE_MARKER.sub("", text)
    text = _EMPHASIS_OPEN.sub("", text)
    text = _EMPHASIS_CLOSE.sub("", text)
    text = text.replace("`", "")
    return " ".join(text.split())


def cap_words(text: str, limit: int) -> str:
    """`text` with whitespace collapsed, cut to at most `limit` characters on a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1].rfind(" ")
    if cut < limit // 2:  # one giant word: cut it hard
        cut = limit
    return flat[:cut].rstrip(" ,;:-—–")


def dense_text_for(title: str, heading: str, body: str, limit: int = DEFAULT_DENSE_CHARS) -> str:
    """ "title — heading: first sentence(s) of body", at most `limit` characters, cut on a word boundary."""
    title, heading = title.strip(), heading.strip()
    if heading.casefold() == title.casefold():
        heading = ""
    head = cap_words(" — ".join(part for part in (title, heading) if part), limit)
    budget = limit - len(head) - (2 if head else 0)
    lead_parts: list[str] = []
    used = 0
    for sentence in split_sentences(clean_inline(body)):
        extra = len(sentence) + (1 if lead_parts else 0)
        if lead_parts and used + extra > budget:
            break
        lead_parts.append(sentence)
        used += extra
    lead = " ".join(lead_parts)
    if not head:
        return cap_words(lead, limit)
    if not lead or budget < 12:
        return head
    return cap_words(f"{head}: {lead}", limit)


def _hard_split(text: str, budget: int) -> list[str]:
    """Pieces of at most `budget` characters, cut at the last space before the budget when possible."""
    pieces: list[str] = []
    flat = " ".join(text.split())
    start, end = 0, len(flat)  # positions, not shrinking copies: linear in the text's length
    while end - start > budget:
        cut = flat.rfind(" ", start, start + budget + 1) - start
        if cut < budget // 2:
            cut = budget
        pieces.append(flat[start : start + cut].rstrip())
        start += cut
        while start < end and flat[start] == " ":
            start += 1
    if start < end:
        pieces.append(flat[start:])
    return pieces


def _units(paragraphs: list[str], budget: int) -> list[_Unit]:
    units: list[_Unit] = []
    for paragraph in paragraphs:
        if len(paragraph) <= budget:
            units.append(_Unit(paragraph, "\n\n"))
            continue
        first = True
        for sentence in split_sentences(paragraph):
            for piece in _hard_split(sentence, budget) if len(sentence) > budget else [sentence]:
                units.append(_Unit(piece, "\n\n" if first else " "))
                first = False
    return units


def _pack(units: list[_Unit], budget: int, overlap: int) -> list[str]:
    """Greedy packing of units into bodies of at most `budget` characters, with optional overlap."""
    bodies: list[str] = []
    current: list[_Unit] = []
    length = 0

    def render(parts: list[_Unit]) -> str:
        return "".join((u.joiner if i else "") + u.text for i, u in enumerate(parts))

    for unit in units:
        extra = len(unit.text) + (len(unit.joiner) if current else 0)
        if current and length + extra > budget:
            bodies.append(render(current))
            seed: list[_Unit] = []
            seed_len = 0
            for prev in reversed(current):
                grown = seed_len + len(prev.text) + (len(seed[0].joiner) if seed else 0)
                if grown > overlap:
                    break
                seed.insert(0, prev)
                seed_len = grown
            if seed and seed_len + len(unit.joiner) + len(unit.text) <= budget:
                current, length = seed, seed_len
            else:
                current, length = [], 0
            extra = len(unit.text) + (len(unit.joiner) if current else 0)
        current.append(unit)
        length += extra
    if current:
        bodies.append(render(current))
    return bodies


def _header(title: str, path: tuple[str, ...], max_chars: int) -> str:
    parts = [title.strip()] if title.strip() else []
    for heading in path:
        if not parts or heading.casefold() != parts[-1].casefold():
            parts.append(heading)
    return cap_words(PATH_SEPARATOR.join(parts), max_chars // 2)


def _render_all(blocks: list[Block]) -> str:
    """A whole small document as one text; headings keep their markdown marks, so the answer composer
    still sees its sections ("## Fix for the X300")."""
    return "\n\n".join(
        f"{'#' * block.level} {block.text}" if block.kind == "heading" else block.text for block in blocks
    )


def _check_sizes(max_chars: int, overlap: int, dense_chars: int) -> None:
    if max_chars < 100:
        raise ConfigError(f"chunk max_chars must be at least 100, got {max_chars}")
    if not 0 <= overlap <= max_chars // 2:
        raise ConfigError(
            f"chunk overlap must be between 0 and max_chars/2 ({max_chars // 2}), got {overlap}"
        )
    if dense_chars < 20:
        raise ConfigError(f"dense_chars must be at least 20, got {dense_chars}")


def _whole(title: str, blocks: list[Block], max_chars: int, dense_chars: int) -> Section | None:
    """The whole document as one section, when it fits `max_chars`."""
    whole_header = _header(title, (), max_chars)
    shown = blocks
    if blocks[0].kind == "heading" and blocks[0].text.casefold() == title.strip().casefold():
        shown = blocks[1:] or blocks  # the title line already says it
    whole = _render_all(shown)
    if len(whole_header) + 2 + len(whole) > max_chars:
        return None
    first_heading = next((b.text for b in shown if b.kind == "heading"), "")
    text = f"{whole_header}\n\n{whole}" if whole_header else whole
    lead_text = "\n\n".join(b.text for b in blocks if b.kind == "paragraph")
    return Section((), whole, text, dense_text_for(title, first_heading, lead_text, dense_chars))


def _by_heading_path(blocks: list[Block]) -> list[tuple[tuple[str, ...], list[str]]]:
    """Paragraphs grouped under their heading path, in reading order."""
    groups: list[tuple[tuple[str, ...], list[str]]] = []
    stack: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind == "heading":
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
            continue
        path = tuple(text for _, text in stack)
        if groups and groups[-1][0] == path:
            groups[-1][1].append(block.text)
        else:
            groups.append((path, [block.text]))
    return groups


def chunk_blocks(
    title: str,
    blocks: list[Block],
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = 0,
    dense_chars: int = DEFAULT_DENSE_CHARS,
) -> list[Section]:
    """Sections of a document given as blocks (see the module docstring). No blocks, no sections."""
    _check_sizes(max_chars, overlap, dense_chars)
    if not blocks:
        return []
    if not any(b.kind == "paragraph" for b in blocks):
        # Headings only: their text is the content.
        blocks = [Block("paragraph", b.text) for b in blocks]
    # Titles and headings are repeated on every section: capped once here, so a giant one-line
    # heading costs linear time, not its length once per section.
    title = cap_words(title, max_chars // 2)
    blocks = [
        Block(b.kind, cap_words(b.text, max_chars // 2), b.level) if b.kind == "heading" else b
        for b in blocks
    ]
    whole = _whole(title, blocks, max_chars, dense_chars)
    if whole is not None:
        return [whole]
    sections: list[Section] = []
    for path, paragraphs in _by_heading_path(blocks):
        header = _header(title, path, max_chars)
        budget = max_chars - (len(header) + 2 if header else 0)
        heading = path[-1] if path else ""
        for body in _pack(_units(paragraphs, budget), budget, overlap):
            text = f"{header}\n\n{body}" if header else body
            sections.append(Section(path, body, text, dense_text_for(title, heading, body, dense_chars)))
    return sections


def chunk_document(
    title: str,
    body: str,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    overlap: int = 0,
    dense_chars: int = DEFAULT_DENSE_CHARS,
) -> list[Section]:
    """Sections of a markdown (or plain-text) body; see the module docstring."""
    return chunk_blocks(
        title, markdown_blocks(body), max_chars=max_chars, overlap=overlap, dense_chars=dense_chars
    )
