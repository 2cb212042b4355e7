"""Generate voice-note and chat-screenshot versions of sample-KB FAQ questions, plus their eval query file.

Voice notes: each question is spoken by espeak-ng (22.05 kHz), resampled to 16 kHz mono 16-bit WAV with
numpy (band-limited FFT resampling) and written as data/eval/media/spoken_NN.wav. Screenshots: each question
is drawn as the customer's bubble in a chat-app screen (status bar, header, input bar; optionally an agent
greeting) with DejaVu Sans and written as data/eval/media/typed_NN.png. The query cases go to
data/eval/multimodal_queries.jsonl (ids spk-NN / shot-NN, media paths relative to the JSONL). Run:

    python data/tools/make_spoken.py

Needs espeak-ng (Debian: espeak-ng) and DejaVu Sans (Debian: fonts-dejavu-core). The output is byte-for-byte
the same on every run with the same espeak-ng, Pillow and libsndfile. The functions are also used by
tests/test_multimodal_queries.py to make the same kind of media at test time.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw, ImageFont

# The neighbouring generator modules, also when this file is loaded by path (the tests do).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_common import wrap  # noqa: E402

DATA = Path(__file__).resolve().parent.parent
FAQ = DATA / "kb" / "faq.csv"
MEDIA = DATA / "eval" / "media"
QUERIES = DATA / "eval" / "multimodal_queries.jsonl"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
RATE = 16_000

# FAQ rows (1-based, header excluded) to speak and to draw, with the other KB documents that answer each
# question (checked by hand against data/kb). Spoken and drawn questions are disjoint.
SPOKEN: dict[int, tuple[str, ...]] = {
    2: ("manuals/x300-router-setup.md",),
    6: ("accessories/power-adapters.md", "manuals/x300-router-setup.md"),
    10: ("troubleshooting/e42-mesh-link-lost.md",),
    14: ("troubleshooting/e12-firmware-update-failed.md",),
    18: ("troubleshooting/beep-codes.md", "manuals/c5-smart-camera-setup.md", "sounds/alarm_tamper.wav"),
    22: ("manuals/p2-smart-plug-setup.md", "release-notes/app-4.3.0.md"),
    26: ("release-notes/app-4.3.0.md", "manuals/aeris-home-app-guide.md"),
    30: ("policies/warranty.md",),
    34: ("policies/returns-and-refunds.md",),
    38: ("policies/shipping.md",),
}
DRAWN: dict[int, tuple[str, ...]] = {
    4: ("manuals/x200-router-setup.md", "accessories/power-adapters.md"),
    8: ("manuals/m10-mesh-extender-setup.md",),
    12: ("manuals/x200-leds-and-reset.md",),
    16: (
        "manuals/c5-smart-camera-setup.md",
        "troubleshooting/e57-camera-storage-error.md",
        "manuals/c5-quick-start-guide.pdf",
    ),
    20: ("manuals/p2-smart-plug-setup.md",),
    24: ("manuals/h1-hub-setup.md", "troubleshooting/e91-hub-radio-fault.md", "release-notes/app-4.3.0.md"),
    28: ("manuals/aeris-home-app-guide.md",),
    32: ("policies/returns-and-refunds.md",),
    36: ("policies/shipping.md",),
    40: ("policies/privacy.md",),
}


def faq_questions(path: Path = FAQ) -> dict[int, str]:
    """Row number (1-based, as in the doc_id `faq.csv#row-N`) -> question."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {n: row["question"].strip() for n, row in enumerate(csv.DictReader(fh), start=1)}


def faq_doc_id(row: int) -> str:
    return f"faq.csv#row-{row}"


# --- voice notes ---------------------------------------------------------------------------------------


def espeak() -> str | None:
    """The espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def resample(samples: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Band-limited resampling of a whole clip: keep the spectrum below the lower Nyquist, change length."""
    if orig_rate == target_rate or samples.size == 0:
        return samples.astype(np.float32)
    n_out = max(1, round(samples.size * target_rate / orig_rate))
    spectrum = np.fft.rfft(samples.astype(np.float64))
    keep = min(spectrum.size, n_out // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n=n_out) * (n_out / samples.size)
    return out.astype(np.float32)


def speak(text: str, out: Path, *, exe: str | None = None, words_per_minute: int = 160) -> Path:
    """Speak `text` with espeak-ng into `out` as a 16 kHz mono 16-bit WAV."""
    exe = exe or espeak()
    if exe is None:
        raise FileNotFoundError("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory(prefix="spoken-") as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            [exe, "-s", str(words_per_minute), "-w", str(raw), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        samples, rate = sf.read(str(raw), dtype="float32", always_2d=True)
    mono = resample(samples.mean(axis=1), int(rate), RATE)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    if peak > 0.99:
        mono = mono * (0.99 / peak)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), mono, RATE, subtype="PCM_16", format="WAV")
    return out


# --- chat screenshots ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Theme:
    background: str
    status_bar: str
    status_text: str
    header: str
    header_text: str
    agent_bubble: str
    agent_text: str
    customer_bubble: str
    customer_text: str
    meta_text: str
    input_bar: str
    input_field: str
    input_hint: str


