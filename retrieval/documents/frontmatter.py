"""YAML front-matter of knowledge-base files: splitting it off the body and validating the keys we use.

A file may start with a block between two `---` lines (the closing line may also be `...`):

    ---
    title: Resetting the E42 router
    product: E42
    entities: [E42, mesh link]
    tags: wifi; reset
    ---
    body text ...

Only `title`, `product` (one name, or a list / ';'/','-separated string when an article covers
several products), `entities` and `tags` are interpreted; other keys are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from core.errors import InputError

_OPEN = re.compile(r"\A\ufeff?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_LIST_SEPARATORS = re.compile(r"[;,]")


@dataclass(frozen=True)
class FrontMatter:
    """The interpreted front-matter keys; empty values where a key is absent."""

    title: str = ""
    products: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def product(self) -> str:
        """The products as one string: the product itself when there is one, else "A, B"."""
        return ", ".join(self.products)


def split_front_matter(text: str, *, source: str = "document") -> tuple[dict[str, Any], str]:
    """Split `text` into (front-matter mapping, body).

    Text without a leading `---` line is returned unchanged with an empty mapping. Raises
    InputError (naming `source` and the YAML problem) for unclosed, malformed or non-mapping
    front-matter.
    """
    opening = _OPEN.match(text)
    if opening is None:
        return {}, text
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        raise InputError(
            f"{source}: front-matter starts with '---' on line 1 but has no closing '---' line; "
            "add one after the YAML block (or remove the first line if it is not front-matter)"
        )
    raw = text[opening.end() : closing.start()]
    body = text[closing.end() :].lstrip("\r\n")
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            # +2: the mark is 0-based and counted from the line after the opening '---'.
            where = f" on line {mark.line + 2}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{source}: malformed YAML front-matter{where}: {problem}; fix the YAML") from exc
    if data is None:
        return {}, body
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: front-matter must be a YAML mapping (key: value lines), got a {type(data).__name__}"
        )
    return {str(k): v for k, v in data.items()}, body


def _scalar(value: Any, key: str, source: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise InputError(
        f"{source}: front-matter key {key!r} must be a single text value, got {type(value).__name__}"
    )


def string_list(value: Any, key: str, source: str) -> tuple[str, ...]:
    """A YAML list of strings, or one string separated by ';' or ','; duplicates dropped, order kept."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = _LIST_SEPARATORS.split(value)
    elif isinstance(value, list | tuple):
        items = []
        for item in value:
            if isinstance(item, str | int | float) and not isinstance(item, bool):
                items.append(str(item))
            else:
                raise InputError(
                    f"{source}: front-matter key {key!r} must list plain text items, "
                    f"got a {type(item).__name__} item"
                )
    else:
        raise InputError(
            f"{source}: front-matter key {key!r} must be a list or a ';'/','-separated string, "
            f"got {type(value).__name__}"
        )
    cleaned = (item.strip() for item in items)
    return tuple(dict.fromkeys(item for item in cleaned if item))


def parse_front_matter(data: Mapping[str, Any], *, source: str = "document") -> FrontMatter:
    """Validate and normalise the keys we use; raises InputError naming the bad key."""
    return FrontMatter(
        title=_scalar(data.get("title"), "title", source),
        products=string_list(data.get("product"), "product", source),
        entities=string_list(data.get("entities"), "entities", source),
        tags=string_list(data.get("tags"), "tags", source),
    )
