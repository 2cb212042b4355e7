"""A minimal PDF writer with a real text layer (Helvetica, WinAnsi), plus the C5 quick-start guide it renders.

Hand-built objects, cross-reference table and trailer; no timestamps, so the bytes are identical on every run.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# (kind, text): "h1" title, "h2" section heading, "p" paragraph. Page breaks are added automatically.
C5_QUICK_START: list[tuple[str, str]] = [
    ("h1", "Aeris Home C5 Smart Camera - Quick-start guide"),
    (
        "p",
        "Thank you for choosing the C5 Smart Camera. This guide covers the first setup, the status light, "
        "storage and safety. The full manual is in the Aeris Home app under Help.",
    ),
    ("h2", "1. Before you start"),
    (
        "p",
        "You need the Aeris Home app version 4.2.1 or later (4.3.0 recommended), a 2.4 GHz Wi-Fi network "
        "and a free power socket. The C5 cannot connect to a 5 GHz-only network. If your X200 or X300 router "
        "uses separate names for 2.4 GHz and 5 GHz, choose the 2.4 GHz name.",
    ),
    ("h2", "2. Setup in three steps"),
    (
        "p",
        "Step 1: optional - insert a microSD card of up to 256 GB, formatted exFAT or FAT32. "
        "Step 2: connect the USB-C cable and the 5 V 1 A adapter. After about 20 seconds the camera plays a "
        "rising chirp and the status light blinks blue: it is in pairing mode. "
        "Step 3: in the app tap Add device, Camera, C5 and scan the QR code on the base.",
    ),
    ("h2", "3. Status light"),
    (
        "p",
        "Solid blue: streaming normally. Blinking blue: pairing mode. Solid red: no connection to the Aeris "
        "cloud; after 10 minutes the app shows error E-61 (device offline). Blinking red: microSD card error "
        "E-57; format the card in the app under Settings, Storage.",
    ),
    ("h2", "4. Tamper alarm"),
    (
        "p",
        "When the camera is armed and is moved, covered or pulled off its magnetic base, it sounds a loud "
        "two-tone siren for 30 seconds and sends a notification. Disarm it in the app.",
    ),
    ("h2", "5. Heat and placement"),
    (
        "p",
        "The C5 is an indoor camera. Do not place it in direct sunlight or near heaters. If it gets too hot "
        "it pauses recording and the app shows E-73 (device overheating).",
    ),
    ("h2", "6. Reset"),
    (
        "p",
        "Hold the reset button under the microSD cover for 10 seconds until you hear one long beep. The "
        "camera restarts in pairing mode.",
    ),
    ("h2", "7. Warranty and safety"),
    (
        "p",
        "The C5 has a 2-year warranty; the adapter and cables have 1 year. microSD cards are not covered. "
        "Use only the supplied adapter. Cloud clips are kept 7 days, or 30 days with Aeris Plus (EUR 3.99 "
        "per month). Video is stored encrypted in the EU.",
    ),
    ("p", "Aeris Home - support@aerishome.example - Monday to Friday 08:00-20:00 CET."),
]

_STYLE = {"h1": ("F2", 17, 26), "h2": ("F2", 13, 20), "p": ("F1", 10.5, 14)}
_WRAP = {"h1": 60, "h2": 75, "p": 95}


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _layout(blocks: list[tuple[str, str]]) -> list[bytes]:
    """Turn blocks into one content stream per A4 page."""
    pages: list[bytes] = []
    ops: list[bytes] = []
    y = 790.0
    for kind, text in blocks:
        fnt, size, leading = _STYLE[kind]
        lines = textwrap.wrap(text, _WRAP[kind])
        if kind != "p":
            y -= 6
        if y - leading * len(lines) < 60:
            pages.append(b"\n".join(ops))
            ops, y = [], 790.0
        for line in lines:
            ops.append(b"BT /%s %.1f Tf 60 %.1f Td (%s) Tj ET" % (fnt.encode(), size, y, _escape(line)))
            y -= leading
        y -= 6
    pages.append(b"\n".join(ops))
    return pages


def write_pdf(path: Path, blocks: list[tuple[str, str]], title: str) -> None:
    """Write `blocks` as a text PDF at `path`."""
    streams = _layout(blocks)
    n_pages = len(streams)
    page_ids = [5 + 2 * i for i in range(n_pages)]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % p for p in page_ids), n_pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    for page_id, stream in zip(page_ids, streams, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Title (%s) /Producer (Aeris Home make_media.py) >>" % _escape(title))
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        len(objects),
        xref,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
