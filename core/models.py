"""The one model locator: where every model lives on disk, and the one place a missing one is reported.

Every backend asks a `ModelLocator` for its files instead of walking the disk itself, and every
"model not on this machine" goes through `fail()`, so the messages share one shape: what is missing,
where it was looked for, and how to get it (`supportbot models download NAME`, `supportbot models
import NAME PATH`, or a flag naming a local copy). Whether the product may run without the model is
not said here: that is the composition root's decision (`app.reduced`), which knows the flags.

The model dir is resolved once, by `Settings` (--model-dir > $SUPPORTBOT_MODEL_DIR); when neither is
set it is the per-user cache dir (e.g. ~/.cache/supportbot/models), never the working directory.
Layout under it:

    <root>/imagebind_huge/imagebind_huge.pth        single-file checkpoints: <root>/<name>/<file>
    <root>/flan-t5-base/                            Hugging Face model folders: <root>/<subdir>/<name>
    <root>/faster-whisper/small/                    faster-whisper sizes
    <root>/openai-whisper/base.pt                   openai-whisper checkpoints
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from core.config import ENV_MODEL_DIR
from core.errors import ModelMissingError

HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
ABSENT = "everything (no such directory)"


def default_model_root() -> Path:
    """The per-user cache dir for models, used when neither --model-dir nor the env variable is set."""
    import platformdirs

    return platformdirs.user_cache_path("supportbot", appauthor=False) / "models"


def fail(role: str, model: str, problem: str, fix: str, *, cause: BaseException | None = None) -> NoReturn:
    """Raise the `ModelMissingError` for `model` (the only raise of it in the product).

    `problem` says what is missing and where it was looked for; `fix` how to provide it; `cause` the
    exception that revealed it, if any.
    """
    text = f"{role} model {model!r} is not usable: {problem.rstrip('.')}. {fix.rstrip('.')}."
    raise ModelMissingError(" ".join(text.split()), role=role, model=model) from cause


def where_to_keep() -> str:
    return f"set {ENV_MODEL_DIR} or pass --model-dir to keep models elsewhere"


@dataclass(frozen=True)
class ModelLocator:
    """Finds model files under `root` (resolved once from `Settings`)."""

    root: Path

    @classmethod
    def of(cls, model_dir: Path | None) -> ModelLocator:
        """The locator for a settings' `model_dir` (None: the per-user cache dir)."""
        root = Path(model_dir).expanduser().absolute() if model_dir is not None else default_model_root()
        return cls(root)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def file(
        self,
        role: str,
        model: str,
        candidates: Sequence[Path],
        fix: str,
        *,
        size_bytes: int | None = None,
    ) -> Path:
        """The first of `candidates` that is a file (of `size_bytes`, when given); `fail()` otherwise."""
        from core.errors import ChecksumError

        for path in candidates:
            if path.is_file():
                actual = path.stat().st_size
                if size_bytes is not None and actual != size_bytes:
                    raise ChecksumError(
                        f"{path} is {actual:,} bytes but {model} is {size_bytes:,} bytes: the file is "
                        f"incomplete or a different file. Delete it and run `supportbot models download "
                        f"{model}`."
                    )
                return path
        looked = " or ".join(str(p) for p in candidates)
        fail(role, model, f"no file at {looked}", fix)

    def directory(
        self,
        role: str,
        model: str,
        lacks: Callable[[Path], list[str]],
        fix: str,
        *,
        subdir: str = "",
        names: Sequence[str] = (),
    ) -> Path:
        """The directory holding `model`: a path given as `model`, else `<root>/<subdir>/<name>`.

        `lacks(dir)` lists what a directory is missing (empty: complete). `names` are the folder names
        to try under the root (default: the last part of a hub name, then `owner--name`).
        """
        given = Path(model).expanduser()
        if given.is_dir():
            missing = lacks(given)
            if missing:
                fail(role, model, f"{given} is missing {', '.join(missing)}", fix)
            return given.absolute()
        base = self.path(subdir) if subdir else self.root
        tries = list(names) or _folder_names(model)
        if not tries:
            fail(role, model, f"{given} is not a directory", fix)
        for name in tries:
            candidate = base / name
            if candidate.is_dir() and not lacks(candidate):
                return candidate
        first = base / tries[0]
        missing = lacks(first) if first.is_dir() else [ABSENT]
        fail(role, model, f"{first} is missing {', '.join(missing)}", fix)


def _folder_names(model: str) -> list[str]:
    """Folder names a model name may have under the model dir: `flan-t5-base`, `google--flan-t5-base`."""
    if HUB_NAME.match(model):
        return [model.split("/")[-1], model.replace("/", "--")]
    if "/" in model or "\\" in model or model.startswith("."):
        return []
    return [model]


@dataclass(frozen=True)
class ModelChoice:
    """What one part runs with: the model `wanted` (configured), the one `used` (None: the part is off),
    and `reason` when they differ. Stated once at start-up and recorded in every turn's trace."""

    role: str
    wanted: str
    used: str | None
    reason: str = ""

    @property
    def reduced(self) -> bool:
        return self.used != self.wanted

    def describe(self) -> str:
        """One clause for the start-up statement and the staff trace, e.g. "speech: bundled-tiny.en
        instead of small (small is not on this machine)"."""
        if not self.reduced:
            return f"{self.role}: {self.used}"
        now = "off" if self.used is None else self.used
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.role}: {now} instead of {self.wanted}{why}"
