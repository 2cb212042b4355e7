"""Builds the embedder the settings name (cheaply: no weights are read here; `core.registry` convention)."""

from __future__ import annotations

from pathlib import Path

from core.config import Settings
from core.errors import ConfigError
from core.models import ModelLocator
from core.registry import Registry
from retrieval.embedders.protocol import Embedder, TextEmbedder

# Vector width of the default backend (imagebind_huge); stores created before an embedder is loaded use it.
DEFAULT_DIM = 1024


def _imagebind(settings: Settings) -> Embedder:
    from retrieval.embedders.imagebind import ImageBindEmbedder

    return ImageBindEmbedder(
        checkpoint=settings.embedder_checkpoint,
        model_dir=settings.model_dir,
        device=settings.device,
        batch_size=settings.batch_size,
        precision=settings.precision,
    )


EMBEDDERS: Registry[Embedder] = Registry("embedder", {"imagebind": _imagebind})


def make_embedder(settings: Settings, name: str | None = None) -> Embedder:
    """The `Embedder` for `name` (default `settings.embedder`); call its `load()` before first use."""
    return EMBEDDERS.build(name or settings.embedder, settings)


def make_text_embedder(settings: Settings) -> TextEmbedder | None:
    """The text dense channel of `settings.text_embedder` (None when it is `none`); nothing is loaded."""
    from retrieval.embedders.sentence import BUNDLED, SentenceEmbedder

    choice = settings.text_embedder.strip()
    if choice.casefold() == "none":
        return None
    if choice == BUNDLED:
        return SentenceEmbedder(device=settings.device, runtime=settings.text_runtime)
    path = Path(choice).expanduser()
    if not path.is_dir() and "/" not in choice:  # a name from `supportbot models download`
        path = ModelLocator.of(settings.model_dir).path("text-embedder", choice)
    if not path.is_dir():
        raise ConfigError(
            f"text embedder {choice!r} is neither {BUNDLED}, none nor a model directory; give a local "
            "sentence-transformers model dir"
        )
    return SentenceEmbedder(path, device=settings.device, runtime=settings.text_runtime)
