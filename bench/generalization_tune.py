"""`bench/generalization.py --tune`: fusion weights and abstention thresholds chosen on the dev split.

Each dev case runs once through the engine with `top_k` 50, so its hits carry every source's rank and
raw score for (nearly) every candidate; each weight setting is then replayed offline with
`retrieval.fusion` (the same function the store uses), the graph's two shares and the media prior.
It prints the settings best on the mean over the sets, then each set's own best beside it.
Abstention thresholds are picked from each in-scope / out-of-scope case's term coverage,
text-embedder similarity and share of words the knowledge base never uses (as the trace records
them), with a false answer costing three refusals and false answers <= 5 % in every set.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chatbot.calibration import FALSE_ANSWER_COST, Observation, answered_by
from chatbot.engine import ChatEngine
from core.config import Settings
from core.types import SourceScore
from retrieval.evaluation import EvalCase
from retrieval.fusion import FusionWeights, fuse

Recorded = list[tuple[str, str, dict[str, SourceScore]]]  # (doc_id, modality, sources) per hit


def replay(hits: Recorded, weights: FusionWeights, typed: bool) -> list[str]:
    """The documents in the order `weights` would rank these hits."""
    store = {str(i): {n: s for n, s in src.items() if n != "graph"} for i, (_, _, src) in enumerate(hits)}
    per_source: dict[str, dict[str, SourceScore]] = {}
    for pk, sources in store.items():
        for name, s in sources.items():
            per_source.setdefault(name, {})[pk] = s
    scores = fuse(per_source, weights)
    graph = {str(i): src["graph"] for i, (_, _, src) in enumerate(hits) if "graph" in src}
    top = max((s.score for s in graph.values()), default=0.0)
    for pk, s in graph.items():
        weight = weights.graph if store[pk] else weights.graph_new
        scores[pk] = scores.get(pk, 0.0) + weights.share("graph", s, top, weight)
    for i, (_, modality, _) in enumerate(hits):
        if typed and modality != "text" and str(i) in scores:
            scores[str(i)] *= weights.media_prior
    order = sorted(scores, key=lambda pk: -scores[pk])
    return list(dict.fromkeys(hits[int(pk)][0] for pk in order))


def _grid() -> list[FusionWeights]:
    out = [
        FusionWeights("score", bm25=b, sentence=1.0, graph=g, graph_new=n, media_prior=m)
        for b, g, n, m in itertools.product(
            (0.0, 0.05, 0.07, 0.1, 0.2, 0.3), (0.0, 0.05, 0.1, 0.2), (0.0, 0.05, 0.1), (0.7, 0.8, 0.9, 0.98)
        )
    ]
    out += [
        FusionWeights("rrf", bm25=b, sentence=w, graph=g, graph_new=n)
        for b, w, g, n in itertools.product(
            (0.5, 1.0), (1.0, 2.0, 3.0, 5.0), (0.25, 0.5, 1.0), (0.0, 0.5, 1.0)
        )
    ]
    return out


def tune(
    kbs: Sequence[tuple[Path, list[tuple[str, Path]]]],
    settings: Callable[[int, tuple[str, ...]], Settings],
    run_kb: Callable[..., Any],
    out: Path | None = None,
) -> None:
    """Prints the best fusion weights and abstention thresholds; `out`: the abstention features as JSON."""
    recorded: dict[str, list[tuple[Recorded, tuple[str, ...], bool]]] = {}
    features: dict[str, tuple[float, float, float, bool, bool]] = {}

    def visit(engine: ChatEngine, name: str, cases: list[EvalCase], feats: dict[str, Any]) -> None:
        judged = [c for c in cases if c.answerable is not None]
        features.update({f"{name}:{c.id}": (*feats[c.id], bool(c.answerable)) for c in judged})
        if "abstention" in name or name == "sample KB near scope":  # scored for abstention only
            return
        recorded[name] = []
        for case in cases:
            hits = feats[f"hits:{case.id}"]
            recorded[name].append((hits, case.expected, case.image is None and case.audio is None))

    for i, (kb, sets) in enumerate(kbs):
        run_kb(kb, sets, settings(i, ("engine.top_k=50",)), visit)
    rows = []
    for w in _grid():
        per_set = []
        for runs in recorded.values():
            scored = [(h, e, t) for h, e, t in runs if e]
            per_set.append(
                sum(replay(h, w, t)[:1] in ([d] for d in e) for h, e, t in scored) / max(1, len(scored))
            )
        rows.append((sum(per_set) / len(per_set), per_set, w))
    rows.sort(key=lambda r: -r[0])
    print("fusion weights -> mean hit@1 over", ", ".join(recorded))
    for mean, per_set, w in rows[:10]:
        print(f"  {mean:.4f} {[round(x, 3) for x in per_set]} {w}")
    for k, name in enumerate(recorded):
        best = max(rows, key=lambda r: r[1][k])
        print(f"  best for {name} alone: {best[1][k]:.4f} (the weights above: {rows[0][1][k]:.4f}) {best[2]}")
    plain = next(r for r in rows if r[2] == FusionWeights.equal())
    print(f"  plain RRF: {plain[0]:.4f} {[round(x, 3) for x in plain[1]]}")
    if out is not None:
        hits = {
            name: [
                ([(d, m, {n: [s.rank, s.score] for n, s in src.items()}) for d, m, src in h], e, t)
                for h, e, t in runs
            ]
            for name, runs in recorded.items()
        }
        out.write_text(json.dumps({"abstention": features, "hits": hits}), encoding="utf-8")
    _thresholds(features)


def _rule_rows(
    features: dict[str, tuple[float, float, float, bool, bool]],
) -> list[tuple[float, float, float, float, float, dict[str, tuple[float, float]]]]:
    """(cost, coverage, similarity, penalty, coverage penalty, {set: (accuracy, false-answer rate)}) per
    threshold setting, only where every set keeps false answers <= 5 %. The rule is the engine's, as
    `chatbot.calibration.answered_by` applies it to a grid of settings."""
    sets = sorted({k.split(":", 1)[0] for k, v in features.items() if not v[-1]})  # sets with out-of-scope
    seen = {
        name: [
            Observation(k, ans, c, s, u, early)
            for k, (c, s, u, early, ans) in features.items()
            if k.split(":", 1)[0] == name
        ]
        for name in sets
    }
    grid = np.array(
        list(
            itertools.product(
                (0.55, 0.6, 0.7),
                [x / 100 for x in range(24, 49)],
                (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
                (0.0, 0.2, 0.4, 0.6),
            )
        )
    )
    cost = np.zeros(len(grid))
    ok = np.ones(len(grid), dtype=bool)
    per_set: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in sets:
        own = seen[name]
        inside = np.array([o.in_scope for o in own])
        answered = answered_by(grid, own)
        fa = (answered & ~inside).sum(1)
        fr = (~answered & inside).sum(1)
        n_out = int((~inside).sum()) or 1
        ok &= fa / n_out <= 0.05
        cost += FALSE_ANSWER_COST * fa + fr
        per_set[name] = (np.round(1 - (fa + fr) / len(own), 3), np.round(fa / n_out, 3))
    rows = [
        (
            float(cost[i]),
            *(float(x) for x in grid[i]),
            {name: (float(acc[i]), float(fa_rate[i])) for name, (acc, fa_rate) in per_set.items()},
        )
        for i in np.flatnonzero(ok)
    ]
    return sorted(rows, key=lambda r: (r[0], -r[1], r[2], r[3], -r[4]))


def _thresholds(features: dict[str, tuple[float, float, float, bool, bool]]) -> None:
    print(
        "abstention (answer if coverage >= c + coverage penalty x unknown-word share or similarity >= s + "
        "penalty x that share); "
        "cost = 3 x false answers + refusals, false answers <= 5 % in every set"
    )
    for cost, cov, sim, pen, cpen, per_set in _rule_rows(features)[:10]:
        print(
            f"  coverage {cov:.2f} (+{cpen:.1f}) similarity {sim:.2f} (+{pen:.1f}): {per_set} (cost {cost})"
        )
