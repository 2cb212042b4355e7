"""`supportbot doctor`: one screen saying what each part will run with and why; exit 1 when broken.

Sections: models (the reduced-mode decision of `app.reduced` for every part, exactly what `chat` or
`serve` would do with the same flags), devices and dtypes (the precision policy of `core.devices`),
the vector store (Milvus Lite path, or the server URI and whether it answers), and the data dir
(writable, manifest and graph readable). Nothing is loaded or written except a probe file in the
data dir, removed at once.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

from app import reduced
from core.config import Settings
from core.errors import SupportbotError
from core.models import ModelLocator

OK, WARN, BROKEN = "ok", "note", "BROKEN"


def _line(state: str, what: str, detail: str) -> str:
    return f"  [{state:<6}] {what:<13} {detail}"


def check_models(settings: Settings) -> tuple[list[str], bool]:
    lines, broken = [], False
    for role in reduced.ALL_ROLES:
        try:
            choice = reduced.resolve(settings, role).choice
        except SupportbotError as exc:
            lines.append(_line(BROKEN, role, " ".join(str(exc).split())))
            broken = True
            continue
        state = WARN if choice.reduced else OK
        lines.append(_line(state, role, choice.describe().split(": ", 1)[1]))
    return lines, broken


def check_devices(settings: Settings) -> tuple[list[str], bool]:
    import torch

    from core.devices import best_device, ct2_compute_type, ct2_device, torch_dtype

    cuda = (
        f"{torch.cuda.device_count()} CUDA GPU(s): {torch.cuda.get_device_name(0)}"
        if torch.cuda.is_available()
        else "no CUDA GPU"
    )
    lines = [_line(OK, "torch", f"{torch.__version__}; {cuda}")]
    try:
        device = best_device(settings.device)
        ct2, _ = ct2_device(settings.device)
    except SupportbotError as exc:
        return [*lines, _line(BROKEN, "device", str(exc))], True
    t5 = torch_dtype(device, settings.precision, bf16_trained=True)
    ib = torch_dtype(device, settings.precision)
    lines.append(_line(OK, "device", f"{device} (asked: {settings.device or 'best available'})"))
    lines.append(
        _line(
            OK,
            "dtypes",
            f"precision {settings.precision}: ImageBind {str(ib).removeprefix('torch.')}, T5 "
            f"{str(t5).removeprefix('torch.')}, faster-whisper {ct2_compute_type(ct2, settings.precision)} "
            f"on {ct2}",
        )
    )
    return lines, False


def check_store(settings: Settings) -> tuple[list[str], bool]:
    uri = settings.milvus_uri
    if uri is None or uri.endswith(".db"):
        path = Path(settings.milvus_path)
        try:
            import milvus_lite  # noqa: F401
        except ImportError:
            return [_line(BROKEN, "store", "Milvus Lite is not installed: pip install milvus-lite")], True
        state = "exists" if path.exists() else "created at the first ingest"
        return [_line(OK, "store", f"Milvus Lite at {path} ({state})")], False
    parts = urlsplit(uri)
    host, port = parts.hostname or "", parts.port or 19530
    try:
        with socket.create_connection((host, port), timeout=min(settings.milvus_timeout_s, 5.0)):
            pass
    except OSError as exc:
        return [_line(BROKEN, "store", f"Milvus server {uri} is not reachable ({exc})")], True
    return [_line(OK, "store", f"Milvus server {uri} answers on {host}:{port}")], False


def _readable_json(path: Path) -> str | None:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{path.name} is unreadable ({exc}); delete it and run `supportbot ingest KB_DIR` again"
    return None


def check_data_dir(settings: Settings) -> tuple[list[str], bool]:
    data = settings.data_dir.absolute()
    if not data.exists():
        return [_line(WARN, "data dir", f"{data} does not exist yet (created at the first ingest)")], False
    probe = data / ".supportbot-doctor"
    try:
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        return [_line(BROKEN, "data dir", f"{data} is not writable ({exc})")], True
    lines, broken = [], False
    for name in ("manifest.json", "graph.json"):
        path = data / name
        problem = _readable_json(path) if path.exists() else None
        if problem:
            lines.append(_line(BROKEN, "data dir", problem))
            broken = True
    if not (data / "manifest.json").exists():
        lines.append(_line(WARN, "data dir", f"{data}: nothing indexed yet (run `supportbot ingest KB_DIR`)"))
    elif not broken:
        files = len(json.loads((data / "manifest.json").read_text(encoding="utf-8")).get("files", {}) or {})
        lines.append(_line(OK, "data dir", f"{data}: writable, index readable ({files} file(s) recorded)"))
        line, broken = _calibration_line(settings)
        lines.append(line)
    return lines, broken


def _calibration_line(settings: Settings) -> tuple[str, bool]:
    """The data dir's abstention thresholds; a damaged calibration file is broken (no engine starts)."""
    from app.calibration_state import calibration_note

    try:
        note = calibration_note(settings)
    except SupportbotError as exc:
        return _line(BROKEN, "abstention", str(exc)), True
    if note is None:
        return _line(
            OK, "abstention", "default thresholds (`supportbot calibrate CASES.jsonl` fits your own)"
        ), False
    return _line(WARN if "changed since" in note else OK, "abstention", note), False


def doctor(settings: Settings) -> int:
    """Print the report; 0 when every part can run (possibly reduced), 1 when the setup is broken."""
    print(
        f"supportbot doctor (model dir {ModelLocator.of(settings.model_dir).root}; "
        f"--allow-missing-models {'on' if settings.allow_missing_models else 'off'})"
    )
    broken: list[str] = []
    for title, check in (
        ("models", check_models),
        ("devices", check_devices),
        ("vector store", check_store),
        ("data", check_data_dir),
    ):
        lines, bad = check(settings)
        print(f"{title}:")
        for line in lines:
            print(line)
        if bad:
            broken.append(title)
    if broken:
        print(f"doctor: the setup is broken ({', '.join(broken)}); fix the lines marked BROKEN")
        return 1
    print("doctor: everything needed can run (lines marked 'note' run reduced)")
    return 0
