"""Chunking time against document size, for the shapes that were superlinear (issue 12, defect 5):
a one-line heading, one giant word and plain prose, from 40k to 1.9M characters.

Run: `python bench/chunking_scaling.py`. Prints seconds per size side by side and the ratio of the
largest to the smallest per character (about 1 when chunking is linear).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from core.config import Limits
from retrieval.documents.loaders import load_chunks
from retrieval.documents.walk import KBFile

SIZES = (40_000, 160_000, 640_000, 1_900_000)
SHAPES = {
    "one-line heading": lambda n: "# " + "word " * (n // 5) + "\n",
    "one giant word": lambda n: "x" * n,
    "prose": lambda n: "Hold the reset button for ten seconds. " * (n // 39),
}


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="chunk-bench-"))
    print(f"{'shape':<18}" + "".join(f"{n:>12,}" for n in SIZES) + f"{'s/char ratio':>14}")
    for shape, make in SHAPES.items():
        times = []
        for n in SIZES:
            path = root / "doc.md"
            path.write_text(make(n), encoding="utf-8")
            started = time.perf_counter()
            load_chunks(KBFile(path, "doc.md", "document"), Limits())
            times.append(time.perf_counter() - started)
        ratio = (times[-1] / SIZES[-1]) / max(times[0] / SIZES[0], 1e-12)
        print(f"{shape:<18}" + "".join(f"{t:>11.2f}s" for t in times) + f"{ratio:>14.1f}")


if __name__ == "__main__":
    main()
