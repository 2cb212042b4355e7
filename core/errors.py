"""Exceptions of the whole project, each with a message that says what to fix.

Every error a user can cause (bad flag, bad file, missing weights, unreachable server) is a
`SupportbotError`; the CLI prints its message on one line and exits non-zero. Anything else is a bug.
"""

from __future__ import annotations


class SupportbotError(Exception):
    """Base class: a problem the user can fix; the message says how."""


class ConfigError(SupportbotError):
    """An option or setting has a value that cannot work."""


class InputError(SupportbotError):
    """A file or query given to us is unusable (corrupt, too big, unknown type, empty)."""


class ModelMissingError(SupportbotError):
    """Model weights are not on this machine; the message names the file and how to provide it.

    `role` is the part that needs the model ("speech", "answers", "cross-modal embedder", ...) and
    `model` its name, so the composition root can say what runs instead. Raised only through
    `core.models.missing` (the one place that words these messages).
    """

    def __init__(self, message: str, *, role: str = "", model: str = "") -> None:
        super().__init__(message)
        self.role = role
        self.model = model

    def advise(self, advice: str) -> ModelMissingError:
        """The same error with `advice` (what else the user may do) appended."""
        return ModelMissingError(f"{self} {advice}", role=self.role, model=self.model)


class ModelOutputError(SupportbotError, ValueError):
    """A model (speech recogniser, OCR engine, generator) returned output that breaks its contract
    (a confidence outside [0, 1], a segment that ends before it starts): a backend fault, not the
    customer's input, so never an `InputError`."""


class ChecksumError(SupportbotError):
    """A downloaded or provided checkpoint does not have the published sha256."""


class StoreError(SupportbotError):
    """The vector store is unreachable, locked by another process, or answered with an error."""
