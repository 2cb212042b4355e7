"""Devices and precision: the one device parser and the one dtype policy every model backend uses.

`parse_device` is the only reader of a device string ("cpu", "cuda", "cuda:N", "mps"; None or "" =
"the best this machine has": CUDA, then Apple MPS, then CPU). Asking for an accelerator the machine
lacks is a `ConfigError` rather than a silent fall back to CPU, so a misconfigured server does not
run a hundred times slower without anyone noticing.

The precision policy (`Settings.precision`, "auto" by default) decides the dtype of every model:

| precision | torch on CUDA                                | torch on CPU/MPS   | CTranslate2 CUDA / CPU |
|-----------|----------------------------------------------|--------------------|------------------------|
| auto      | float16; bfloat16 for bf16-trained T5 [1]    | float32            | float16 / int8         |
| float32   | float32                                      | float32            | float32 / float32      |
| float16   | float16                                      | float32            | float16 / int8         |
| bfloat16  | bfloat16 [1]                                 | float32            | bfloat16 / int8        |
| int8      | float16                                      | float32 + int8 [2] | int8_float16 / int8    |

[1] float16 where the GPU has no bfloat16.
[2] Models that support it (ImageBind) run their `nn.Linear` layers with dynamic int8 quantisation on
    CPU (`quantize_linear_int8`); the others run in float32. Measured by `bench/imagebind_int8.py`.

CPUs always run torch models in float32 (half precision on CPU is slow and lossy). torch and
ctranslate2 are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16", "int8")
DeviceKind = Literal["cpu", "cuda", "mps"]


@dataclass(frozen=True)
class DeviceRequest:
    """A parsed device setting: `kind` None means "best available"; `index` only for cuda:N."""

    kind: DeviceKind | None = None
    index: int | None = None

    def __str__(self) -> str:
        if self.kind is None:
            return "auto"
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def parse_device(text: str | None) -> DeviceRequest:
    """ "cpu" | "cuda" | "cuda:N" | "mps" | None/"" (auto) -> `DeviceRequest`; `ConfigError` otherwise."""
    value = (text or "").strip().lower()
    if not value or value == "auto":
        return DeviceRequest()
    kind, sep, index_text = value.partition(":")
    if kind in ("cpu", "mps") and not sep:
        return DeviceRequest(kind)  # type: ignore[arg-type]
    if kind == "cuda":
        if not sep:
            return DeviceRequest("cuda")
        if index_text.isdigit():
            return DeviceRequest("cuda", int(index_text))
    raise ConfigError(
        f"device {text!r} is not supported: it is not cpu, cuda, cuda:N (N a GPU number) or mps"
    )


def check_precision(precision: str) -> str:
    """The precision name, validated (one of `PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def best_device(requested: str | None = None) -> torch.device:
    """The torch device to run on: `requested` ("cpu", "cuda", "cuda:N", "mps") or the best available."""
    import torch

    wanted = parse_device(requested)
    if wanted.kind is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if wanted.kind == "cpu":
        return torch.device("cpu")
    if wanted.kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {requested!r} was requested but this torch build sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
                "pass --device cpu or unset SUPPORTBOT_DEVICE to pick the best available device"
            )
        count = torch.cuda.device_count()
        if wanted.index is not None and wanted.index >= count:
            raise ConfigError(
                f"device {requested!r} was requested but only {count} CUDA device(s) exist "
                f"(cuda:0 to cuda:{count - 1})"
            )
        return torch.device("cuda", wanted.index) if wanted.index is not None else torch.device("cuda")
    if not _mps_available():
        raise ConfigError(
            f"device {requested!r} was requested but Apple MPS is not available on this machine; "
            "pass --device cpu or leave the device unset"
        )
    return torch.device("mps")


def torch_dtype(device: torch.device, precision: str = "auto", *, bf16_trained: bool = False) -> torch.dtype:
    """The dtype a torch model runs in on `device` under `precision` (see the table in the module doc).

    `bf16_trained`: the model was trained in bfloat16 (T5), so "auto" prefers bfloat16 on CUDA.
    """
    import torch

    check_precision(precision)
    if device.type != "cuda" or precision == "float32":
        return torch.float32
    bf16_ok = torch.cuda.is_bf16_supported()
    if precision == "bfloat16" or (precision == "auto" and bf16_trained):
        return torch.bfloat16 if bf16_ok else torch.float16
    return torch.float16


def default_dtype(device: torch.device) -> torch.dtype:
    """`torch_dtype(device)` under the default ("auto") policy: float16 on CUDA, float32 elsewhere."""
    return torch_dtype(device)


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for training on `device` (None: train in float32). T5 trains in bfloat16."""
    import torch

    check_precision(precision)
    if device.type != "cuda" or precision == "float32":
        return None
    return torch.float16 if precision == "float16" else torch.bfloat16


def ct2_device(requested: str | None) -> tuple[str, int]:
    """(device, index) for CTranslate2: CUDA when present (or asked for), else CPU.

    CTranslate2 has no Apple MPS backend, so "mps" runs on CPU with a warning.
    """
    import warnings

    import ctranslate2

    wanted = parse_device(requested)
    n_cuda = ctranslate2.get_cuda_device_count()
    if wanted.kind is None:
        return ("cuda", 0) if n_cuda else ("cpu", 0)
    if wanted.kind == "cpu":
        return "cpu", 0
    if wanted.kind == "mps":
        warnings.warn("CTranslate2 cannot use Apple MPS; running on the CPU", stacklevel=3)
        return "cpu", 0
    index = wanted.index or 0
    if index >= n_cuda:
        raise ConfigError(
            f"device {requested!r} was requested but CTranslate2 sees {n_cuda} CUDA device(s); "
            "pass --device cpu or leave the device unset"
        )
    return "cuda", index


def ct2_compute_type(device: str, precision: str = "auto") -> str:
    """The CTranslate2 compute type on "cuda" or "cpu" under `precision` (see the module doc)."""
    check_precision(precision)
    if precision == "float32":
        return "float32"
    if device != "cuda":
        return "int8"
    if precision == "int8":
        return "int8_float16"
    return "bfloat16" if precision == "bfloat16" else "float16"


def wants_int8_linear(device: torch.device, precision: str) -> bool:
    """Whether a torch model that supports it should quantise its linear layers to int8 (CPU, "int8")."""
    check_precision(precision)
    return precision == "int8" and device.type == "cpu"


def quantize_linear_int8(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with every `nn.Linear` replaced in place by a dynamically quantised int8 one (CPU only).

    Weights are stored as int8 with a per-tensor scale; activations are quantised per batch at run time.
    `nn.MultiheadAttention`'s own projections stay float32 (torch does not quantise them dynamically).
    torch.ao's eager quantisation is deprecated in favour of torchao but still ships in torch 2.11; the
    warning it prints is silenced here, once.
    """
    import warnings

    import torch
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        quantized: torch.nn.Module = quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )
    return quantized
