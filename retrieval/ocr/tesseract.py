"""OCR with the Tesseract binary (Debian package `tesseract-ocr`), called as a subprocess with TSV output.

No Python wrapper is needed: the image goes in as PNG on stdin, word rows come back as TSV and are
grouped into lines. Small screenshots are upscaled first (Tesseract wants ~30 px tall capitals).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from core.errors import InputError
from core.models import fail
from retrieval.ocr.fields import build_result
from retrieval.ocr.protocol import OcrLine, OcrOptions, OcrResult, readable, to_rgb

_INSTALL = "apt-get install -y tesseract-ocr"
ROLE = "OCR"
# Below this height (pixels) the image is upscaled by 2 before recognition.
_UPSCALE_BELOW = 1600


@dataclass
class _Line:
    words: list[str] = field(default_factory=list)
    confs: list[float] = field(default_factory=list)
    left: float = float("inf")
    top: float = float("inf")
    right: float = 0.0
    bottom: float = 0.0


class TesseractReader:
    """`ScreenshotReader` on the `tesseract` command-line program (5.x)."""

    name = "tesseract"

    def __init__(self, options: OcrOptions | None = None, binary: str = "tesseract", psm: int = 3) -> None:
        self.options = options or OcrOptions()
        self.binary = binary
        self.psm = psm
        self._path: str | None = None

    def locate(self) -> Path:
        """The tesseract program, with trained data for the language (runs `tesseract --list-langs`)."""
        self.load()
        assert self._path is not None
        return Path(self._path)

    def load(self) -> None:
        if self._path is not None:
            return
        path = shutil.which(self.binary)
        if path is None:
            fail(
                ROLE,
                self.binary,
                f"the OCR program {self.binary!r} is not on PATH",
                f"Install it with `{_INSTALL}` (or pick the 'rapidocr' OCR engine)",
            )
        listed = subprocess.run(
            [path, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.split()
        wanted = self.options.language.split("+")
        missing = [lang for lang in wanted if lang not in listed]
        if missing:
            packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
            fail(
                ROLE,
                f"tesseract-{self.options.language}",
                f"tesseract has no trained data for {', '.join(missing)}",
                f"Install it with `apt-get install -y {packages}`",
            )
        self._path = path

    def _command(self) -> list[str]:
        assert self._path is not None
        return [self._path, "stdin", "stdout", "-l", self.options.language, "--psm", str(self.psm), "tsv"]

    def read(self, image: Image.Image) -> OcrResult:
        self.load()
        rgb = to_rgb(image)
        if not readable(rgb):
            return build_result([], self.name, self.options.known_products)
        scale = 2 if rgb.height < _UPSCALE_BELOW else 1
        gray = ImageOps.grayscale(rgb)
        if scale != 1:
            gray = gray.resize((gray.width * scale, gray.height * scale), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        gray.save(buffer, format="PNG")
        # Tesseract's OpenMP threads make it several times slower on small images (measured 0.7 s vs
        # 3-5 s per screenshot on 2 cores), so it runs single-threaded unless told otherwise.
        env = dict(os.environ, OMP_THREAD_LIMIT=str(self.options.threads or 1))
        try:
            done = subprocess.run(
                self._command(),
                input=buffer.getvalue(),
                capture_output=True,
                timeout=self.options.timeout_s,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired as exc:
            raise InputError(
                f"tesseract took longer than {self.options.timeout_s:g}s on a {rgb.width}x{rgb.height} "
                "image; crop or downscale it, or raise the OCR timeout"
            ) from exc
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InputError(
                f"tesseract could not read the image: {message[-1] if message else done.returncode}"
            )
        lines = self._parse_tsv(done.stdout.decode("utf-8", "replace"), scale)
        return build_result(lines, self.name, self.options.known_products)

    def _parse_tsv(self, tsv: str, scale: int) -> list[OcrLine]:
        grouped: dict[tuple[str, str, str, str], _Line] = {}
        threshold = self.options.min_confidence * 100.0
        for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (row.get("text") or "").strip()
            if row.get("level") != "5" or not text:
                continue
            try:
                conf = float(row["conf"])
                left, top = float(row["left"]), float(row["top"])
                width, height = float(row["width"]), float(row["height"])
            except (KeyError, TypeError, ValueError):
                continue
            if conf < threshold:
                continue
            key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
            line = grouped.setdefault(key, _Line())
            line.words.append(text)
            line.confs.append(conf / 100.0)
            line.left, line.top = min(line.left, left), min(line.top, top)
            line.right, line.bottom = max(line.right, left + width), max(line.bottom, top + height)
        out: list[OcrLine] = []
        for line in grouped.values():
            text = " ".join(line.words)
            chars = sum(len(word) for word in line.words)
            conf = sum(len(w) * c for w, c in zip(line.words, line.confs, strict=True)) / max(chars, 1)
            box = (line.left / scale, line.top / scale, line.right / scale, line.bottom / scale)
            out.append(OcrLine(text, min(max(conf, 0.0), 1.0), box))
        return out
