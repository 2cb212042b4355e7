"""The base of the turn trace's frozen records: `to_dict`/`from_dict` driven by the field types.

A record is a frozen dataclass whose fields all have defaults. `to_dict` turns it into plain JSON
values (nested records to dicts, tuples to lists); `from_dict` reads such a dict back and is
tolerant both ways: unknown keys are ignored (a trace written by a newer version still opens) and
missing or unreadable ones keep the field's default (an older trace still opens). So adding an
optional field to a record is one line: the field with its default.

Field types understood: str, int, float, bool, Any, Literal, `X | None`, `tuple[X, ...]`,
`Mapping[str, X]` and other records.
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, Literal, Self, Union, get_args, get_origin, get_type_hints


class TraceRecord:
    """Mixin for frozen dataclasses stored in the trace (all fields need defaults)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _dump(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """The record from a stored dict; anything else (None, a list) gives the defaults."""
        if not isinstance(data, Mapping):
            data = {}
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                with contextlib.suppress(TypeError, ValueError, AttributeError):  # unreadable: default
                    kwargs[f.name] = _load(hints[f.name], data[f.name])
        return cls(**kwargs)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = get_type_hints(cls)
    return _HINTS[cls]


def _dump(value: Any) -> Any:
    if isinstance(value, TraceRecord):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_dump(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _dump(v) for k, v in value.items()}
    return value


def _load(tp: Any, value: Any) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        return _load(next(a for a in args if a is not type(None)), value)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError("not a list")
        return tuple(_load(args[0], v) for v in value)
    if origin in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise TypeError("not a mapping")
        return {str(k): _load(args[1], v) for k, v in value.items()}
    if origin is Literal or tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, TraceRecord):
        return tp.from_dict(value)
    if tp in (str, int, float):
        if value is None or isinstance(value, (dict, list)):
            raise TypeError("not a scalar")
        return tp(value)
    if tp is bool:
        return bool(value)
    return value
