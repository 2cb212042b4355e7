"""Building an answer generator by name ("t5" or "extractive"); nothing is loaded here."""

from __future__ import annotations

from pathlib import Path

from chatbot.generators.extractive import ExtractiveGenerator
from chatbot.generators.protocol import Generator
from chatbot.generators.t5 import DEFAULT_MODEL, T5Generator
from core.errors import ConfigError

GENERATORS: tuple[str, ...] = ("t5", "extractive")


def make_generator(
    name: str,
    model: str | None = None,
    model_dir: Path | None = None,
    device: str | None = None,
    *,
    max_new_tokens: int = 160,
) -> Generator:
    """A cheap, unloaded generator; call `load()` (or just `generate`) to load weights.

    `model` is the T5 directory or hub name (default google/flan-t5-base, looked up in the model dir);
    the extractive generator takes no model and refuses one, so a typo cannot go unnoticed.
    """
    key = name.strip().lower()
    if key == "t5":
        return T5Generator(model or DEFAULT_MODEL, model_dir, device, max_new_tokens)
    if key == "extractive":
        if model:
            raise ConfigError(
                f"--generator-model {model!r} was given but the extractive generator uses no model; "
                "drop the flag or pass --generator t5"
            )
        return ExtractiveGenerator()
    raise ConfigError(f"unknown generator {name!r}; use one of: {', '.join(GENERATORS)}")
