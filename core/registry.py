"""One factory convention for every role: a `Registry` of backends, each built from `Settings`.

Every role (embedder, vector store, transcriber, screenshot reader, generator, graph) has one registry
and one factory function of the same shape:

    make_<role>(settings: Settings, name: str | None = None, **role_inputs) -> <Role>

`name` defaults to the backend the settings name for that role (e.g. `settings.asr_backend`), and
`role_inputs` are keyword-only values that are not settings (the store's vector width, the product
names OCR should report). A builder is `(settings, **role_inputs) -> backend`; it only constructs
(cheap), never loads weights: call `load()` on the result. An unknown name is a `ConfigError` that
lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from core.config import Settings
from core.errors import ConfigError

T = TypeVar("T")
Builder = Callable[..., T]


class Registry(Generic[T]):
    """Backends of one role by name (case-insensitive)."""

    def __init__(self, role: str, builders: Mapping[str, Builder[T]]) -> None:
        self.role = role
        self._builders = {name.lower(): build for name, build in builders.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._builders)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._builders

    def __iter__(self) -> Iterator[str]:
        return iter(self._builders)

    def build(self, name: str, settings: Settings, **role_inputs: Any) -> T:
        key = name.strip().lower()
        try:
            builder = self._builders[key]
        except KeyError:
            known = ", ".join(self.names)
            raise ConfigError(f"unknown {self.role} {name!r}; known {self.role}s: {known}") from None
        return builder(settings, **role_inputs)
