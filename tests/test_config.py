"""Settings: defaults < environment < flags, validated with messages that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Limits, Settings
from core.errors import ConfigError
from core.types import SearchFilter


def test_precedence_env_then_flags() -> None:
    env = {"SUPPORTBOT_DATA_DIR": "/env/data", "SUPPORTBOT_MODEL_DIR": "/env/models"}
    s = Settings.from_env(env)
    assert s.data_dir == Path("/env/data") and s.model_dir == Path("/env/models")
    s = Settings.from_env(env, data_dir=Path("/flag"), model_dir=None)
    assert s.data_dir == Path("/flag") and s.model_dir == Path("/env/models")
    assert Settings.from_env({}).data_dir == Path("supportbot_data")
    assert Settings.from_env({"SUPPORTBOT_TEXT_RUNTIME": "torch"}).text_runtime == "torch"
    assert Settings.from_env({}).text_runtime == "auto"


def test_milvus_lite_path_is_inside_data_dir(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).milvus_path == str(tmp_path / "milvus.db")
    assert Settings(milvus_uri="http://milvus:19530").milvus_path == "http://milvus:19530"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"milvus_uri": "ftp://x"}, "neither http"),
        ({"device": "tpu"}, "not cpu"),
        ({"batch_size": 0}, "batch_size"),
        ({"text_runtime": "onnx"}, "SUPPORTBOT_TEXT_RUNTIME"),
    ],
)
def test_invalid_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings(**kwargs)  # type: ignore[arg-type]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_file_bytes"):
        Limits(max_file_bytes=0)


def test_search_filter_rejects_unknown_modality() -> None:
    with pytest.raises(ConfigError, match="unknown modality"):
        SearchFilter(modalities=("video",))  # type: ignore[arg-type]
