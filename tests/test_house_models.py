"""The model locator, the device parser, the precision policy, the factory convention and the engine
options from settings (issue 9, item 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.options import engine_options
from chatbot.engine import EngineOptions
from core.config import Settings
from core.devices import (
    DeviceRequest,
    autocast_dtype,
    ct2_compute_type,
    parse_device,
    torch_dtype,
    wants_int8_linear,
)
from core.errors import ConfigError, ModelMissingError
from core.models import ModelLocator, fail
from core.registry import Registry

REPO = Path(__file__).resolve().parent.parent
ENV_READ = re.compile(r"os\.environ\.get\(ENV_|env\.get\(ENV_(MODEL_DIR|ASR_MODEL|DEVICE|PRECISION)")
PRODUCT = ("core", "retrieval", "knowledge_graph", "chatbot", "ui", "app")


def _product_sources() -> list[Path]:
    return [p for package in PRODUCT for p in (REPO / package).rglob("*.py")]


def test_one_place_raises_model_missing() -> None:
    sites = [
        f"{p.relative_to(REPO)}:{n}"
        for p in _product_sources()
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"raise ModelMissingError\(", line)
    ]
    assert len(sites) == 1 and sites[0].startswith("core/models.py:"), sites


def test_environment_is_read_only_by_settings() -> None:
    readers = sorted(
        str(p.relative_to(REPO))
        for p in _product_sources()
        if re.search(
            r"os\.environ\.get\(ENV_|env\.get\(ENV_(MODEL_DIR|ASR_MODEL|DEVICE)", p.read_text("utf-8")
        )
    )
    assert readers == ["core/config.py"]


def test_fail_carries_role_and_model() -> None:
    with pytest.raises(ModelMissingError) as info:
        fail(
            "speech", "small", "no directory at /x.", "Run `supportbot models download faster-whisper-small`"
        )
    assert (info.value.role, info.value.model) == ("speech", "small")
    assert str(info.value) == (
        "speech model 'small' is not usable: no directory at /x. Run `supportbot models download "
        "faster-whisper-small`."
    )
    advised = info.value.advise("Or pass --allow-missing-models.")
    assert str(advised).endswith("Or pass --allow-missing-models.") and advised.role == "speech"


def test_locator_directory_and_file(tmp_path: Path) -> None:
    locator = ModelLocator.of(tmp_path)

    def lacks(d: Path) -> list[str]:
        return [] if (d / "config.json").is_file() else ["config.json"]

    with pytest.raises(ModelMissingError, match="flan-t5-base is missing everything"):
        locator.directory("answer", "google/flan-t5-base", lacks, "fix it")
    (tmp_path / "google--flan-t5-base").mkdir()
    (tmp_path / "google--flan-t5-base" / "config.json").write_text("{}")
    assert (
        locator.directory("answer", "google/flan-t5-base", lacks, "fix") == tmp_path / "google--flan-t5-base"
    )
    with pytest.raises(ModelMissingError, match="no file at"):
        locator.file("speech", "base", [tmp_path / "base.pt"], "fix")
    (tmp_path / "base.pt").write_bytes(b"x")
    assert locator.file("speech", "base", [tmp_path / "base.pt"], "fix") == tmp_path / "base.pt"
    assert ModelLocator.of(Path("rel")).root.is_absolute()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, DeviceRequest()),
        ("", DeviceRequest()),
        ("cpu", DeviceRequest("cpu")),
        ("CUDA:1", DeviceRequest("cuda", 1)),
        ("cuda", DeviceRequest("cuda")),
        ("mps", DeviceRequest("mps")),
    ],
)
def test_parse_device(text: str | None, expected: DeviceRequest) -> None:
    assert parse_device(text) == expected


@pytest.mark.parametrize("text", ["tpu", "cuda:x", "cpu:0", "mps:1", "cuda:"])
def test_parse_device_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="not supported"):
        parse_device(text)
    with pytest.raises(ConfigError):
        Settings(device=text)


def test_precision_policy_on_cpu_and_ctranslate2() -> None:
    import torch

    cpu = torch.device("cpu")
    for precision in ("auto", "float32", "float16", "bfloat16", "int8"):
        assert torch_dtype(cpu, precision) == torch.float32  # CPUs always run float32
        assert autocast_dtype(cpu, precision) is None
    assert [ct2_compute_type("cpu", p) for p in ("auto", "float32", "float16")] == ["int8", "float32", "int8"]
    assert [ct2_compute_type("cuda", p) for p in ("auto", "float32", "bfloat16", "int8")] == [
        "float16",
        "float32",
        "bfloat16",
        "int8_float16",
    ]
    assert ct2_compute_type("cpu", "int8") == "int8"
    assert wants_int8_linear(cpu, "int8") and not wants_int8_linear(cpu, "auto")
    with pytest.raises(ConfigError, match="precision"):
        Settings(precision="int4")


def test_precision_reaches_every_backend() -> None:
    from chatbot.generators.factory import make_generator
    from retrieval.asr.factory import make_transcriber
    from retrieval.embedders.factory import make_embedder

    settings = Settings.from_env({"SUPPORTBOT_PRECISION": "float32"})
    assert settings.precision == "float32"
    for part in (make_generator(settings, "t5"), make_transcriber(settings), make_embedder(settings)):
        assert part.precision == "float32"  # type: ignore[attr-defined]
    assert make_transcriber(settings, "openai-whisper").precision == "float32"  # type: ignore[attr-defined]


def test_registry_convention() -> None:
    registry: Registry[str] = Registry("widget", {"One": lambda s, *, n=1: f"{s.collection}:{n}"})
    assert registry.names == ("one",) and "ONE" in registry
    assert registry.build(" one ", Settings(collection="c"), n=2) == "c:2"
    with pytest.raises(ConfigError, match="unknown widget 'two'; known widgets: one"):
        registry.build("two", Settings())


def test_engine_options_from_settings_and_env() -> None:
    settings = Settings.from_env(
        {"SUPPORTBOT_OPTIONS": "engine.top_k=6; abstention.min_coverage=0.4"},
        tuning=["context.decay=0.5", "sessions.max_turns=7", "engine.top_k=9"],
    )
    options = engine_options(settings)
    assert options.top_k == 9  # a flag given later wins over the environment
    assert options.policy.min_coverage == 0.4 and options.context.decay == 0.5
    assert options.limits.max_turns == 7
    assert engine_options(Settings()) == EngineOptions()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("engine.top_k", "SECTION.KEY=VALUE"),
        ("top_k=3", "SECTION.KEY=VALUE"),
        ("engines.top_k=3", "unknown section 'engines'"),
        ("engine.topk=3", "no setting 'topk'"),
        ("engine.top_k=many", "expected a int"),
        ("abstention.min_coverage=2", "must be in"),
        ("engine.top_k=0", "evidence_k"),
    ],
)
def test_bad_options_say_what_to_fix(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        engine_options(Settings(tuning=(item,)))


def test_options_reach_the_sessions_and_context() -> None:
    from chatbot.sessions import SessionStore
    from knowledge_graph.factory import make_graph

    options = engine_options(Settings(tuning=("context.decay=0.3", "sessions.max_turns=3")))
    store = SessionStore(make_graph(), options.limits, context=options.context)
    assert store.limits.max_turns == 3
    assert store.get("s").context.options.decay == 0.3
