"""The ImageBind embedder backend: text, images and audio into ImageBind's shared space.

The constructor is cheap; `load()` resolves the device, builds the network and loads the weights from
`core.checkpoints.locate()` (never downloading). `embed_*` call `load()` themselves the first time,
so a forgotten `load()` costs a delay, not an error; call `load()` up front to control when the weights
are read. Outputs are float32, L2-normalised rows (ImageBind's text and audio heads multiply by a logit
scale; every modality is renormalised here so all three are unit length).

This module is also the one place that works around ImageBind's import chain on current torchvision
(see `_install_torchvision_compat`); `imagebind` is only ever imported through `import_imagebind_model`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from core import checkpoints
from core.checkpoints import Checkpoint
from core.devices import best_device, check_precision, quantize_linear_int8, torch_dtype, wants_int8_linear
from core.errors import ConfigError
from core.types import Waveform

if TYPE_CHECKING:
    import torch

# ImageBind's modality keys (imagebind.models.imagebind_model.ModalityType), without importing it.
VISION, TEXT, AUDIO = "vision", "text", "audio"
USED_MODALITIES = (VISION, TEXT, AUDIO)  # depth, thermal and IMU (0.47 GiB of huge) are never built
_PER_MODALITY = ("modality_preprocessors", "modality_trunks", "modality_heads", "modality_postprocessors")
ROLE = "cross-modal"


@dataclass(frozen=True)
class ImageBindArch:
    """Width/depth of each ImageBind trunk; keyword arguments of `ImageBindModel`."""

    out_embed_dim: int
    vision_embed_dim: int
    vision_num_blocks: int
    vision_num_heads: int
    text_embed_dim: int
    text_num_blocks: int
    text_num_heads: int
    audio_embed_dim: int
    audio_num_blocks: int
    audio_num_heads: int
    depth_embed_dim: int
    depth_num_blocks: int
    depth_num_heads: int
    thermal_embed_dim: int
    thermal_num_blocks: int
    thermal_num_heads: int
    imu_embed_dim: int
    imu_num_blocks: int
    imu_num_heads: int

    def __post_init__(self) -> None:
        for key, value in asdict(self).items():
            if value <= 0:
                raise ConfigError(f"ImageBindArch.{key} must be positive, got {value}")
        for trunk in ("vision", "text", "audio", "depth", "thermal", "imu"):
            dim, heads = getattr(self, f"{trunk}_embed_dim"), getattr(self, f"{trunk}_num_heads")
            if dim % heads:
                raise ConfigError(f"ImageBindArch: {trunk}_embed_dim {dim} is not divisible by {heads} heads")


HUGE = ImageBindArch(
    out_embed_dim=1024,
    vision_embed_dim=1280,
    vision_num_blocks=32,
    vision_num_heads=16,
    text_embed_dim=1024,
    text_num_blocks=24,
    text_num_heads=16,
    audio_embed_dim=768,
    audio_num_blocks=12,
    audio_num_heads=12,
    depth_embed_dim=384,
    depth_num_blocks=12,
    depth_num_heads=8,
    thermal_embed_dim=768,
    thermal_num_blocks=12,
    thermal_num_heads=12,
    imu_embed_dim=512,
    imu_num_blocks=6,
    imu_num_heads=8,
)

# Which architecture each checkpoint in `core.checkpoints.CHECKPOINTS` holds.
ARCHS: dict[str, ImageBindArch] = {"imagebind_huge": HUGE}


def _install_torchvision_compat() -> None:
    """THE ONE COMPAT SHIM. `import imagebind` imports pytorchvideo 0.1.5, whose augmentations module
    does `import torchvision.transforms.functional_tensor`, a module torchvision removed in 0.17
    (pytorchvideo issue #271; ImageBind PR #136 works around it the same way). The only functions
    pytorchvideo takes from it live on in `torchvision.transforms.functional`, and ImageBind's image,
    text and audio paths never call them, so we alias the old name to the new module, only if the old
    module is really missing. Remove this once pytorchvideo/imagebind stop importing the old name.
    """
    name = "torchvision.transforms.functional_tensor"
    if name in sys.modules:
        return
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        import torchvision.transforms.functional as functional

        sys.modules[name] = functional


def import_imagebind_model() -> ModuleType:
    """`imagebind.models.imagebind_model`, imported with the compat shim in place."""
    _install_torchvision_compat()
    with warnings.catch_warnings():
        # pytorchvideo decorates a few transforms with torch.jit.script_method at import; nothing to fix here.
        warnings.filterwarnings("ignore", message=".*torch.jit.script_method.*", category=DeprecationWarning)
        return importlib.import_module("imagebind.models.imagebind_model")


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """While building a model whose weights will be loaded right after, put every parameter on the
    meta device as it is registered, so the random init (19 s for huge on 2 cores) costs nothing.

    `with torch.device("meta")` cannot be used: ImageBind's transformer calls `.item()` on a tensor
    while building. Buffers stay real; `load_state_dict(assign=True, strict=True)` then replaces every
    parameter and buffer. This patches `nn.Module.register_parameter` process-wide for the duration of
    the build, so no other thread should build modules at the same moment.
    """
    import torch

    original = torch.nn.Module.register_parameter

    def register(module: torch.nn.Module, name: str, param: torch.nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(module, name, param)

    torch.nn.Module.register_parameter = register  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = original  # type: ignore[method-assign]


def build_imagebind(
    arch: ImageBindArch | Literal["huge"] = "huge",
    *,
    empty: bool = False,
    modalities: tuple[str, ...] = USED_MODALITIES,
) -> torch.nn.Module:
    """An `ImageBindModel` of the given architecture with random (untrained) weights, holding only the
    preprocessors, trunks, heads and postprocessors of `modalities` (default: those the product uses).

    `empty=True` leaves the parameters on the meta device (no init) for `load_state_dict(assign=True)`.
    """
    spec = HUGE if arch == "huge" else arch
    if not isinstance(spec, ImageBindArch):
        raise ConfigError(f"unknown ImageBind architecture {arch!r}; pass 'huge' or an ImageBindArch")
    module = import_imagebind_model()
    if empty:
        with _parameters_on_meta():
            model: torch.nn.Module = module.ImageBindModel(**asdict(spec))
    else:
        model = module.ImageBindModel(**asdict(spec))
    for part in _PER_MODALITY:
        modules: Any = getattr(model, part)
        for name in [n for n in modules if n not in modalities]:
            del modules[name]
    return model


def state_for(model: torch.nn.Module, state: dict[str, Any]) -> dict[str, Any]:
    """`state` without the tensors of modalities `model` was built without (depth, thermal, IMU), so a
    strict load still checks every tensor of the parts that are built."""
    dropped = {
        f"{part}.{name}."
        for part in _PER_MODALITY
        for name in ("vision", "text", "audio", "depth", "thermal", "imu")
        if name not in getattr(model, part)
    }
    return {k: v for k, v in state.items() if not any(k.startswith(prefix) for prefix in dropped)}


def assign_weights(arch: ImageBindArch, state: Any, source: str) -> torch.nn.Module:
    """The network of `arch` holding exactly the tensors of `state` (strict: every name, every shape)
    for the modalities it is built with (`state`'s depth, thermal and IMU tensors are left out).

    The parameters are built on the meta device (no time or memory spent on a random init the weights
    replace) and `state`'s tensors are assigned in place; a missing, extra or mis-shaped tensor is a
    `ConfigError` naming `source`.
    """
    model = build_imagebind(arch, empty=True)
    try:
        model.load_state_dict(state_for(model, state), strict=True, assign=True)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"{source} does not hold the weights of this ImageBind architecture ({str(exc)[:300]}); "
            "check the file or the checkpoint name"
        ) from exc
    return model


def load_tokenizer() -> Callable[[str], torch.Tensor]:
    """ImageBind's SimpleTokenizer (77 tokens) with the BPE vocabulary shipped in the package."""
    import_imagebind_model()
    preprocessors = importlib.import_module("imagebind.models.multimodal_preprocessors")
    bpe = importlib.resources.files("imagebind") / "bpe" / "bpe_simple_vocab_16e6.txt.gz"
    if not bpe.is_file():
        raise ConfigError(
            f"ImageBind's BPE vocabulary is missing from the installed package ({bpe}); reinstall it"
        )
    tokenizer: Callable[[str], torch.Tensor] = preprocessors.SimpleTokenizer(bpe_path=str(bpe))
    return tokenizer


def output_dim(model: torch.nn.Module) -> int:
    """The shared-space dimension of an ImageBindModel (its vision head's output width)."""
    try:
        heads: Any = model.modality_heads
        return int(heads[VISION][-1].out_features)
    except (AttributeError, KeyError, IndexError, TypeError) as exc:
        raise ConfigError(f"{type(model).__name__} does not look like an ImageBindModel ({exc})") from exc


class ImageBindEmbedder:
    """`Embedder` backed by ImageBind.

    `model` injects an already built network (e.g. the tiny random one in tests) instead of reading a
    checkpoint; `arch` overrides the architecture of a checkpoint not in `ARCHS`.
    """

    def __init__(
        self,
        checkpoint: str | Checkpoint = "imagebind_huge",
        model_dir: Path | None = None,
        device: str | None = None,
        batch_size: int = 8,
        model: torch.nn.Module | None = None,
        *,
        arch: ImageBindArch | None = None,
        name: str | None = None,
        precision: str = "auto",
    ) -> None:
        self.precision = check_precision(precision)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        ckpt_name = checkpoint.name if isinstance(checkpoint, Checkpoint) else checkpoint
        self._checkpoint = checkpoint
        self._model_dir = model_dir
        self._device_request = device
        self.batch_size = batch_size
        self._given_model = model
        if model is not None:
            self._arch = arch
            self.dim = output_dim(model)
        else:
            found = arch or ARCHS.get(ckpt_name)
            if found is None:
                raise ConfigError(
                    f"no ImageBind architecture known for checkpoint {ckpt_name!r}; known: "
                    f"{', '.join(sorted(ARCHS))}"
                )
            self._arch = found
            self.dim = found.out_embed_dim
        self.name = name or (ckpt_name if model is None else f"imagebind-custom:{ckpt_name}")
        self._model: torch.nn.Module | None = None
        self._tokenizer: Callable[[str], torch.Tensor] | None = None
        self._device: torch.device | None = None
        self._dtype: torch.dtype | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def device(self) -> torch.device | None:
        """The device the model runs on, once loaded."""
        return self._device

    def locate(self) -> Path | None:
        """The checkpoint file (cheap: only its size is checked); None for an injected model."""
        if self._given_model is not None:
            return None
        return checkpoints.locate(self._checkpoint, self._model_dir, role=ROLE)

    def load(self) -> None:
        """Resolve the device, read the weights, move to the device (fp16 on CUDA; int8 linear layers
        on CPU under `--precision int8`). Idempotent."""
        if self._model is not None:
            return
        device = best_device(self._device_request)
        dtype = torch_dtype(device, self.precision)
        model = self._given_model if self._given_model is not None else self._read_checkpoint()
        model.eval()
        model.requires_grad_(False)
        model.to(device=device, dtype=dtype)
        if wants_int8_linear(device, self.precision):  # --precision int8 on CPU (bench/imagebind_int8.py)
            model = quantize_linear_int8(model)
        if self.dim != output_dim(model):
            raise ConfigError(f"model output dim {output_dim(model)} differs from the expected {self.dim}")
        tokenizer = load_tokenizer()
        self._model, self._tokenizer, self._device, self._dtype = model, tokenizer, device, dtype

    def _read_checkpoint(self) -> torch.nn.Module:
        import pickle

        import torch

        assert self._arch is not None
        path = checkpoints.locate(self._checkpoint, self._model_dir, role=ROLE)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as exc:
            raise ConfigError(
                f"{path} could not be read as a PyTorch checkpoint ({exc}); delete it and download it again"
            ) from exc
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        return assign_weights(self._arch, state, str(path))

    def _ready(self) -> tuple[torch.nn.Module, torch.device, torch.dtype]:
        self.load()
        assert self._model is not None and self._device is not None and self._dtype is not None
        return self._model, self._device, self._dtype

    def _run(self, modality: str, batch: torch.Tensor) -> np.ndarray:
        import torch

        model, device, dtype = self._ready()
        # Token ids stay integer; pixels and fbanks go to the model's dtype (fp16 on CUDA).
        batch = batch.to(device=device, dtype=dtype) if batch.is_floating_point() else batch.to(device=device)
        with torch.inference_mode():
            out = model({modality: batch})[modality]
            out = torch.nn.functional.normalize(out.float(), p=2.0, dim=-1)
        result: np.ndarray = out.cpu().numpy().astype(np.float32, copy=False)
        return result

    def _embed(
        self, items: Sequence[Any], modality: str, prepare: Callable[[Sequence[Any]], Any]
    ) -> np.ndarray:
        if len(items) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._run(modality, prepare(items[start : start + self.batch_size]))
            for start in range(0, len(items), self.batch_size)
        ]
        return np.concatenate(parts, axis=0)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        from retrieval.embedders.preprocess import texts_to_tokens

        if isinstance(texts, str):
            raise TypeError("embed_text takes a sequence of strings, not one string")

        def prepare(batch: Sequence[str]) -> torch.Tensor:
            self._ready()
            assert self._tokenizer is not None
            return texts_to_tokens(batch, self._tokenizer)

        return self._embed(texts, TEXT, prepare)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        from retrieval.embedders.preprocess import images_to_tensor

        return self._embed(images, VISION, images_to_tensor)

    def embed_audio(self, clips: Sequence[Waveform]) -> np.ndarray:
        from retrieval.embedders.preprocess import waveforms_to_tensor

        return self._embed(clips, AUDIO, waveforms_to_tensor)
