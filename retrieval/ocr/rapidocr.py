"""OCR with RapidOCR (PaddleOCR PP-OCR models run by onnxruntime), fully offline.

The `rapidocr` wheel ships its default detection and recognition models (PP-OCRv6 small, multilingual
incl. English) inside the package; we point RapidOCR at those files explicitly, so it never tries its
model download. The text-direction classifier is off: screenshots are upright.
Tuned on bench/ocr_compare.py: detection runs at native resolution.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.errors import ConfigError, InputError
from core.models import fail
from retrieval.ocr.fields import build_result
from retrieval.ocr.protocol import OcrLine, OcrOptions, OcrResult, readable, to_rgb

DET_MODEL = "PP-OCRv6_det_small.onnx"
REC_MODEL = "PP-OCRv6_rec_small.onnx"
_INSTALL = "pip install 'rapidocr>=3.10,<4' onnxruntime"
ROLE = "OCR"


class RapidOcrReader:
    """`ScreenshotReader` on RapidOCR 3.x with the models bundled in its wheel."""

    name = "rapidocr"

    def __init__(self, options: OcrOptions | None = None, model_dir: Path | None = None) -> None:
        self.options = options or OcrOptions()
        self.model_dir = model_dir
        self._engine: Any = None

    def _bundled_dir(self) -> Path:
        if self.model_dir is not None:
            return self.model_dir
        try:
            import rapidocr
        except ImportError as exc:
            raise ConfigError(f"OCR engine 'rapidocr' is not installed: {_INSTALL}") from exc
        return Path(rapidocr.__file__).resolve().parent / "models"

    def locate(self) -> Path:
        """The folder of the detection and recognition models (cheap; nothing is loaded)."""
        model_dir = self._bundled_dir()
        missing = [str(model_dir / n) for n in (DET_MODEL, REC_MODEL) if not (model_dir / n).is_file()]
        if missing:
            fail(
                ROLE,
                "rapidocr",
                f"model file(s) {', '.join(missing)} not found",
                f"Reinstall the wheel that bundles them ({_INSTALL}) or pass model_dir= a folder holding "
                f"{DET_MODEL} and {REC_MODEL}",
            )
        return model_dir

    def load(self) -> None:
        if self._engine is not None:
            return
        model_dir = self.locate()
        det, rec = model_dir / DET_MODEL, model_dir / REC_MODEL
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise ConfigError(f"OCR engine 'rapidocr' is not importable ({exc}): {_INSTALL}") from exc
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Global.text_score": self.options.min_confidence,
            # Detect at native resolution (up to the 2000 px RapidOCR caps images at): the default
            # upscales small images to 736 px (slow) and large ones lose small UI text when shrunk.
            "Det.limit_type": "max",
            "Det.limit_side_len": 2000,
            "Det.model_path": str(det),
            "Rec.model_path": str(rec),
        }
        if self.options.threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.options.threads
        engine = RapidOCR(params=params)
        # RapidOCR opens its onnxruntime sessions lazily; open them now so load() means loaded.
        for opener in ("_load_det_model", "_load_rec_model"):
            method = getattr(engine, opener, None)
            if callable(method):
                method()
        self._engine = engine

    def read(self, image: Image.Image) -> OcrResult:
        self.load()
        rgb = to_rgb(image)
        if not readable(rgb):
            return build_result([], self.name, self.options.known_products)
        try:
            output = self._engine(rgb)
        except Exception as exc:  # noqa: BLE001 - any engine failure is a reason about this image
            raise InputError(
                f"the text on this {rgb.width}x{rgb.height} image could not be read ({type(exc).__name__})"
            ) from exc
        lines: list[OcrLine] = []
        if output.txts is not None and output.boxes is not None and output.scores is not None:
            for text, score, quad in zip(output.txts, output.scores, output.boxes, strict=True):
                points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
                box = (
                    float(points[:, 0].min()),
                    float(points[:, 1].min()),
                    float(points[:, 0].max()),
                    float(points[:, 1].max()),
                )
                lines.append(OcrLine(str(text), min(max(float(score), 0.0), 1.0), box))
        return build_result(lines, self.name, self.options.known_products)
