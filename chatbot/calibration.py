"""Abstention thresholds calibrated on one company's own questions (`supportbot calibrate`).

How close a question has to come to the knowledge base before the bot answers depends on the knowledge
base: on a help centre of one short question and answer per topic, customers' messy wordings ("need help
lodging a reclamation against ur organization") reach a text-embedder cosine of 0.3, while on a product
manual an off-topic question that names a product ("tell me a joke about routers") reaches 0.4. One
global threshold cannot get both right, so a company calibrates its own: its customers' questions (eval
cases, `answerable` true or with expected documents) are the in-scope side; its `answerable: false`
cases and the general questions of `chatbot.off_topic` the out-of-scope side. Each runs through the
engine once (`app.calibrate_cmd`); from what the rule weighed for each (an `Observation`), the
thresholds of `chatbot.abstention.AbstentionPolicy` (coverage, similarity and their unknown-word
penalties) are chosen on a grid (`fit`): fewest `FALSE_ANSWER_COST` x false answers + refusals, false
answers at most `max_false_answer` of the out-of-scope side; among equally good settings the one with
the widest margin. The result is saved in the data dir (`abstention.json`) with the fingerprint of the
knowledge base it was measured on; the runtime applies it (explicit `--set abstention.*` still wins) and
`supportbot doctor` says when the knowledge base changed since.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.abstention import AbstentionPolicy
from core.errors import ConfigError

FALSE_ANSWER_COST = 3.0  # answering an out-of-scope question costs as much as three refusals
CALIBRATION_VERSION = 1
_COVERAGE = tuple(round(0.4 + 0.05 * i, 2) for i in range(11))  # 0.40 .. 0.90
_SIMILARITY = tuple(round(0.15 + 0.01 * i, 2) for i in range(46))  # 0.15 .. 0.60
_PENALTY = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
_COVERAGE_PENALTY = (0.0, 0.2, 0.4, 0.6)


@dataclass(frozen=True)
class Observation:
    """What the abstention rule weighed for one calibration question (from its turn trace).
    `early`: refused by a rule before any threshold (a product the KB does not cover, an unreadable
    reading); `bundled`: one of `chatbot.off_topic`'s questions."""

    text: str
    in_scope: bool
    coverage: float
    similarity: float
    unknown_share: float
    early: bool = False
    bundled: bool = False


@dataclass(frozen=True)
class Thresholds:
    """The four `AbstentionPolicy` fields calibration sets."""

    min_coverage: float
    min_similarity: float
    unknown_penalty: float
    unknown_coverage_penalty: float

    def __post_init__(self) -> None:
        for name, value in dataclasses.asdict(self).items():
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"calibrated threshold {name} must be a number in [0, 1], got {value!r}")

    def apply(self, policy: AbstentionPolicy) -> AbstentionPolicy:
        """`policy` with these thresholds. The confidence a verdict records (`coverage`) already holds
        an ImageBind cosine where that channel ran, and the engine compares it with the lower of
        `min_coverage` and `min_dense`; `min_dense` is set to the calibrated coverage so that the rule
        the engine applies is the one calibrated."""
        return dataclasses.replace(policy, **dataclasses.asdict(self), min_dense=self.min_coverage)

    def answers(self, o: Observation) -> bool:
        """Whether the rule with these thresholds answers `o` (as `chatbot.abstention.judge` does)."""
        if o.early:
            return False
        return (
            o.similarity >= self.min_similarity + self.unknown_penalty * o.unknown_share
            or o.coverage >= min(1.0, self.min_coverage + self.unknown_coverage_penalty * o.unknown_share)
        )


