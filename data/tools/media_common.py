"""Shared helpers for the sample-KB media generators: font lookup, text wrapping, deterministic image saving.

Used by make_media.py and its sibling modules; nothing here writes files except `save_image`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# DejaVu ships with most Linux distributions (Debian: fonts-dejavu-core); Pillow's own font is the fallback.
_FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/Library/Fonts",
    "C:/Windows/Fonts",
)
_FONT_FILES = {
    False: ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf"),
    True: ("DejaVuSans-Bold.ttf", "arialbd.ttf"),
}


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> Font:
    """A legible TrueType font at `size` px, or Pillow's built-in font when no TTF is installed."""
    for folder in _FONT_DIRS:
        for name in _FONT_FILES[bold] + _FONT_FILES[False]:
            path = Path(folder) / name
            if path.is_file():
                return ImageFont.truetype(str(path), size)
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def wrap(draw: ImageDraw.ImageDraw, text: str, fnt: Font, width: float) -> list[str]:
    """Greedy word wrap so that each line fits in `width` pixels."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=fnt) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def draw_paragraph(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    fnt: Font,
    width: float,
    fill: str,
    gap: int = 6,
) -> float:
    """Draw wrapped text starting at `xy`; returns the y just below the last line."""
    x, y = float(xy[0]), float(xy[1])
    line_height = fnt.getbbox("Ag")[3] + gap
    for line in wrap(draw, text, fnt, width):
        draw.text((x, y), line, font=fnt, fill=fill)
        y += line_height
    return y


def save_image(image: Image.Image, path: Path) -> None:
    """Save without timestamps or other varying metadata so reruns give identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.convert("RGB").save(path, "JPEG", quality=82, optimize=True)
    else:
        image.save(path, "PNG", optimize=True)
