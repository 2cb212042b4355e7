"""Labelled product diagrams of the fictional Aeris Home devices, drawn with Pillow.

Each function returns one picture; `PRODUCTS` maps the file stem in data/kb/products/ to its function. The
labels (ports, LEDs, buttons, adapter) match the manuals in data/kb/manuals/.
"""

from __future__ import annotations

from collections.abc import Callable

from media_common import font
from PIL import Image, ImageDraw

W, H = 720, 460
INK = "#1d2329"


def _canvas(title: str, subtitle: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    im = Image.new("RGB", (W, H), "#fafafa")
    d = ImageDraw.Draw(im)
    d.text((24, 16), title, font=font(24, True), fill=INK)
    d.text((24, 50), subtitle, font=font(14), fill="#5b6670")
    d.text((W - 20, H - 20), "Aeris Home", font=font(12, True), fill="#0f8b8d", anchor="rs")
    return im, d


def _label(d: ImageDraw.ImageDraw, target: tuple[int, int], text_xy: tuple[int, int], text: str) -> None:
    d.line((target, text_xy), fill="#8a949e", width=1)
    d.ellipse((target[0] - 3, target[1] - 3, target[0] + 3, target[1] + 3), fill="#8a949e")
    d.text(text_xy, text, font=font(13), fill=INK, anchor="lm" if text_xy[0] > target[0] else "rm")


def _router_x200(edition: str) -> Image.Image:
    blue = edition == "Blue"
    body, trim = ("#2f6fd1", "#1f4f9a") if blue else ("#f4f4f2", "#c9ccd0")
    adapter = "AD-12B: 12 V 2.0 A" if blue else "AD-12W: 12 V 1.5 A"
    im, d = _canvas(
        f"X200 Router — {edition} edition (X200-{edition[0]})",
        f"Front: Power, Internet, Wi-Fi, Mesh LEDs. Rear ports. Adapter {adapter}.",
    )
    d.line((150, 110, 130, 190), fill=trim, width=8)
    d.line((330, 110, 350, 190), fill=trim, width=8)
    d.rounded_rectangle((100, 180, 380, 260), 14, fill=body, outline=trim, width=3)
    for i, (col, name) in enumerate(
        (("#ffffff", "Power"), ("#2ecc71", "Internet"), ("#3b82f6", "Wi-Fi"), ("#3b82f6", "Mesh"))
    ):
        x = 170 + i * 45
        d.ellipse((x - 6, 214, x + 6, 226), fill=col, outline=INK)
        _label(d, (x, 226), (x - 40 + i * 10, 300 + i * 24), f"{name} LED")
    # Rear panel.
    d.text((420, 120), "Rear panel", font=font(15, True), fill=INK)
    d.rounded_rectangle((420, 150, 700, 200), 8, fill=body, outline=trim, width=3)
    ports = [("#2a7de1", "WAN"), ("#f5c542", "LAN 1-4"), ("#555555", "USB 3.0"), ("#222222", "DC 12 V")]
    if blue:
        ports.insert(3, ("#9b59b6", "USB-C 15 W"))
    for i, (col, name) in enumerate(ports):
        x = 440 + i * (250 // len(ports))
        d.rectangle((x, 165, x + 26, 185), fill=col, outline=INK)
        _label(d, (x + 13, 185), (x - 5, 230 + i * 26), name)
    d.ellipse((676, 168, 684, 176), fill=INK)
    _label(d, (680, 168), (660, 130), "Mesh button, reset pinhole")
    d.text((24, 410), f"Use only adapter {adapter}", font=font(15, True), fill="#c0392b")
    return im


def x200_white() -> Image.Image:
    return _router_x200("White")


def x200_blue() -> Image.Image:
    return _router_x200("Blue")


def x300() -> Image.Image:
    im, d = _canvas(
        "X300 Router (graphite)", "Tri-band Wi-Fi 6E tower with light ring. Adapter AD-19: 19 V 2.37 A."
    )
    d.rounded_rectangle((150, 100, 290, 400), 30, fill="#3b3f45", outline="#202327", width=3)
    d.ellipse((180, 130, 260, 210), outline="#f2f2f2", width=6)
    _label(d, (260, 170), (330, 150), "Light ring (white / cyan / amber / red)")
    d.text((420, 220), "Rear", font=font(15, True), fill=INK)
    for i, (col, name) in enumerate(
        (
            ("#2a7de1", "2.5G WAN (globe)"),
            ("#f5c542", "LAN 1-4"),
            ("#222222", "DC 19 V"),
            ("#888888", "Reset (15 s)"),
        )
    ):
        y = 250 + i * 40
        d.rectangle((420, y, 450, y + 22), fill=col, outline=INK)
        d.text((465, y + 11), name, font=font(14), fill=INK, anchor="lm")
    d.text(
        (24, 420), "No Mesh button: pair M10 extenders in the app (firmware 3.0.1)", font=font(14), fill=INK
    )
    return im


def m10() -> Image.Image:
    im, d = _canvas(
        "M10 Mesh Extender", "Plugs straight into a wall socket. Works with X200 and X300 (3.0.1)."
    )
    d.rounded_rectangle((220, 110, 420, 380), 24, fill="#f4f4f2", outline="#b9bec4", width=3)
    for dx in (-30, 30):
        d.ellipse((320 + dx - 10, 235, 320 + dx + 10, 255), fill="#7f8790")
    d.ellipse((312, 140, 328, 156), fill="#3b82f6", outline=INK)
    _label(d, (328, 148), (470, 140), "Mesh LED (blue / amber / white)")
    d.rectangle((420, 300, 432, 330), fill="#555555")
    _label(d, (432, 315), (470, 315), "Mesh button (side)")
    d.ellipse((316, 360, 324, 368), fill=INK)
    _label(d, (316, 364), (190, 410), "Reset pinhole (bottom, 10 s)")
    return im


def c5() -> Image.Image:
    im, d = _canvas(
        "C5 Smart Camera", "Indoor 2K camera, 2.4 GHz Wi-Fi only, USB-C 5 V 1 A, microSD up to 256 GB."
    )
    d.rounded_rectangle((250, 100, 390, 300), 60, fill="#ffffff", outline="#b9bec4", width=3)
    d.ellipse((280, 150, 360, 230), fill="#1d2329")
    d.ellipse((305, 175, 335, 205), fill="#3a4a5a")
    d.ellipse((314, 118, 326, 130), fill="#3b82f6")
    d.rectangle((300, 300, 340, 360), fill="#dde1e5")
    d.ellipse((240, 350, 400, 390), fill="#eef0f2", outline="#b9bec4", width=2)
    _label(d, (326, 124), (440, 110), "Status light")
    _label(d, (360, 190), (440, 190), "Lens + night vision")
    _label(d, (340, 330), (440, 300), "microSD slot + reset (under cover)")
    _label(d, (400, 370), (440, 380), "Magnetic base, USB-C power")
    _label(d, (250, 260), (200, 260), "Speaker (siren)")
    return im


def p2() -> Image.Image:
    im, d = _canvas("P2 Smart Plug", "Zigbee 3.0, 16 A / 3680 W. Needs an H1 Hub.")
    d.rounded_rectangle((230, 100, 430, 380), 40, fill="#ffffff", outline="#b9bec4", width=3)
    d.ellipse((280, 170, 380, 270), outline="#9aa4ad", width=4)
    d.ellipse((300, 210, 314, 224), fill=INK)
    d.ellipse((346, 210, 360, 224), fill=INK)
    d.ellipse((315, 310, 345, 340), outline="#3b82f6", width=4)
    _label(d, (345, 325), (470, 330), "Button with ring LED (5 s pair, 12 s reset)")
    _label(d, (380, 220), (470, 220), "Socket")
    return im


def h1() -> Image.Image:
    im, d = _canvas("H1 Hub", "Zigbee 3.0 hub for up to 64 devices. USB-C 5 V 2 A. Keep 1 m from the router.")
    d.ellipse((170, 140, 470, 330), fill="#e9ecef", outline="#9aa4ad", width=3)
    d.ellipse((305, 170, 335, 200), fill="#2ecc71", outline=INK)
    _label(d, (335, 185), (500, 150), "Top LED (green = online)")
    for i in range(5):
        d.line((270 + i * 25, 250, 270 + i * 25, 290), fill="#9aa4ad", width=3)
    _label(d, (370, 270), (500, 270), "Speaker grille")
    d.rectangle((200, 360, 240, 380), fill="#f5c542", outline=INK)
    d.rectangle((260, 360, 290, 380), fill="#222222", outline=INK)
    d.text((300, 370), "Rear: Ethernet, USB-C power, reset button", font=font(13), fill=INK, anchor="lm")
    return im


PRODUCTS: dict[str, Callable[[], Image.Image]] = {
    "x200_white": x200_white,
    "x200_blue": x200_blue,
    "x300": x300,
    "m10": m10,
    "c5": c5,
    "p2": p2,
    "h1": h1,
}
