"""`supportbot models list | download NAME|all | import NAME PATH`: every model, one command away.

`list` prints, per model of `core.catalogue`: role, status (present / bundled / missing), path, size,
licence and what the product loses without it (plus the configured fine-tuned T5 or speech model
directory, when one is set). `download` fetches through `core.hub` (Hugging Face repos at pinned
commits) or `core.checkpoints` (ImageBind, openai-whisper `.pt` URLs). `import` installs a copy from a
folder or an archive (.zip, .tar, .tar.gz, .tgz) for machines without internet: the files are checked
for completeness (and, for single-file checkpoints, size and sha256) before they are put in place.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from core import checkpoints, hub
from core.catalogue import CATALOGUE, DOWNLOADABLE, FULL_PRODUCT, ModelSpec, spec
from core.checkpoints import Checkpoint
from core.config import Settings
from core.errors import ChecksumError, ConfigError, InputError
from core.models import ModelLocator


@dataclass(frozen=True)
class Row:
    """One line of `models list`."""

    name: str
    role: str
    status: str
    path: str
    size: str
    licence: str
    loses: str


def whisper_checkpoint(entry: ModelSpec) -> Checkpoint:
    """The `Checkpoint` of an openai-whisper size, from whisper's own table (URL holds the sha256)."""
    import whisper

    size = entry.name.removeprefix("openai-whisper-")
    url = whisper._MODELS[size]
    return Checkpoint(
        name="openai-whisper",
        filename=url.rsplit("/", 1)[1],
        url=url,
        sha256=url.split("/")[-2],
        size_bytes=None,
        licence=entry.licence,
        description=f"openai-whisper {size}",
    )


def _checkpoint(entry: ModelSpec) -> Checkpoint:
    return checkpoints.get(entry.name) if entry.name in checkpoints.CHECKPOINTS else whisper_checkpoint(entry)


def _decimal(n_bytes: int) -> str:
    if n_bytes >= 1e9:
        return f"{n_bytes / 1e9:.1f} GB"
    return f"{n_bytes / 1e6:.0f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"


def _size(about: int | None, path: Path | None, status: str) -> str:
    """The size on disk when present, else the published size ("about")."""
    if status != "missing" and path is not None and path.exists():
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        if files:
            return _decimal(sum(p.stat().st_size for p in files))
    return f"about {_decimal(about)}" if about else "-"


def rows(settings: Settings) -> list[Row]:
    """What `models list` shows for `settings` (the catalogue, then configured local directories)."""
    locator = ModelLocator.of(settings.model_dir)
    found: list[Row] = []
    for entry in CATALOGUE.values():
        status = entry.status(locator)
        path = entry.path(locator)
        where = str(path) if path is not None else f"not on PATH ({entry.note})"
        size = _size(entry.about_bytes, path, status)
        found.append(Row(entry.name, entry.role, status, where, size, entry.licence, entry.loses))
    for role, configured in (("answers", settings.generator_model), ("speech", settings.asr_model)):
        if configured and Path(configured).expanduser().exists():
            path = Path(configured).expanduser().absolute()
            size = _size(None, path, "present")
            found.append(
                Row(configured, role, "present", str(path), size, "(yours)", "the model you configured")
            )
    return found


def list_models(settings: Settings) -> int:
    table = rows(settings)
    width = max(len(r.name) for r in table)
    print(f"model dir: {ModelLocator.of(settings.model_dir).root}")
    for r in table:
        print(f"{r.name:<{width}}  {r.role:<13} {r.status:<8} {r.size:>14}  {r.path}")
        print(f"{'':<{width}}  licence: {r.licence}; without it: {r.loses}")
    missing = [r.name for r in table if r.status == "missing" and r.name in DOWNLOADABLE]
    if missing:
        print(
            "get one with `supportbot models download NAME` (`full`: "
            f"{', '.join(FULL_PRODUCT)}; `all`: every one), or offline with "
            "`supportbot models import NAME PATH`"
        )
    return 0


def download(settings: Settings, name: str, *, progress: bool = True) -> int:
    """Fetch one model, the full product's set (`full`) or every downloadable one (`all`)."""
    names = list(FULL_PRODUCT) if name == "full" else [n for n in DOWNLOADABLE if n == name or name == "all"]
    if not names:
        spec(name)  # unknown: ConfigError listing the names
        raise ConfigError(
            f"{name} ships with a package or the system and is not downloaded; see `models list`"
        )
    locator = ModelLocator.of(settings.model_dir)
    for each in names:
        entry = spec(each)
        if entry.source == "hub":
            path = hub.download(entry, locator, endpoint=settings.hf_endpoint, progress=progress)
        else:
            path = checkpoints.download(_checkpoint(entry), locator.root, progress=progress)
        print(f"{each}: ready at {path}")
    return 0


def _unpack(source: Path, work: Path) -> Path:
    """`source` itself when a folder or file, else the archive extracted (safely) into `work`."""
    if source.is_dir():
        return source
    name = source.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(source) as archive:
            for member in archive.infolist():
                _safe_member(member.filename, source)
            archive.extractall(work)
    elif name.endswith((".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")):
        with tarfile.open(source) as archive:
            archive.extractall(work, filter="data")  # refuses absolute paths, .., links out, devices
    else:
        return source  # a single weights file
    entries = [p for p in work.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else work


def _safe_member(member: str, archive: Path) -> None:
    parts = Path(member).parts
    if Path(member).is_absolute() or ".." in parts:
        raise InputError(f"{archive}: member {member!r} would be written outside the model folder; refused")


def _import_folder(entry: ModelSpec, folder: Path, locator: ModelLocator) -> Path:
    lacks = entry.lacks(folder)
    if lacks:
        raise InputError(f"{folder} is not a complete {entry.name}: it lacks {', '.join(lacks)}")
    dest = locator.path(*entry.folder)
    staging = dest.with_name(dest.name + ".importing")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(folder, staging, symlinks=False, ignore=shutil.ignore_patterns(".*", "*.partial"))
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    return dest


def _import_file(entry: ModelSpec, file: Path, locator: ModelLocator) -> Path:
    ckpt = _checkpoint(entry)
    if not file.is_file():
        raise InputError(f"{file} holds no {ckpt.filename}")
    try:
        checkpoints.verify(file, ckpt)
    except ChecksumError as exc:
        raise ChecksumError(f"{file} is not the published {entry.name}: {exc}") from exc
    dest = checkpoints.destination(ckpt, locator.root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(dest.name + ".partial")
    shutil.copyfile(file, staging)
    staging.replace(dest)
    return dest


def import_model(settings: Settings, name: str, source: Path) -> int:
    """Install `name` from a folder, a weights file or an archive of either."""
    entry = spec(name)
    if entry.source not in ("hub", "url"):
        raise ConfigError(f"{name} ships with a package or the system; there is nothing to import")
    if not source.exists():
        raise InputError(f"{source} does not exist")
    locator = ModelLocator.of(settings.model_dir)
    with tempfile.TemporaryDirectory(prefix="supportbot-import-", dir=_scratch(locator)) as tmp:
        unpacked = _unpack(source, Path(tmp))
        if entry.source == "hub":
            path = _import_folder(entry, unpacked, locator)
        else:
            ckpt = _checkpoint(entry)
            file = unpacked / ckpt.filename if unpacked.is_dir() else unpacked
            path = _import_file(entry, file, locator)
    print(f"{name}: imported to {path}")
    return 0


def _scratch(locator: ModelLocator) -> str:
    locator.root.mkdir(parents=True, exist_ok=True)
    return str(locator.root)
