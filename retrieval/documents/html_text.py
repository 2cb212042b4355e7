"""Visible text of an HTML page as chunking blocks, with the standard library's html.parser.

Skipped: <head> (except <title>), <script>, <style>, <nav>, <noscript>, <template>, <svg>.
<h1>-<h6> become heading blocks; block elements (p, div, li, tr, ...) end a paragraph; <br> is a
line break; <pre> keeps its whitespace. The title is <title>, else the first <h1>.
"""

from __future__ import annotations

from html.parser import HTMLParser

from retrieval.documents.chunking import Block

SKIPPED = frozenset({"head", "script", "style", "nav", "noscript", "template", "svg"})
HEADINGS = {f"h{n}": n for n in range(1, 7)}
BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "main", "header", "footer", "aside", "ul", "ol", "li", "dl",
        "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "blockquote", "pre", "hr", "figure",
        "figcaption", "form", "fieldset", "address", "details", "summary", "body", "html",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_VOID = frozenset(
    {"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._skip: list[str] = []
        self._in_title = False
        self._title_parts: list[str] = []
        self._heading: int = 0
        self._pre = 0
        self._parts: list[str] = []

    def _flush(self) -> None:
        raw = "".join(self._parts)
        self._parts.clear()
        if self._pre:
            text = raw.strip("\n")
        else:
            lines = (" ".join(line.split()) for line in raw.split("\n"))
            text = "\n".join(line for line in lines if line)
        if not text.strip():
            return
        if self._heading:
            self.blocks.append(Block("heading", " ".join(text.split()), self._heading))
        else:
            self.blocks.append(Block("paragraph", text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skip = [t for t in self._skip if t != "head"]  # a <head> never closed ends here
        if tag == "title":
            # The page's <title>, not an SVG's <title> further down.
            self._in_title = "svg" not in self._skip and not self._title_parts
            return
        if tag in SKIPPED:
            if tag not in _VOID:
                self._skip.append(tag)
            return
        if self._skip:
            return
        if tag in HEADINGS:
            self._flush()
            self._heading = HEADINGS[tag]
        elif tag == "br":
            self._parts.append("\n")
        elif tag in _CELL_TAGS:
            self._parts.append(" ")
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self._skip:
            self._parts.append("\n")
        elif tag in BLOCK_TAGS and not self._skip:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if tag in SKIPPED:
            if tag in self._skip:
                # Close the innermost open element of that name (and anything left open inside it).
                index = len(self._skip) - 1 - self._skip[::-1].index(tag)
                del self._skip[index:]
            return
        if self._skip:
            return
        if tag in HEADINGS and self._heading:
            self._flush()
            self._heading = 0
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag == "pre" and self._pre:
                self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)
            return
        if self._skip:
            return
        self._parts.append(data if self._pre else data.replace("\n", " "))

    def close(self) -> None:
        super().close()
        self._flush()
        self.title = " ".join("".join(self._title_parts).split())


def html_blocks(html: str) -> tuple[str, list[Block]]:
    """(title, blocks) of an HTML page; the title is "" when the page has neither <title> nor <h1>."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    title = parser.title or next((b.text for b in parser.blocks if b.kind == "heading" and b.level == 1), "")
    return title, parser.blocks
