"""Milvus boolean filter expressions built from a `SearchFilter`, with safe string literals.

Every user-controlled string (doc ids, product names) goes through `quote()`, which produces a
double-quoted literal that both the Milvus server grammar (Plan.g4) and Milvus Lite's filter parser
read back as exactly the original string. JSON-path membership is written as an `or` chain of `==`
because Milvus Lite 3.2.2 only accepts `in [...]` on plain fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.types import SearchFilter

# Escapes understood by both grammars; any other character (quotes of the other kind, unicode,
# control characters other than CR/LF/TAB) is fine inside a double-quoted literal.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

PRODUCT_KEY = "product"


def quote(value: str) -> str:
    """A double-quoted Milvus string literal that evaluates to `value`."""
    if not isinstance(value, str):
        raise TypeError(f"filter values must be strings, got {type(value).__name__}")
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def field_in(field: str, values: Iterable[str]) -> str:
    """`field in ["a", "b"]` for a plain VARCHAR field; empty string when `values` is empty."""
    items = list(dict.fromkeys(values))
    if not items:
        return ""
    return f"{field} in [{', '.join(quote(v) for v in items)}]"


def json_key_in(field: str, key: str, values: Iterable[str]) -> str:
    """`(field["key"] == "a" or field["key"] == "b")`; rows without the key never match."""
    items = list(dict.fromkeys(values))
    if not items:
        return ""
    path = f"{field}[{quote(key)}]"
    return "(" + " or ".join(f"{path} == {quote(v)}" for v in items) + ")"


def combine(*clauses: str) -> str:
    """AND of the non-empty clauses, each parenthesised; empty string when none is given."""
    parts = [c for c in clauses if c]
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({c})" for c in parts)


def filter_expr(search_filter: SearchFilter | None) -> str:
    """The boolean expression for `search_filter` (empty string: no restriction)."""
    if search_filter is None or search_filter.empty:
        return ""
    return combine(
        field_in("modality", search_filter.modalities),
        field_in("doc_id", search_filter.doc_ids),
        json_key_in("metadata", PRODUCT_KEY, search_filter.products),
    )


def batched(values: Sequence[str], size: int) -> list[list[str]]:
    """Split `values` (deduplicated, order kept) into lists of at most `size` items."""
    unique = list(dict.fromkeys(values))
    return [unique[i : i + size] for i in range(0, len(unique), size)]
