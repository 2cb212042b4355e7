"""Building an answer generator from `Settings` ("t5", or "composer", also called "extractive";
`core.registry` convention).

Nothing is loaded here. `settings.generator_model` is the T5 directory or hub name (default
google/flan-t5-base, looked up in the model dir); the composer takes no model and refuses one, so a
typo cannot go unnoticed.
"""

from __future__ import annotations

from chatbot.generators.composer import ComposerGenerator
from chatbot.generators.protocol import Generator
from chatbot.generators.t5 import DEFAULT_MODEL, T5Generator
from core.config import Settings
from core.errors import ConfigError
from core.registry import Registry


def _t5(settings: Settings, *, max_new_tokens: int = 160) -> Generator:
    return T5Generator(
        settings.generator_model or DEFAULT_MODEL,
        settings.model_dir,
        settings.device,
        max_new_tokens,
        precision=settings.precision,
    )


def _composer(settings: Settings, *, max_new_tokens: int = 160) -> Generator:
    if settings.generator_model:
        raise ConfigError(
            f"--generator-model {settings.generator_model!r} was given but the answer composer uses no "
            "model; drop the flag or pass --generator t5"
        )
    return ComposerGenerator()


# "extractive" is the composer's old name (it replaced the sentence-quoting generator of that name).
GENERATOR_REGISTRY: Registry[Generator] = Registry(
    "generator", {"t5": _t5, "composer": _composer, "extractive": _composer}
)
GENERATORS: tuple[str, ...] = GENERATOR_REGISTRY.names


def make_generator(settings: Settings, name: str | None = None, *, max_new_tokens: int = 160) -> Generator:
    """A cheap, unloaded generator for `name` (default `settings.generator`); `load()` reads weights."""
    return GENERATOR_REGISTRY.build(name or settings.generator, settings, max_new_tokens=max_new_tokens)
