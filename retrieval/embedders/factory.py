"""Picks the embedder backend named in the settings and builds it (cheaply: no weights are read here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from core.config import Settings
from core.errors import ConfigError
from retrieval.embedders.protocol import Embedder

# Vector width of the default backend (imagebind_huge); stores created before an embedder is loaded use it.
DEFAULT_DIM = 1024


def _imagebind(settings: Settings) -> Embedder:
    from retrieval.embedders.imagebind import ImageBindEmbedder

    return ImageBindEmbedder(
        checkpoint=settings.embedder_checkpoint,
        model_dir=settings.model_dir,
        device=settings.device,
        batch_size=settings.batch_size,
    )


BACKENDS: Mapping[str, Callable[[Settings], Embedder]] = MappingProxyType({"imagebind": _imagebind})


def make_embedder(settings: Settings) -> Embedder:
    """The `Embedder` for `settings.embedder`; call its `load()` before (or let it load on) first use."""
    try:
        build = BACKENDS[settings.embedder]
    except KeyError:
        raise ConfigError(
            f"unknown embedder {settings.embedder!r}; known embedders: {', '.join(sorted(BACKENDS))}"
        ) from None
    return build(settings)
