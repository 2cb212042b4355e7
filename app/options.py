"""The engine's option records built from `Settings.tuning` ("section.key=value" from --set / the env).

Sections and the records they set:

| section      | record                                  | e.g.                          |
|--------------|-----------------------------------------|-------------------------------|
| engine       | `chatbot.engine.EngineOptions`          | engine.top_k=8                |
| abstention   | `chatbot.abstention.AbstentionPolicy`   | abstention.min_coverage=0.6   |
| context      | `knowledge_graph.context.ContextOptions`| context.decay=0.5             |
| sessions     | `chatbot.sessions.SessionLimits`        | sessions.max_turns=30         |
| carry        | `chatbot.followups.CarryOptions`        | carry.enabled=false           |
| fusion       | `retrieval.fusion.FusionWeights`        | fusion.bm25=0.1               |
| retrieval    | `retrieval.retriever.RetrievalOptions`  | retrieval.spelling=false      |

Values are converted to the field's type (int, float, bool); an unknown section or key, or a value of
the wrong type, is a `ConfigError` that lists what is accepted. Each record validates itself.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from core.config import Settings
from core.errors import ConfigError
from retrieval.fusion import TUNED, FusionWeights
from retrieval.retriever import RetrievalOptions

if TYPE_CHECKING:
    from chatbot.engine import EngineOptions

R = TypeVar("R")


def sections() -> dict[str, type]:
    """Section name -> option record. Imported here, not at the top, so that the retriever's fusion
    weights (`supportbot search`) do not import the conversation engine."""
    from chatbot.abstention import AbstentionPolicy
    from chatbot.engine import EngineOptions
    from chatbot.followups import CarryOptions
    from chatbot.sessions import SessionLimits
    from knowledge_graph.context import ContextOptions

    return {
        "engine": EngineOptions,
        "abstention": AbstentionPolicy,
        "context": ContextOptions,
        "sessions": SessionLimits,
        "carry": CarryOptions,
        "fusion": FusionWeights,
        "retrieval": RetrievalOptions,
    }


def _scalar_fields(record: type) -> dict[str, type]:
    kinds = {"int": int, "float": float, "bool": bool, "str": str}
    found: dict[str, type] = {}
    for f in dataclasses.fields(record):
        kind = kinds.get(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""))
        if kind is not None:
            found[f.name] = kind
    return found


def _convert(key: str, text: str, kind: type) -> Any:
    value = text.strip()
    try:
        if kind is bool:
            if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes", "on")
        return kind(value)
    except ValueError:
        raise ConfigError(f"option {key}={text!r}: expected a {kind.__name__}") from None


def overrides(settings: Settings) -> dict[str, dict[str, Any]]:
    """`settings.tuning` checked and converted: section -> field -> value (later items win)."""
    found: dict[str, dict[str, Any]] = {}
    records = sections() if settings.tuning else {}
    for item in settings.tuning:
        key, _, text = item.partition("=")
        section, _, name = key.strip().partition(".")
        record = records.get(section)
        if record is None:
            raise ConfigError(f"option {key!r}: unknown section {section!r}; use one of {', '.join(records)}")
        fields = _scalar_fields(record)
        if name not in fields:
            raise ConfigError(
                f"option {key!r}: {section} has no setting {name!r}; known: {', '.join(fields)}"
            )
        found.setdefault(section, {})[name] = _convert(key, text, fields[name])
    return found


def _apply(record: R, values: dict[str, Any]) -> R:
    return dataclasses.replace(record, **values) if values else record  # type: ignore[type-var]


def engine_options(settings: Settings, base: EngineOptions | None = None) -> EngineOptions:
    """`base` (default `EngineOptions()`) with every override of `settings.tuning` applied."""
    from chatbot.engine import EngineOptions

    values = overrides(settings)
    base = base or EngineOptions()
    return _apply(
        base,
        {
            **values.get("engine", {}),
            "policy": _apply(base.policy, values.get("abstention", {})),
            "context": _apply(base.context, values.get("context", {})),
            "limits": _apply(base.limits, values.get("sessions", {})),
            "carry": _apply(base.carry, values.get("carry", {})),
        },
    )


def fusion_weights(settings: Settings, base: FusionWeights = TUNED) -> FusionWeights:
    """The retriever's fusion weights: `base` with the `fusion.*` overrides of `settings.tuning`."""
    return _apply(base, overrides(settings).get("fusion", {}))


def retrieval_options(settings: Settings) -> RetrievalOptions:
    """The retriever's options with the `retrieval.*` overrides of `settings.tuning`."""
    return _apply(RetrievalOptions(), overrides(settings).get("retrieval", {}))
