"""`bench/generalization.py --tune`: fusion weights and abstention thresholds chosen on the dev split.

Each dev case runs once through the engine with `top_k` 50, so its hits carry every source's rank and
raw score for (nearly) every candidate; each weight setting is then replayed offline with
`retrieval.fusion` (the same function the store uses), the graph's two shares and the media prior.
Abstention thresholds are picked from each in-scope / out-of-scope case's term coverage and
text-embedder similarity, with a false answer costing three refusals.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
            (0.0, 0.05, 0.1, 0.2, 0.3), (0.0, 0.05, 0.1, 0.2), (0.0, 0.05, 0.1), (0.9, 0.98)
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
) -> None:
    recorded: dict[str, list[tuple[Recorded, tuple[str, ...], bool]]] = {}
    features: dict[str, tuple[float, float, bool]] = {}

    def visit(engine: ChatEngine, name: str, cases: list[EvalCase], feats: dict[str, Any]) -> None:
        judged = [c for c in cases if c.answerable is not None]
        features.update({f"{name}:{c.id}": (*feats[c.id], bool(c.answerable)) for c in judged})
        if name == "abstention":
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
    plain = next(r for r in rows if r[2] == FusionWeights.equal())
    print(f"  plain RRF: {plain[0]:.4f} {[round(x, 3) for x in plain[1]]}")
    _thresholds(features)


def _thresholds(features: dict[str, tuple[float, float, bool]]) -> None:
    print("abstention (answer if coverage >= c or similarity >= s); cost = 3 x false answers + refusals")
    n_out = sum(not a for *_, a in features.values()) or 1
    rows = []
    for cov, sim in itertools.product([x / 20 for x in range(6, 17)], [x / 40 for x in range(8, 36)]):
        answered = {k: (c >= cov or s >= sim) for k, (c, s, _) in features.items()}
        fa = sum(answered[k] and not a for k, (_, _, a) in features.items())
        fr = sum(not answered[k] and a for k, (_, _, a) in features.items())
        rows.append((3 * fa + fr, cov, sim, 1 - (fa + fr) / len(features), fa / n_out))
    allowed = [r for r in rows if r[4] <= 0.05]
    if allowed:
        cost, cov, sim, acc, far = min(allowed)
        print(
            f"  best with false answers <= 5 %: coverage {cov:.2f} similarity {sim:.3f}: accuracy {acc:.3f} "
            f"false answers {far:.3f} (cost {cost})"
        )
        for c2, s2 in ((cov, sim + 0.025), (cov, sim - 0.025), (0.55, sim)):
            r = next((r for r in rows if abs(r[1] - c2) < 1e-9 and abs(r[2] - s2) < 1e-9), None)
            if r:
                print(
                    f"    neighbour coverage {r[1]:.2f} similarity {r[2]:.3f}: "
                    f"accuracy {r[3]:.3f} false {r[4]:.3f}"
                )
    best = min(r[0] for r in rows)
    tied = [r for r in rows if r[0] == best]
    print(
        f"  lowest cost {best}: coverage {min(r[1] for r in tied)}-{max(r[1] for r in tied)}, "
        f"similarity {min(r[2] for r in tied)}-{max(r[2] for r in tied)}"
    )
    for cost, cov, sim, acc, far in sorted(rows)[:10]:
        print(
            f"  coverage {cov:.2f} similarity {sim:.3f}: accuracy {acc:.3f} false answers {far:.3f} ({cost})"
        )