THEMES: dict[str, Theme] = {
    "light": Theme(
        "#f4f5f7", "#1f2a36", "#ffffff", "#2c6bed", "#ffffff", "#e3e6ea", "#1d1f23",
        "#2c6bed", "#ffffff", "#7a808a", "#ffffff", "#eef0f3", "#9aa0a8",
    ),
    "dark": Theme(
        "#15181d", "#000000", "#d8dbe0", "#1e2530", "#e8eaed", "#2a2f38", "#e8eaed",
        "#3d7bf0", "#ffffff", "#8a909a", "#1e2530", "#2a2f38", "#7d838c",
    ),
}  # fmt: skip


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at `size` px; FileNotFoundError (saying which package) when it is not installed."""
    path = FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (Debian: apt-get install fonts-dejavu-core)")
    return ImageFont.truetype(str(path), size)


def render_chat(
    question: str,
    *,
    theme: str = "light",
    width: int = 480,
    clock: str = "9:41",
    title_text: str = "Aeris Home Support",
    greeting_text: str | None = None,
) -> Image.Image:
    """A phone chat screen in which the customer's latest bubble says `question`.

    `greeting_text`, when given, is an earlier agent bubble above the question (more text that is not the
    question: it makes the screenshot harder to search with).
    """
    t = THEMES[theme]
    body, small, title = font(19), font(13), font(20, bold=True)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    bubble_w = int(width * 0.72)
    greeting = wrap(probe, greeting_text, body, bubble_w - 28) if greeting_text else []
    asked = wrap(probe, question, body, bubble_w - 28)
    line_h = 25
    agent_h = len(greeting) * line_h + 24 + 36 if greeting else 0
    height = 84 + 24 + agent_h + (len(asked) * line_h + 24) + 40 + 64
    image = Image.new("RGB", (width, height), t.background)
    draw = ImageDraw.Draw(image)
    # Status bar and header.
    draw.rectangle((0, 0, width, 28), fill=t.status_bar)
    draw.text((14, 6), clock, font=small, fill=t.status_text)
    draw.text((width - 70, 6), "LTE 82%", font=small, fill=t.status_text)
    draw.rectangle((0, 28, width, 84), fill=t.header)
    draw.text((16, 42), "<", font=title, fill=t.header_text)
    draw.ellipse((40, 38, 76, 74), fill=t.agent_bubble)
    draw.text((51, 46), "A", font=title, fill=t.agent_text)
    draw.text((88, 36), title_text, font=title, fill=t.header_text)
    draw.text((88, 62), "online", font=small, fill=t.header_text)
    y = 84 + 24
    if greeting:  # agent bubble (left)
        box_h = len(greeting) * line_h + 24
        draw.rounded_rectangle((14, y, 14 + bubble_w, y + box_h), radius=16, fill=t.agent_bubble)
        for i, line in enumerate(greeting):
            draw.text((28, y + 12 + i * line_h), line, font=body, fill=t.agent_text)
        y += box_h + 6
        draw.text((18, y), "Support  9:40", font=small, fill=t.meta_text)
        y += 30
    # Customer bubble (right): the question.
    text_w = max(draw.textlength(line, font=body) for line in asked)
    box_w = int(text_w) + 28
    box_h = len(asked) * line_h + 24
    left = width - 14 - box_w
    draw.rounded_rectangle((left, y, width - 14, y + box_h), radius=16, fill=t.customer_bubble)
    for i, line in enumerate(asked):
        draw.text((left + 14, y + 12 + i * line_h), line, font=body, fill=t.customer_text)
    y += box_h + 6
    draw.text((width - 76, y), "Read 9:41", font=small, fill=t.meta_text)
    # Input bar.
    top = height - 64
    draw.rectangle((0, top, width, height), fill=t.input_bar)
    draw.rounded_rectangle((14, top + 12, width - 70, top + 52), radius=20, fill=t.input_field)
    draw.text((30, top + 22), "Type a message", font=font(17), fill=t.input_hint)
    draw.ellipse((width - 58, top + 12, width - 18, top + 52), fill=t.customer_bubble)
    draw.polygon(
        [(width - 45, top + 22), (width - 27, top + 32), (width - 45, top + 42)], fill=t.customer_text
    )
    return image


def save_png(image: Image.Image, path: Path) -> Path:
    """A small, deterministic PNG (no metadata, palette of 64 colours: anti-aliased text stays legible)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        buffer, format="PNG", optimize=True
    )
    path.write_bytes(buffer.getvalue())
    return path


# --- the eval set --------------------------------------------------------------------------------------


def write_all(media: Path = MEDIA, queries: Path = QUERIES) -> list[dict[str, object]]:
    """Write every voice note and screenshot plus the JSONL; returns the cases."""
    exe = espeak()
    if exe is None:
        raise SystemExit("espeak-ng is not installed (Debian: apt-get install espeak-ng)")
    questions = faq_questions()
    cases: list[dict[str, object]] = []
    for n, (row, others) in enumerate(sorted(SPOKEN.items()), start=1):
        wav = speak(questions[row], media / f"spoken_{n:02d}.wav", exe=exe)
        cases.append(_case(f"spk-{n:02d}", "audio", wav, queries.parent, row, others))
    for n, (row, others) in enumerate(sorted(DRAWN.items()), start=1):
        theme = "dark" if n % 3 == 0 else "light"
        png = save_png(render_chat(questions[row], theme=theme), media / f"typed_{n:02d}.png")
        cases.append(_case(f"shot-{n:02d}", "image", png, queries.parent, row, others))
    queries.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return cases


def _case(
    case_id: str, key: str, path: Path, base: Path, row: int, others: tuple[str, ...]
) -> dict[str, object]:
    return {
        "id": case_id,
        key: Path(os.path.relpath(path, base)).as_posix(),
        "expected": [faq_doc_id(row), *others],
        "answerable": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=MEDIA, help="where the wav/png files go")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="the JSONL to write")
    args = parser.parse_args(argv)
    cases = write_all(args.media, args.queries)
    size = sum(p.stat().st_size for p in args.media.glob("spoken_*.wav")) + sum(
        p.stat().st_size for p in args.media.glob("typed_*.png")
    )
    print(f"wrote {len(cases)} cases to {args.queries} ({size / 1e6:.2f} MB of media)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
