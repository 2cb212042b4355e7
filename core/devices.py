"""The one place that turns a device setting into a torch device and picks the dtype to run models in.

`None` means "the best this machine has": CUDA, then Apple MPS, then CPU. Asking for an accelerator the
machine lacks is a `ConfigError` rather than a silent fall back to CPU, so a misconfigured server
does not run a hundred times slower without anyone noticing. torch is imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    import torch


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def best_device(requested: str | None = None) -> torch.device:
    """The torch device to run on: `requested` ("cpu", "cuda", "cuda:N", "mps") or the best available."""
    import torch

    if requested is None or requested.strip() == "":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")

    try:
        device = torch.device(requested.strip())
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(f"device {requested!r} is not cpu, cuda, cuda:N or mps ({exc})") from exc

    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {requested!r} was requested but this torch build sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
                "pass --device cpu or unset SUPPORTBOT_DEVICE to pick the best available device"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(
                f"device {requested!r} was requested but only {count} CUDA device(s) exist "
                f"(cuda:0 to cuda:{count - 1})"
            )
        return device
    if device.type == "mps":
        if not _mps_available():
            raise ConfigError(
                f"device {requested!r} was requested but Apple MPS is not available on this machine; "
                "pass --device cpu or leave the device unset"
            )
        return device
    raise ConfigError(f"device {requested!r} is not supported; use cpu, cuda, cuda:N or mps")


def default_dtype(device: torch.device) -> torch.dtype:
    """float16 on CUDA (half the memory, tensor cores), float32 everywhere else."""
    import torch

    return torch.float16 if device.type == "cuda" else torch.float32
