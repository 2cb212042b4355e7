"""What the text embedder indexes for a chunk: its whole text blended with its heading.

A help-centre page is mostly a question as its title or heading plus an answer, and a customer's
question is closest to the page's question: all-MiniLM-L6-v2 was trained on question pairs, while
the mean of a long answer's tokens drifts from what the page is about. So each chunk's vector is
the normalised sum of the vector of its whole text (title and heading path first, then the body,
cut at the model's limit) and `HEADING_WEIGHT` times the vector of its title and heading path
alone. One vector per chunk, so the store and the query side are unchanged. The weight was chosen
on the dev split of `bench/generalization.py`: 0.5 ranked best on the text embedder alone (hit@1 on
the sample KB 0.600 -> 0.733, ABCD 0.897 -> 0.931, Bitext pages unchanged, 0.3 gave 0.650 / 0.931)
but pushed two graph-led sample-KB follow-ups (`tests/test_conversations.py`) to rank 2; 0.3 keeps them.
`RECIPE` names this in the ingestion signature, so a data dir embedded before re-embeds on the next
ingest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.types import Chunk
from retrieval.documents.chunking import PATH_SEPARATOR
from retrieval.embedders.protocol import TextEmbedder

HEADING_WEIGHT = 0.3
RECIPE = f"heading{HEADING_WEIGHT:g}"


def heading_of(chunk: Chunk) -> str:
    """The chunk's title and heading path ("Setup > Wi-Fi"), a repeated heading once."""
    parts = [chunk.title.strip()] if chunk.title.strip() else []
    for heading in chunk.metadata.get("heading_path", ()) or ():
        heading = str(heading).strip()
        if heading and (not parts or heading.casefold() != parts[-1].casefold()):
            parts.append(heading)
    return PATH_SEPARATOR.join(parts)


def chunk_vectors(
    embedder: TextEmbedder, chunks: Sequence[Chunk], weight: float = HEADING_WEIGHT
) -> np.ndarray:
    """One unit vector per chunk: its whole text's vector plus `weight` x its heading's (see above);
    a chunk without a title or heading keeps its text's vector."""
    vectors = np.asarray(embedder.embed_text([c.text for c in chunks]), dtype=np.float32)
    if vectors.shape[0] != len(chunks):
        raise RuntimeError(f"text embedder returned {vectors.shape[0]} vectors for {len(chunks)} texts")
    headed = [i for i, c in enumerate(chunks) if heading_of(c)]
    if headed and weight > 0:
        heads = np.asarray(embedder.embed_text([heading_of(chunks[i]) for i in headed]), dtype=np.float32)
        vectors[headed] += weight * heads
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    return vectors
