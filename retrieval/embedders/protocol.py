"""The `Embedder` role: text, images and audio into one L2-normalised float32 vector space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from core.types import Waveform


@runtime_checkable
class Embedder(Protocol):
    """Maps every modality into one shared space.

    Constructors are cheap; `load()` loads weights and is safe to call twice. Every `embed_*`
    returns an array of shape (len(inputs), dim), dtype float32, each row of unit L2 norm.
    """

    name: str
    dim: int

    def load(self) -> None: ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def embed_audio(self, clips: Sequence[Waveform]) -> np.ndarray: ...


@runtime_checkable
class TextEmbedder(Protocol):
    """Maps text into a text-only vector space (a sentence-embedding model), beside the shared space.

    Constructors are cheap; `load()` reads the weights and is safe to call twice. `embed_text` returns
    float32 rows of unit L2 norm, shape (len(texts), dim); a text longer than `max_tokens` is cut.
    """

    name: str
    dim: int
    max_tokens: int

    def load(self) -> None: ...

    def embed_text(self, texts: Sequence[str]) -> np.ndarray: ...
