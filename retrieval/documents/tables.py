"""Loader for question/answer tables (CSV): one chunk per row.

The header must name a question column and an answer column (case-insensitive; `instruction` and
`response` are accepted as aliases). Optional columns `product`, `tags` and `entities` (lists
separated by ';' or ',') become metadata. The delimiter is the first of , ; TAB | that makes the
header contain both required columns.

Row N (1-based, header excluded; blank records count, so N+1 is the row number a spreadsheet
shows) becomes the chunk with doc_id "<path>#row-N". Blank rows are skipped silently; rows with an
empty question or answer are skipped with a warning.
"""

from __future__ import annotations

import csv
import io

from core.config import Limits
from core.errors import InputError
from core.types import Chunk
from retrieval.documents.chunking import cap_words, dense_text_for
from retrieval.documents.frontmatter import FrontMatter, string_list
from retrieval.documents.reading import LoadResult, check_chars, decode_text, metadata, read_bytes
from retrieval.documents.walk import KBFile

QUESTION_COLUMNS = ("question", "instruction")
ANSWER_COLUMNS = ("answer", "response")
OPTIONAL_COLUMNS = ("product", "tags", "entities")
DELIMITERS = (",", ";", "\t", "|")
MAX_TITLE_CHARS = 300


def _header_index(header: list[str], names: tuple[str, ...]) -> int | None:
    normalised = [cell.strip().strip("\ufeff").casefold() for cell in header]
    for name in names:
        if name in normalised:
            return normalised.index(name)
    return None


def _find_header(text: str, label: str) -> tuple[str, list[str], int, int]:
    """(delimiter, header cells, question column, answer column) or InputError."""
    first_header: list[str] | None = None
    for delimiter in DELIMITERS:
        try:
            header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
        except csv.Error as exc:
            raise InputError(f"{label}: CSV header cannot be parsed ({exc}); fix the first line") from exc
        if first_header is None:
            first_header = header
        q_col = _header_index(header, QUESTION_COLUMNS)
        a_col = _header_index(header, ANSWER_COLUMNS)
        if q_col is not None and a_col is not None:
            return delimiter, header, q_col, a_col
    shown = ", ".join(repr(cell) for cell in (first_header or [])[:10]) or "nothing"
    raise InputError(
        f"{label}: CSV needs a 'question' and an 'answer' column (or 'instruction' and 'response') in its "
        f"first line; found {shown}; rename the header cells"
    )


def load_csv(kb_file: KBFile, limits: Limits) -> LoadResult:
    label = kb_file.doc_id
    text = decode_text(read_bytes(kb_file, limits), label)
    check_chars(len(text), label, limits)
    delimiter, header, q_col, a_col = _find_header(text, label)
    optional = {name: _header_index(header, (name,)) for name in OPTIONAL_COLUMNS}

    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    chunks: list[Chunk] = []
    warnings: list[str] = []
    row_number = 0
    try:
        next(reader)  # the header
        for row in reader:
            row_number += 1
            if not any(cell.strip() for cell in row):
                continue

            def cell(index: int | None, row: list[str] = row) -> str:
                return row[index].strip() if index is not None and index < len(row) else ""

            question, answer = cell(q_col), cell(a_col)
            if not question or not answer:
                missing = "question" if not question else "answer"
                warnings.append(f"row {row_number}: empty {missing}; row skipped")
                continue
            where = f"{label} row {row_number}"
            front = FrontMatter(
                products=string_list(cell(optional["product"]), "product", where),
                tags=string_list(cell(optional["tags"]), "tags", where),
                entities=string_list(cell(optional["entities"]), "entities", where),
            )
            title = cap_words(question, MAX_TITLE_CHARS)
            chunks.append(
                Chunk(
                    doc_id=f"{kb_file.doc_id}#row-{row_number}",
                    chunk_id=0,
                    modality="text",
                    text=f"Q: {question}\nA: {answer}",
                    dense_text=dense_text_for(question, "", answer),
                    source=kb_file.doc_id,
                    title=title,
                    metadata=metadata(front, title=title, kind="table", row=row_number),
                )
            )
    except csv.Error as exc:
        raise InputError(
            f"{label}: CSV is malformed near data row {row_number + 1} ({exc}); fix the quoting there"
        ) from exc
    if not chunks:
        raise InputError(
            f"{label}: CSV has no row with both a question and an answer; add rows or remove the file"
        )
    return LoadResult(tuple(chunks), tuple(warnings))
