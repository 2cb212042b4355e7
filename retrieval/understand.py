"""Understanding one customer turn: typed text, a screenshot and/or a voice note -> a retrieval `Query`.

A screenshot is decoded safely, embedded as an image (dense) AND read by OCR; the OCR text and the
support fields parsed from it (error codes, versions, product names) become full-text terms. A
voice note is decoded safely, embedded as audio (dense, to match recorded device sounds) AND
transcribed; the transcript goes down the text path (full text and dense text); a clip without
speech is measured for a device-sound pattern ("three short beeps", see `retrieval.sounds`) whose
words join the full-text query. The readers are passed in, loaded lazily on first use, and may be
absent: then the turn goes on without them and `notes` says so.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from core.config import Limits
from core.errors import ConfigError, InputError, ModelMissingError
from core.sanitise import clean_text
from retrieval import sounds
from retrieval.asr.protocol import Transcriber, Transcript
from retrieval.media import downscale, load_audio, load_image
from retrieval.ocr.fields import search_text
from retrieval.ocr.protocol import OcrResult, ScreenshotReader
from retrieval.retriever import Query

log = logging.getLogger(__name__)
T = TypeVar("T")
READ_TIMEOUT_S = 60.0  # a screenshot read or voice note transcribed longer than this ends the wait


class ReadTimeout(Exception):
    """A reader ran past its time bound (the turn goes on without its reading)."""


def _bounded(work: Callable[[], T], timeout_s: float) -> T:
    """`work()` in a worker thread, waited for at most `timeout_s`; past it `ReadTimeout` is raised
    (the worker finishes on its own and its result is dropped), so no turn waits forever."""
    box: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting turn
            failure.append(exc)

    worker = threading.Thread(target=run, name="supportbot-read", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ReadTimeout(f"took longer than {timeout_s:g} s")
    if failure:
        raise failure[0]
    return cast(T, box[0])


# One screenshot read or voice note transcribed at a time, process-wide: with the web app running
# several turns at once, a customer's heavy turn waits here while text-only turns go past it.
HEAVY_READS = threading.BoundedSemaphore(1)

MediaSource = Path | bytes

# Below these, the reading is shown in the trace but flagged; the engine uses them for abstention.
LOW_ASR_CONFIDENCE = 0.3
LOW_OCR_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Understanding:
    """The query to run plus everything the trace shows about how the inputs were read."""

    query: Query
    transcript: Transcript | None = None
    ocr: OcrResult | None = None
    notes: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    typed_text: str = ""
    image_name: str | None = None
    audio_name: str | None = None
    sound: str | None = None  # the tone pattern of a voice note without speech ("three short beeps")
    screen_text: str = ""  # the screenshot's searchable text (`ocr.fields.search_text`), derived once

    def __post_init__(self) -> None:
        if self.ocr is not None and not self.screen_text:
            object.__setattr__(self, "screen_text", search_text(self.ocr))

    @property
    def asr_confidence(self) -> float | None:
        return None if self.transcript is None else self.transcript.confidence

    @property
    def ocr_confidence(self) -> float | None:
        return None if self.ocr is None else self.ocr.confidence

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "typed_text": self.typed_text,
            "image_name": self.image_name,
            "audio_name": self.audio_name,
            "text": self.query.text,
            "extra_text": list(self.query.extra_text),
            "modality": self.query.modality,
            "has_image": self.query.image is not None,
            "has_audio": self.query.audio is not None,
            "sound_pattern": self.sound,
            "notes": list(self.notes),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
        if self.transcript is not None:
            t = self.transcript
            out["transcript"] = {
                "text": t.text,
                "language": t.language,
                "confidence": round(t.confidence, 4),
                "duration_s": round(t.duration_s, 2),
                "model": t.model,
                "segments": [
                    {"start": s.start, "end": s.end, "text": s.text, "avg_logprob": s.avg_logprob}
                    for s in t.segments
                ],
            }
        if self.ocr is not None:
            o = self.ocr
            out["ocr"] = {
                "text": o.text,
                "confidence": round(o.confidence, 4),
                "engine": o.engine,
                "fields": o.fields.to_dict(),
            }
        return out


class InputReader:
    """Turns raw turn inputs into an `Understanding`. Heavy readers are passed in (or None)."""

    def __init__(
        self,
        limits: Limits,
        *,
        transcriber: Transcriber | None = None,
        ocr: ScreenshotReader | None = None,
        allow_missing_models: bool = False,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        if read_timeout_s <= 0:
            raise ConfigError(f"read_timeout_s must be positive, got {read_timeout_s}")
        self.limits = limits
        self.transcriber = transcriber
        self.ocr = ocr
        self.allow_missing_models = allow_missing_models
        self.read_timeout_s = read_timeout_s

    def read(
        self,
        text: str = "",
        *,
        image: MediaSource | None = None,
        audio: MediaSource | None = None,
        image_name: str | None = None,
        audio_name: str | None = None,
    ) -> Understanding:
        text = clean_text(text or "").strip()
        image_name = clean_text(image_name) if image_name else image_name
        audio_name = clean_text(audio_name) if audio_name else audio_name
        self._check_message(text, image is not None or audio is not None)
        notes: list[str] = []
        timings: dict[str, float] = {}
        extra: list[str] = []
        picture, ocr_result, screen_text = self._read_image(image, image_name, notes, timings, extra)
        wave, transcript, heard, sound = self._read_audio(audio, audio_name, notes, timings, extra)
        query = Query(text=f"{text} {heard}".strip(), image=picture, audio=wave, extra_text=tuple(extra))
        return Understanding(
            query,
            transcript,
            ocr_result,
            tuple(notes),
            timings,
            text,
            image_name or (image.name if isinstance(image, Path) else None),
            audio_name or (audio.name if isinstance(audio, Path) else None),
            sound,
            screen_text,
        )

    def _check_message(self, text: str, has_media: bool) -> None:
        if len(text) > self.limits.max_query_chars:
            raise InputError(
                f"the message is {len(text)} characters long; the limit is {self.limits.max_query_chars}"
            )
        if not text and not has_media:
            raise InputError("empty message: type a question, attach a screenshot or record a voice note")

    def _read_image(
        self,
        image: MediaSource | None,
        name: str | None,
        notes: list[str],
        timings: dict[str, float],
        extra: list[str],
    ) -> tuple[Any, OcrResult | None, str]:
        """(picture, OCR result, search text of the screen); what the screen says joins `extra`."""
        if image is None:
            return None, None, ""
        picture = downscale(load_image(image, self.limits, name=name))
        with HEAVY_READS:
            ocr_result = self._ocr(picture, notes, timings)
        screen_text = search_text(ocr_result) if ocr_result is not None else ""
        if ocr_result is not None and not ocr_result.empty:
            f = ocr_result.fields
            extra.append(screen_text)
            extra.extend(f.error_codes + f.versions + f.products)
        return picture, ocr_result, screen_text

    def _read_audio(
        self,
        audio: MediaSource | None,
        name: str | None,
        notes: list[str],
        timings: dict[str, float],
        extra: list[str],
    ) -> tuple[Any, Transcript | None, str, str | None]:
        """(waveform, transcript, the words heard, a device sound heard instead); the sound joins `extra`."""
        if audio is None:
            return None, None, "", None
        wave = load_audio(audio, self.limits, name=name)
        with HEAVY_READS:
            transcript = self._transcribe(wave, notes, timings)
        if transcript is not None and transcript.text.strip():
            return wave, transcript, transcript.text.strip(), None
        started = time.perf_counter()
        pattern = sounds.analyse(wave)
        timings["sound"] = (time.perf_counter() - started) * 1000
        if pattern is None:
            return wave, transcript, "", None
        extra.append(pattern.description)
        notes.append(f"heard a device sound: {pattern.description}")
        return wave, transcript, "", pattern.description

    def _ocr(self, picture: Any, notes: list[str], timings: dict[str, float]) -> OcrResult | None:
        if self.ocr is None:
            notes.append("screenshot text not read: no OCR engine configured")
            return None
        reader = self.ocr
        result = self._bounded_read(
            lambda: reader.read(picture),
            "ocr",
            notes,
            timings,
            missing=lambda exc: f"screenshot text not read: {exc}",
            failed="the text on the image could not be read; searching by the picture alone",
            log_failure=f"OCR failed on a {getattr(picture, 'size', '?')} image",
        )
        if result is None:
            return None
        if result.empty:
            notes.append("no text found in the image; searching by the picture alone")
        elif result.confidence < LOW_OCR_CONFIDENCE:
            notes.append(f"screenshot text read with low confidence ({result.confidence:.2f})")
        return result

    def _transcribe(self, wave: Any, notes: list[str], timings: dict[str, float]) -> Transcript | None:
        if self.transcriber is None:
            notes.append("voice note not transcribed: no speech recogniser configured")
            return None
        transcriber = self.transcriber
        result = self._bounded_read(
            lambda: transcriber.transcribe(wave),
            "asr",
            notes,
            timings,
            missing=lambda exc: (
                f"voice note not transcribed (speech model missing): {' '.join(str(exc).split())}"
            ),
            failed="the voice note could not be transcribed; searching by the sound alone",
            log_failure=f"speech recognition failed on a {getattr(wave, 'seconds', 0.0):.1f} s clip",
        )
        if result is None:
            return None
        if not result.text.strip():
            notes.append("no speech found in the audio; searching by the sound alone")
        elif result.confidence < LOW_ASR_CONFIDENCE:
            notes.append(f"voice note transcribed with low confidence ({result.confidence:.2f})")
        return result

    def _bounded_read(
        self,
        read: Callable[[], T],
        step: str,
        notes: list[str],
        timings: dict[str, float],
        *,
        missing: Callable[[ModelMissingError], str],
        failed: str,
        log_failure: str,
    ) -> T | None:
        """One reader's result within `read_timeout_s`, its time in `timings[step]`; None, with a note,
        when its model is missing (allowed) or it fails."""
        started = time.perf_counter()
        try:
            result = _bounded(read, self.read_timeout_s)
        except ModelMissingError as exc:
            if not self.allow_missing_models:
                raise
            notes.append(missing(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a reader failure is a note on this turn, never a crash
            log.warning("%s: %r", log_failure, exc)
            notes.append(failed)
            return None
        timings[step] = (time.perf_counter() - started) * 1000
        return result
