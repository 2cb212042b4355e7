"""Regenerate every binary file of the sample knowledge base and its eval set, deterministically.

Writes data/kb/screenshots/*.png, data/kb/products/*.png, data/kb/sounds/*, the C5 quick-start PDF and the
query media under data/eval/media/. The text files (documents, captions, FAQ, query sets) are written by hand
and are not touched. Run from anywhere:

    python data/tools/make_media.py            # everything
    python data/tools/make_media.py --only kb  # or: --only eval
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import media_audio
from media_common import save_image
from media_pdf import C5_QUICK_START, write_pdf
from media_products import PRODUCTS
from media_screens import SCREENS, by_stem, crop_frac, photo_of, render

DATA = Path(__file__).resolve().parent.parent

KB_SOUNDS: dict[str, str] = {
    "beep_three_short.wav": "three_short",
    "beep_one_long.wav": "one_long",
    "chirp_pairing.flac": "rising_chirp",
    "beep_two_repeat.ogg": "two_repeat",
    "tones_descending.wav": "descending",
    "alarm_tamper.wav": "tamper_alarm",
}

# Eval query images: (file name, screen stem, theme, scale, crop box or None, photo seed or None).
EVAL_IMAGES: list[tuple[str, str, str, float, tuple[float, float, float, float] | None, int | None]] = [
    ("img_e42_dark.png", "e42_mesh_link", "dark", 1.25, None, None),
    ("img_e42_photo.jpg", "e42_mesh_link", "light", 1.0, None, 1),
    ("img_e42_x300_crop.png", "e42_x300_backhaul", "light", 0.8, (0.2, 0.15, 1.0, 0.5), None),
    ("img_e12_x200_photo.jpg", "e12_x200_firmware", "light", 1.0, None, 2),
    ("img_e12_hub_dark.png", "e12_hub_update", "dark", 0.8, None, None),
    ("img_e23_photo.jpg", "e23_no_internet", "light", 1.0, None, 3),
    ("img_e35_crop_dark.png", "e35_power_low", "dark", 1.0, (0.2, 0.0, 1.0, 0.5), None),
    ("img_e35_photo.jpg", "e35_power_low", "light", 1.0, None, 4),
    ("img_e57_dark.png", "e57_sd_card", "dark", 1.1, None, None),
    ("img_e61_plug_small.png", "e61_plug_offline", "light", 0.7, None, None),
    ("img_e61_camera_photo.jpg", "e61_camera_offline", "dark", 1.0, None, 5),
    ("img_e73_dark_crop.png", "e73_x300_overheating", "dark", 0.9, (0.0, 0.0, 1.0, 0.5), None),
    ("img_e88_large.png", "e88_sign_in", "light", 1.5, None, None),
    ("img_e91_photo.jpg", "e91_hub_radio", "light", 1.0, None, 6),
]

# Eval query sounds: (file name, pattern, pitch, tempo, noise std, sample rate).
EVAL_SOUNDS: list[tuple[str, str, float, float, float, int]] = [
    ("aud_three_short_low.wav", "three_short", 0.85, 1.0, 0.02, 16_000),
    ("aud_three_short_fast.flac", "three_short", 1.1, 1.3, 0.05, 16_000),
    ("aud_one_long_noisy.wav", "one_long", 1.15, 1.0, 0.08, 16_000),
    ("aud_chirp_slow.wav", "rising_chirp", 0.9, 0.75, 0.03, 16_000),
    ("aud_two_repeat_fast.wav", "two_repeat", 1.1, 1.5, 0.03, 16_000),
    ("aud_two_repeat_noisy.ogg", "two_repeat", 0.9, 1.0, 0.1, 16_000),
    ("aud_descending_high.wav", "descending", 1.2, 1.0, 0.02, 22_050),
    ("aud_descending_slow.wav", "descending", 1.0, 0.8, 0.04, 16_000),
    ("aud_tamper_low.wav", "tamper_alarm", 0.8, 1.0, 0.05, 16_000),
    ("aud_tamper_fast.wav", "tamper_alarm", 1.05, 1.4, 0.02, 22_050),
]


def make_kb(kb: Path) -> list[Path]:
    written: list[Path] = []
    for screen in SCREENS:
        path = kb / "screenshots" / f"{screen.stem}.png"
        save_image(render(screen), path)
        written.append(path)
    for stem, draw in PRODUCTS.items():
        path = kb / "products" / f"{stem}.png"
        save_image(draw(), path)
        written.append(path)
    for name, pattern in KB_SOUNDS.items():
        path = kb / "sounds" / name
        media_audio.render(path, pattern)
        written.append(path)
    pdf = kb / "manuals" / "c5-quick-start-guide.pdf"
    write_pdf(pdf, C5_QUICK_START, "C5 Smart Camera quick-start guide")
    written.append(pdf)
    return written


def make_eval(media: Path) -> list[Path]:
    written: list[Path] = []
    for name, stem, theme, scale, box, seed in EVAL_IMAGES:
        image = render(by_stem(stem), theme=theme, scale=scale)
        if box is not None:
            image = crop_frac(image, box)
        if seed is not None:
            image = photo_of(image, seed=seed, angle=(-1) ** seed * (2.5 + seed % 3))
        save_image(image, media / name)
        written.append(media / name)
    for i, (name, pattern, pitch, tempo, noise, rate) in enumerate(EVAL_SOUNDS):
        media_audio.render(
            media / name, pattern, pitch=pitch, tempo=tempo, noise=noise, rate=rate, seed=100 + i
        )
        written.append(media / name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("kb", "eval", "all"), default="all")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="the data/ folder to write into")
    args = parser.parse_args(argv)
    written: list[Path] = []
    if args.only in ("kb", "all"):
        written += make_kb(args.data_dir / "kb")
    if args.only in ("eval", "all"):
        written += make_eval(args.data_dir / "eval" / "media")
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {total / 1024:.0f} KiB under {args.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
