"""One rule for reduced modes, the same in every command (ingest, search, eval, chat, serve, demo, doctor).

For each part a command needs, `resolve()` checks (cheaply: paths and sizes, no weights read) that its
configured model is on this machine, and decides what runs:

| part        | model present    | missing, --allow-missing-models               | missing, no flag |
|-------------|------------------|-----------------------------------------------|------------------|
| cross-modal | ImageBind        | off: pictures and sounds matched by text only | stop             |
| text        | the named one    | bundled-minilm, else off                      | stop             |
| answers     | T5               | the offline answer composer                   | stop             |
| speech      | the named model  | bundled-tiny.en, else off                     | stop             |
| OCR         | the named engine | the other engine, else off                    | stop             |

With no speech model named, the default is the best one present: faster-whisper `small`, else
bundled-tiny.en (stated, since it is smaller); only when neither is there does the rule above apply.
"stop" is the locator's `ModelMissingError` (what to download or import) plus the one sentence on
what the flag would do; no message asks for a flag that was passed. Every `ModelChoice` that differs
from the configuration is stated once at start-up (`statement`) and recorded in each turn's trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.config import Settings
from core.errors import ConfigError, ModelMissingError
from core.models import ModelChoice

CROSS_MODAL, TEXT, ANSWERS, SPEECH, OCR = "cross-modal", "text embedder", "answers", "speech", "OCR"
ALL_ROLES = (CROSS_MODAL, TEXT, ANSWERS, SPEECH, OCR)
BUNDLED_SPEECH = "bundled-tiny.en"
BUNDLED_TEXT = "bundled-minilm"
COMPOSER = "composer"
DEFAULT_SPEECH = {"faster-whisper": "small", "openai-whisper": "base"}
FLAG_WOULD = {
    CROSS_MODAL: "To run without image and sound search (dense ImageBind retrieval), pass "
    "--allow-missing-models.",
    ANSWERS: "To answer with the offline composer (it quotes knowledge-base sentences) instead, pass "
    "--allow-missing-models or --generator composer.",
    TEXT: "To search text with the bundled text embedder (bundled-minilm) instead, or without dense text "
    "search, pass --allow-missing-models.",
    SPEECH: "To transcribe voice notes with the best model present (bundled-tiny.en) instead, pass "
    "--allow-missing-models.",
    OCR: "To read screenshots with the other OCR engine, or not at all, pass --allow-missing-models.",
}


@dataclass(frozen=True)
class Resolved:
    """A part's decision and the settings change that makes the factories build what runs."""

    choice: ModelChoice
    changes: dict[str, Any]


def _present(build: Callable[[], Any]) -> ModelMissingError | None:
    """None when the part's files are there (`locate()`), else the locator's error."""
    try:
        build().locate()
    except ModelMissingError as exc:
        return exc
    return None


def _stop(role: str, exc: ModelMissingError) -> ModelMissingError:
    return exc.advise(FLAG_WOULD[role])


def _cross_modal(settings: Settings) -> Resolved:
    from retrieval.embedders.factory import make_embedder

    wanted = settings.embedder_checkpoint
    missing = _present(lambda: make_embedder(settings))
    if missing is None:
        return Resolved(ModelChoice(CROSS_MODAL, wanted, wanted), {})
    if not settings.allow_missing_models:
        raise _stop(CROSS_MODAL, missing)
    return Resolved(ModelChoice(CROSS_MODAL, wanted, None, f"{wanted} is not on this machine"), {})


def _answers(settings: Settings) -> Resolved:
    from chatbot.generators.factory import make_generator
    from chatbot.generators.t5 import DEFAULT_MODEL

    if settings.generator != "t5":
        return Resolved(ModelChoice(ANSWERS, COMPOSER, COMPOSER), {})
    wanted = (settings.generator_model or DEFAULT_MODEL).split("/")[-1]
    missing = _present(lambda: make_generator(settings))
    if missing is None:
        return Resolved(ModelChoice(ANSWERS, wanted, wanted), {})
    if not settings.allow_missing_models:
        raise _stop(ANSWERS, missing)
    choice = ModelChoice(ANSWERS, wanted, COMPOSER, f"{wanted} is not on this machine")
    return Resolved(choice, {"generator": COMPOSER, "generator_model": None})