@dataclass(frozen=True)
class Calibration:
    """Thresholds with what they were measured on: `n_in` / `n_out` questions (in / out of scope),
    the accuracy and false-answer / false-refusal rates on them, the bundled off-topic questions
    left out because the KB matches them like its own (`dropped`), whether the false-answer limit
    could be met (`met`), the fingerprint of the knowledge base (`kb`) and the cases left out because
    their inputs were rejected (`skipped`)."""

    thresholds: Thresholds
    n_in: int
    n_out: int
    accuracy: float
    false_answer: float
    false_refusal: float
    max_false_answer: float
    met: bool
    dropped: tuple[str, ...] = ()
    kb: str = ""
    created: str = ""
    skipped: tuple[str, ...] = ()  # cases whose inputs were rejected, with the reason

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["dropped"] = list(self.dropped)
        out["skipped"] = list(self.skipped)
        return {"version": CALIBRATION_VERSION, **out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["thresholds"] = Thresholds(**data["thresholds"])
        values["dropped"] = tuple(data.get("dropped") or ())
        values["skipped"] = tuple(data.get("skipped") or ())
        return cls(**values)

    def summary(self) -> str:
        t = self.thresholds
        return (
            f"coverage {t.min_coverage:.2f} (+{t.unknown_coverage_penalty:.1f} x unknown share), "
            f"similarity {t.min_similarity:.2f} (+{t.unknown_penalty:.1f} x unknown share); on {self.n_in} "
            f"in-scope and {self.n_out} out-of-scope questions: accuracy {self.accuracy:.3f}, false answers "
            f"{self.false_answer:.3f}, refusals of in-scope questions {self.false_refusal:.3f}"
        )


def observation(text: str, in_scope: bool, verdict: Any, *, bundled: bool = False) -> Observation:
    """An `Observation` from a turn trace's `AbstentionRecord` (or a `Verdict`)."""
    early = bool(verdict.abstain) and verdict.kind not in ("out_of_scope", "")
    return Observation(
        text,
        in_scope,
        float(verdict.coverage),
        float(verdict.similarity),
        float(verdict.unknown_share),
        early,
        bundled,
    )


def drop_in_scope_looking(observations: Sequence[Observation]) -> tuple[list[Observation], list[str]]:
    """Bundled off-topic questions this KB matches like its own in-scope ones (a similarity at the
    in-scope median or above, or every topic word found at the in-scope lower quartile or above) are
    left out: for this company they may well be in scope."""
    inside = sorted(o.similarity for o in observations if o.in_scope)
    if len(inside) < 4:
        return list(observations), []
    median = statistics.median(inside)
    quartile = inside[len(inside) // 4]
    kept: list[Observation] = []
    dropped: list[Observation] = []
    for o in observations:
        close = o.similarity >= median or (o.coverage >= 1.0 and o.similarity >= quartile)
        (dropped if o.bundled and close else kept).append(o)
    return kept, [o.text for o in dropped]


def _grid() -> np.ndarray:
    rows = itertools.product(_COVERAGE, _SIMILARITY, _PENALTY, _COVERAGE_PENALTY)
    return np.array(list(rows), dtype=np.float64)


def answered_by(grid: np.ndarray, observations: Sequence[Observation]) -> np.ndarray:
    """(settings x questions) booleans: would each setting (a row of coverage, similarity, penalty,
    coverage penalty) answer each question; `Thresholds.answers` for a whole grid at once."""
    cov = np.array([o.coverage for o in observations])
    sim = np.array([o.similarity for o in observations])
    unk = np.array([o.unknown_share for o in observations])
    early = np.array([o.early for o in observations])
    c, s, p, cp = (grid[:, i : i + 1] for i in range(4))
    by_sim = sim[None, :] >= s + p * unk[None, :] - 1e-9
    by_cov = cov[None, :] >= np.minimum(1.0, c + cp * unk[None, :]) - 1e-9
    return (by_sim | by_cov) & ~early[None, :]


def fit(observations: Sequence[Observation], max_false_answer: float = 0.05) -> Calibration:
    """The thresholds that do best on `observations` (see the module doc)."""
    if not 0.0 <= max_false_answer <= 1.0:
        raise ConfigError(f"max_false_answer must be in [0, 1], got {max_false_answer}")
    kept, dropped = drop_in_scope_looking(observations)
    inside = np.array([o.in_scope for o in kept])
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if n_in == 0 or n_out == 0:
        raise ConfigError(
            "calibration needs questions on both sides: in-scope cases (answerable, or with expected "
            f"documents) and out-of-scope ones; got {n_in} in scope and {n_out} out of scope"
        )
    grid = _grid()
    answered = answered_by(grid, kept)
    false_answers = (answered & ~inside[None, :]).sum(1)
    refusals = (~answered & inside[None, :]).sum(1)
    cost = FALSE_ANSWER_COST * false_answers + refusals
    allowed = false_answers <= max_false_answer * n_out + 1e-9
    met = bool(allowed.any())
    if not met:  # the limit cannot be met: fewest false answers first
        allowed = false_answers == false_answers.min()
    best = cost[allowed].min()
    chosen = _widest_margin(grid, allowed & (cost == best))
    fa, fr = int(false_answers[chosen]), int(refusals[chosen])
    c, s, p, cp = (float(round(x, 2)) for x in grid[chosen])
    return Calibration(
        Thresholds(c, s, p, cp),
        n_in,
        n_out,
        round(1 - (fa + fr) / (n_in + n_out), 4),
        round(fa / n_out, 4),
        round(fr / n_in, 4),
        max_false_answer,
        met,
        tuple(dropped),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _widest_margin(grid: np.ndarray, best: np.ndarray) -> int:
    """Among the best settings: the (coverage, penalties) group with the longest run of similarity
    thresholds, at the middle of that run (the setting least likely to flip on new questions)."""
    groups: dict[tuple[float, float, float], list[int]] = {}
    for i in np.flatnonzero(best):
        c, _, p, cp = grid[i]
        groups.setdefault((c, p, cp), []).append(int(i))
    members = max(groups.values(), key=lambda rows: (len(rows), -rows[0]))
    return members[len(members) // 2]


def save(path: Path, calibration: Calibration) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(calibration.to_dict(), indent=1), encoding="utf-8")
    tmp.replace(path)


def load(path: Path) -> Calibration | None:
    """The saved calibration, None when there is none; a damaged file is a `ConfigError` that says
    how to recover."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CALIBRATION_VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {CALIBRATION_VERSION}")
        return Calibration.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError, ConfigError) as exc:
        raise ConfigError(
            f"abstention calibration {path} is unreadable ({exc}); delete it to use the default thresholds, "
            "or run `supportbot calibrate CASES.jsonl` again"
        ) from exc
