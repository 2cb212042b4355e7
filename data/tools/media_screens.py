"""Error screens of the fictional Aeris Home app and router admin pages, drawn with Pillow.

`SCREENS` holds the KB screenshots (their captions live in data/kb/screenshots/*.md); `render` draws one in a
theme and scale, and `photo_of` turns a render into a phone-photo-like picture for the eval queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from media_common import draw_paragraph, font
from PIL import Image, ImageDraw, ImageFilter


@dataclass(frozen=True)
class Screen:
    """One error screen: an app dialog (`kind="app"`) or a router admin page (`kind="admin"`)."""

    stem: str
    kind: str
    code: str
    title: str
    message: str
    device: str
    version: str  # app version for app dialogs, firmware version for admin pages
    url: str = ""


SCREENS: tuple[Screen, ...] = (
    Screen(
        "e42_mesh_link",
        "app",
        "E-42",
        "Mesh link lost",
        "The M10 Mesh Extender in Hallway lost its connection to your X200 Router. Devices near the extender "
        "may have no Wi-Fi.",
        "Hallway M10 Mesh Extender",
        "4.2.1",
    ),
    Screen(
        "e42_x300_backhaul",
        "admin",
        "E-42",
        "Mesh link lost",
        "Extender M10 (Bedroom) is not reachable on backhaul band 5 GHz-2. Backhaul band: Locked.",
        "X300 Router",
        "3.0.1",
        "http://192.168.60.1/mesh",
    ),
    Screen(
        "e12_x200_firmware",
        "admin",
        "E-12",
        "Firmware update failed",
        "The update to firmware 2.1.7 could not be verified. The router is still running 2.1.4 and will "
        "restart in 60 seconds.",
        "X200 Router",
        "2.1.4",
        "http://192.168.50.1/system/firmware",
    ),
    Screen(
        "e12_hub_update",
        "app",
        "E-12",
        "Firmware update failed",
        "H1 Hub could not install the new firmware. The hub keeps its current firmware. Try again later.",
        "Living room H1 Hub",
        "4.2.0",
    ),
    Screen(
        "e23_no_internet",
        "app",
        "E-23",
        "Internet connection not detected",
        "Your X300 Router has no internet on its WAN port. Check the cable to your modem and restart "
        "the modem.",
        "X300 Router",
        "4.3.0",
    ),
    Screen(
        "e35_power_low",
        "admin",
        "E-35",
        "Power supply below requirement",
        "Detected adapter: 12 V 1.5 A. This X200 Blue edition requires the AD-12B adapter (12 V 2.0 A).",
        "X200 Router (Blue edition)",
        "2.1.7",
        "http://192.168.50.1/status",
    ),
    Screen(
        "e57_sd_card",
        "app",
        "E-57",
        "microSD card error",
        "Front door camera cannot record to its microSD card. Format the card or insert a new one.",
        "Front door C5 Smart Camera",
        "4.3.0",
    ),
    Screen(
        "e61_plug_offline",
        "app",
        "E-61",
        "Device offline",
        "Kitchen plug has not connected for 12 minutes. Check that the H1 Hub is online.",
        "Kitchen P2 Smart Plug",
        "4.2.1",
    ),
    Screen(
        "e61_camera_offline",
        "app",
        "E-61",
        "Device offline",
        "Garage camera has not connected for 25 minutes. The C5 needs a 2.4 GHz Wi-Fi network.",
        "Garage C5 Smart Camera",
        "4.3.0",
    ),
    Screen(
        "e73_x300_overheating",
        "admin",
        "E-73",
        "Temperature too high",
        "Internal temperature 92 C. Wi-Fi power has been reduced. Give the router more free space.",
        "X300 Router",
        "3.0.0",
        "http://192.168.60.1/status",
    ),
    Screen(
        "e88_sign_in",
        "app",
        "E-88",
        "Session could not be verified",
        "Your sign-in could not be confirmed. Please sign in again.",
        "Aeris Home account",
        "4.2.0",
    ),
    Screen(
        "e91_hub_radio",
        "app",
        "E-91",
        "Zigbee radio not responding",
        "H1 Hub cannot reach its Zigbee devices. Restart the hub and move it away from the router.",
        "Living room H1 Hub",
        "4.3.0",
    ),
)

THEMES = {
    "light": {
        "bg": "#f3f5f7",
        "card": "#ffffff",
        "text": "#1d2329",
        "muted": "#6b7682",
        "brand": "#0f8b8d",
        "alert": "#d93b3b",
        "alert_bg": "#fdecec",
        "chrome": "#dfe3e8",
    },
    "dark": {
        "bg": "#111418",
        "card": "#1e242b",
        "text": "#e8ecf0",
        "muted": "#98a3ae",
        "brand": "#27b3b5",
        "alert": "#ff6b6b",
        "alert_bg": "#3a1f22",
        "chrome": "#2a3038",
    },
}


def by_stem(stem: str) -> Screen:
    return next(s for s in SCREENS if s.stem == stem)


def render(screen: Screen, theme: str = "light", scale: float = 1.0) -> Image.Image:
    """Draw `screen` at 1x, then resize by `scale` (text anti-aliasing differs from the KB copy)."""
    image = (
        _render_app(screen, THEMES[theme]) if screen.kind == "app" else _render_admin(screen, THEMES[theme])
    )
    if scale != 1.0:
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    return image


def _render_app(s: Screen, c: dict[str, str]) -> Image.Image:
    w, h = 360, 720
    im = Image.new("RGB", (w, h), c["bg"])
    d = ImageDraw.Draw(im)
    d.text((16, 10), "9:41", font=font(14, True), fill=c["text"])
    d.rectangle((312, 14, 340, 26), outline=c["text"], width=2)
    d.rectangle((315, 17, 332, 23), fill=c["text"])
    d.rectangle((0, 40, w, 96), fill=c["brand"])
    d.text((16, 54), f"Aeris Home {s.version}", font=font(22, True), fill="#ffffff")
    # The device list behind the dialog, dimmed.
    for i, name in enumerate((s.device, "Router", "Living room")):
        y = 112 + i * 74
        d.rounded_rectangle((12, y, w - 12, y + 62), 10, fill=c["card"])
        d.text((28, y + 20), name, font=font(15), fill=c["muted"])
    overlay = Image.new("RGB", (w, h), "#000000")
    im = Image.blend(im, overlay, 0.45)
    d = ImageDraw.Draw(im)
    top = 200
    d.rounded_rectangle((24, top, w - 24, top + 330), 16, fill=c["card"])
    d.ellipse((w // 2 - 26, top + 20, w // 2 + 26, top + 72), fill=c["alert"])
    d.text((w // 2, top + 46), "!", font=font(34, True), fill="#ffffff", anchor="mm")
    d.text((w // 2, top + 100), f"Error {s.code}", font=font(28, True), fill=c["alert"], anchor="mm")
    text_y = draw_paragraph(d, (44, top + 124), s.title, font(18, True), w - 88, c["text"])
    draw_paragraph(d, (44, text_y + 6), s.message, font(14), w - 88, c["muted"], gap=5)
    d.rounded_rectangle((44, top + 262, w - 44, top + 302), 20, fill=c["brand"])
    d.text((w // 2, top + 282), "Troubleshoot", font=font(16, True), fill="#ffffff", anchor="mm")
    d.text((w // 2, top + 318), "Dismiss", font=font(14), fill=c["muted"], anchor="mm")
    d.text(
        (w // 2, h - 24), f"{s.device}  ·  Aeris Home {s.version}", font=font(11), fill="#9aa4ad", anchor="mm"
    )
    return im


def _render_admin(s: Screen, c: dict[str, str]) -> Image.Image:
    w, h = 960, 600
    im = Image.new("RGB", (w, h), c["bg"])
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, w, 44), fill=c["chrome"])
    for i, col in enumerate(("#ec6a5e", "#f4bf4f", "#61c554")):
        d.ellipse((14 + i * 20, 16, 26 + i * 20, 28), fill=col)
    d.rounded_rectangle((90, 9, w - 20, 35), 12, fill=c["card"])
    d.text((106, 14), s.url, font=font(14), fill=c["muted"])
    model = s.device.split(" (")[0]
    d.rectangle((0, 44, w, 100), fill=c["brand"])
    d.text((24, 58), f"Aeris {model} — Admin", font=font(24, True), fill="#ffffff")
    d.text((w - 24, 64), f"Firmware {s.version}", font=font(16), fill="#ffffff", anchor="ra")
    d.rectangle((0, 100, 190, h), fill=c["card"])
    for i, item in enumerate(("Status", "Internet", "Wi-Fi", "Mesh", "System")):
        active = item.lower() in s.url or (item == "System" and "firmware" in s.url)
        if active:
            d.rectangle((0, 120 + i * 44, 190, 156 + i * 44), fill=c["alert_bg"])
        d.text((28, 128 + i * 44), item, font=font(17, active), fill=c["text"])
    x0 = 220
    d.rounded_rectangle((x0, 124, w - 30, 290), 10, fill=c["alert_bg"], outline=c["alert"], width=2)
    d.text((x0 + 20, 140), f"{s.code}: {s.title}", font=font(24, True), fill=c["alert"])
    draw_paragraph(d, (x0 + 20, 184), s.message, font(17), w - x0 - 80, c["text"])
    rows = (
        ("Model", s.device),
        ("Firmware", s.version),
        ("Uptime", "3 days 04:12"),
        ("Status", f"Error {s.code}"),
    )
    for i, (key, value) in enumerate(rows):
        y = 320 + i * 52
        d.rounded_rectangle((x0, y, w - 30, y + 44), 6, fill=c["card"])
        d.text((x0 + 20, y + 12), key, font=font(16), fill=c["muted"])
        d.text((x0 + 200, y + 12), value, font=font(16, True), fill=c["text"])
    return im


def crop_frac(image: Image.Image, box: tuple[float, float, float, float]) -> Image.Image:
    """Crop by fractions of width/height (left, top, right, bottom)."""
    w, h = image.size
    return image.crop((round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))


def photo_of(image: Image.Image, seed: int, angle: float = 4.0, desk: str = "#6d5a48") -> Image.Image:
    """Make a render look like a phone photo of a screen: tilt, glare, blur, sensor noise, at most 900 px."""
    rng = np.random.default_rng(seed)
    pad = round(max(image.size) * 0.12)
    canvas = Image.new("RGB", (image.width + 2 * pad, image.height + 2 * pad), desk)
    canvas.paste(image, (pad, pad))
    canvas = canvas.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=desk)
    w, h = canvas.size
    ys, xs = np.mgrid[0:h, 0:w]
    glare = np.exp(-(((xs - w * 0.7) / (w * 0.35)) ** 2 + ((ys - h * 0.3) / (h * 0.35)) ** 2)) * 40.0
    arr = np.asarray(canvas, dtype=np.float32) * 0.9 + glare[..., None]
    arr += rng.normal(0.0, 7.0, arr.shape)
    photo = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    photo.thumbnail((900, 900), Image.Resampling.LANCZOS)
    return photo