def _text(settings: Settings) -> Resolved:
    from retrieval.embedders.factory import make_text_embedder

    wanted = settings.text_embedder.strip()
    if wanted.casefold() == "none":
        return Resolved(ModelChoice(TEXT, "none", "none"), {})
    try:
        missing = _present(lambda: make_text_embedder(settings))
    except ConfigError as exc:  # a directory that is not there
        missing = ModelMissingError(str(exc), role=TEXT, model=wanted)
    if missing is None:
        return Resolved(ModelChoice(TEXT, wanted, wanted), {})
    bundled = settings.with_(text_embedder=BUNDLED_TEXT)
    if not settings.allow_missing_models:
        raise _stop(TEXT, missing)
    if wanted != BUNDLED_TEXT and _present(lambda: make_text_embedder(bundled)) is None:
        choice = ModelChoice(TEXT, wanted, BUNDLED_TEXT, f"{wanted} is not on this machine")
        return Resolved(choice, {"text_embedder": BUNDLED_TEXT})
    return Resolved(
        ModelChoice(TEXT, wanted, None, f"{wanted} is not on this machine"), {"text_embedder": "none"}
    )


def _speech(settings: Settings) -> Resolved:
    from retrieval.asr.factory import make_transcriber

    named = (settings.asr_model or "").strip()
    wanted = named or DEFAULT_SPEECH.get(settings.asr_backend, "small")
    trial = settings.with_(asr_model=wanted)
    missing = _present(lambda: make_transcriber(trial))
    if missing is None:
        return Resolved(ModelChoice(SPEECH, wanted, wanted), {"asr_model": wanted})
    bundled = settings.with_(asr_backend="faster-whisper", asr_model=BUNDLED_SPEECH)
    has_bundled = wanted != BUNDLED_SPEECH and _present(lambda: make_transcriber(bundled)) is None
    if has_bundled and (not named or settings.allow_missing_models):
        reason = f"{wanted} is not on this machine"
        changes = {"asr_backend": "faster-whisper", "asr_model": BUNDLED_SPEECH}
        return Resolved(ModelChoice(SPEECH, wanted, BUNDLED_SPEECH, reason), changes)
    if not settings.allow_missing_models:
        raise _stop(SPEECH, missing)
    return Resolved(ModelChoice(SPEECH, wanted, None, "no speech model is on this machine"), {})


def _ocr(settings: Settings) -> Resolved:
    from retrieval.ocr.factory import READERS, make_reader

    wanted = settings.ocr_engine
    missing = _present(lambda: make_reader(settings))
    if missing is None:
        return Resolved(ModelChoice(OCR, wanted, wanted), {})
    if not settings.allow_missing_models:
        raise _stop(OCR, missing)
    for other in READERS:
        if other != wanted and _present(lambda: make_reader(settings, other)) is None:  # noqa: B023
            return Resolved(
                ModelChoice(OCR, wanted, other, f"{wanted} is not usable here"), {"ocr_engine": other}
            )
    return Resolved(ModelChoice(OCR, wanted, None, "no OCR engine is usable here"), {})


RESOLVERS: dict[str, Callable[[Settings], Resolved]] = {
    CROSS_MODAL: _cross_modal,
    TEXT: _text,
    ANSWERS: _answers,
    SPEECH: _speech,
    OCR: _ocr,
}


def resolve(settings: Settings, role: str) -> Resolved:
    """What `role` runs with under `settings` (see the module doc); may raise the stop error."""
    return RESOLVERS[role](settings)


def statement(choices: tuple[ModelChoice, ...]) -> str | None:
    """The one start-up line for the parts that do not run as configured; None when all do."""
    order = {role: i for i, role in enumerate(ALL_ROLES)}
    ranked = sorted(choices, key=lambda c: order.get(c.role, len(order)))
    reduced = [c.describe() for c in ranked if c.reduced]
    return "reduced mode: " + "; ".join(reduced) if reduced else None
