"""This data dir's abstention calibration (`supportbot calibrate`), as the runtime and doctor read it.

`calibrated_options` gives the engine options whose policy carries the saved thresholds (the runtime
applies them to every engine of the data dir; `--set abstention.*` still wins); `calibration_note`
is the staff-facing line, which says when the knowledge base changed since the calibration.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.config import Settings
from retrieval.manifest import Manifest

if TYPE_CHECKING:
    from chatbot.calibration import Calibration
    from chatbot.engine import EngineOptions

log = logging.getLogger(__name__)


def saved(settings: Settings) -> Calibration | None:
    from chatbot.calibration import load

    return load(settings.calibration_path)


def calibrated_options(settings: Settings) -> EngineOptions | None:
    """Engine options whose abstention policy is this data dir's calibration (None: there is none)."""
    calibration = saved(settings)
    if calibration is None:
        return None
    from chatbot.abstention import AbstentionPolicy
    from chatbot.engine import EngineOptions

    log.info("abstention thresholds calibrated on this knowledge base: %s", calibration.summary())
    return EngineOptions(policy=calibration.thresholds.apply(AbstentionPolicy()))


def calibration_note(settings: Settings) -> str | None:
    """For staff and `supportbot doctor`: what calibration is in use, and whether it is stale."""
    calibration = saved(settings)
    if calibration is None:
        return None
    line = f"abstention thresholds calibrated {calibration.created}: {calibration.summary()}"
    if calibration.kb and calibration.kb != Manifest.load(settings.manifest_path).fingerprint():
        line += "; the knowledge base changed since, re-run `supportbot calibrate` on your questions"
    return line
