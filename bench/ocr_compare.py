"""Compares the OCR engines (RapidOCR, Tesseract) on accuracy and speed; picks the default `ScreenshotReader`.

Images: (a) the real ABCD screenshots in ../shared/eval/abcd/images/ (skipped when absent), scored by
word recall/precision against hand transcriptions (their layouts have no single reading order);
(b) error dialogs rendered here with Pillow, scored by character error rate (CER) and field
recall/precision against what was drawn; (c) data/kb/screenshots/*.png when present, scored by field
recall against the error codes, versions and products listed in each sidecar .md front matter (some
listed values, e.g. the fixed firmware, need not be visible). Latency is wall time per image after `load()`.

    python bench/ocr_compare.py [--engines rapidocr,tesseract] [--repeat 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

from core.config import Settings
from core.errors import SupportbotError
from retrieval.ocr.factory import READERS, make_reader
from retrieval.ocr.fields import normalise_error_code
from retrieval.ocr.protocol import OcrOptions, OcrResult, ScreenshotReader

REPO = Path(__file__).resolve().parents[1]
ABCD_IMAGES = REPO.parent / "shared" / "eval" / "abcd" / "images"
KB_SCREENSHOTS = REPO / "data" / "kb" / "screenshots"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
PRODUCTS = ("Aeris Home", "Aeris Cam", "X200", "Aeris Hub")
# The sample KB's catalogue codes (data/kb/products), as the knowledge graph would pass them.
KB_PRODUCTS = ("X200", "X300", "M10", "H1", "C5", "P2")

# Hand transcriptions of the ABCD screenshots (what a person reads; the typo "memberhsip" is in the image).
ABCD_REFERENCE = {
    "faq_screenshot.png": """FAQ or Policy Hi, how may I assist you today? Membership Privileges Hide FAQ
        I have a question about membership Searching the FAQ pages ... Try Again Log Out/In Instructions
        Sure, what is your question? I'm a Silver level member, what benefits do I have?
        System Action: search membership Single-item Query Jeans Shirt Boots Jacket Send Storewide Query
        Pricing Timing Membership (1) What are all the memberhsip levels?
        (2) How do I qualify for premium membership? (3) What are some of the benefits of membership?
        (4) How long does membership last?""",
    "action_example.png": """Purchase has been validated. OK, and how long have you been waiting for this
        package? Not sure, awhile? Has it been more than 7 days? yes, umm, 8 days ok, to proceed, i need your
        address so i know where to ship the item 8589 Woodshore St Monterey, TX 85789 Order has been updated
        with 8589 Woodshore St, Monterey, TX 85789. Send""",
    "agent_dashboard.png": """Agent Dashboard End Conversation KB Querying Hello, thank you for contacting
        AcmeBrands, how may I assist you today? Hi, I have a question about the status of my subscription.
        Verify Identity Ask the Oracle Sure, what would you like to know? Validate Purchase Make Password
        Is it still active? And if not, what is the amount I need to pay to reactivate? Promo Code
        Subscription Status No problem, I can help you with that. To get started, can I get your full name
        or account ID? Interaction Zone Rodriguez Domingo Account has been pulled up for Rodriguez Domingo.
        Offer Refund Make Purchase Record Reason Enter Details Send Shipping Status Update Order Pull up
        Account Update Account Send Link Notify Internal Team FAQ or Policy Membership Privileges Search FAQ
        Try Again Log Out/In Instructions""",
    "customer_site.png": """Customer Service Site Hi, how may I assist you today? If asked about your
        preferences, pick anything you like. You want to get a refund because you just bought the item
        described below, but changed your mind. Explain your problem to the agent, provide any information
        that is requested and attempt to get your refund before the item ships. Your refund amount is the
        price of the product below. Hi, I'd like to get a refund on some jeans Sure, I can help you with
        that. To get started, can I get your full name? Yes, it is Albert Sanders Account has been pulled up
        for Albert Sanders. Personal Info Name: Albert Sanders Phone Number: (099) 109-0570 Hi, Albert. To
        initiate your refund, I will first need to validate your purchase Member Level: Silver Email
        Address: as205981@email.com Can I get your username, email and Order ID? Account ID: WCUSTYQERI
        Ok, my username is as205981 Username: as205981 Order Statement Send Purchase Date: 2020-01-02
        Order ID: 6449343909 Payment Method: Credit Card Address: 9990 Kennedy St La Fayette, CA 58913
        Leave Early In Original Packaging: Yes Product: Jeans Brand: Guess Amount: $49""",
}


@dataclass(frozen=True)
class Dialog:
    """One rendered error screen: its lines, look, and the fields a reader should find."""

    name: str
    title: str
    lines: tuple[str, ...]
    expect: tuple[str, ...]
    font: str = "DejaVuSans.ttf"
    size: int = 16
    fg: tuple[int, int, int] = (20, 20, 20)
    bg: tuple[int, int, int] = (245, 245, 245)
    bar: tuple[int, int, int] = (52, 58, 64)

    @property
    def reference(self) -> str:
        return "\n".join((self.title, *self.lines))


DIALOGS = (
    Dialog(
        "light",
        "Aeris Home 4.2.1",
        ("Error E-42", "Could not connect to the hub.", "OK"),
        ("E-42", "4.2.1", "Aeris Home"),
    ),
    Dialog(
        "dark",
        "Sync failed",
        ("Error code: E-017", "Firmware 2.1.7", "Device: X200", "Dismiss"),
        ("E-17", "2.1.7", "X200"),
        fg=(230, 230, 230),
        bg=(32, 33, 36),
        bar=(60, 64, 67),
    ),
    Dialog(
        "windows",
        "Windows Update",
        ("There were problems installing some updates.", "Error code 0x80070005", "Retry"),
        ("0x80070005",),
        font="DejaVuSerif.ttf",
        size=14,
    ),
    Dialog(
        "toast",
        "Aeris Home v3.0.1",
        ('"Unable to sync your devices"', "ERR-7"),
        ("3.0.1", "Aeris Home", "Unable to sync your devices", "E-7"),
        size=12,
    ),
    Dialog(
        "console",
        "server log",
        ("HTTP 503 Service Unavailable", "version 4.2", "at 192.168.1.20 on 2024-05-01 12:30"),
        ("HTTP-503", "4.2"),
        font="DejaVuSansMono.ttf",
        size=14,
    ),
    Dialog(
        "banner",
        "Aeris Cam X-200",
        ("E-105: Battery low", "Charge the camera and retry."),
        ("E-105", "Aeris Cam", "X200"),
        fg=(255, 255, 255),
        bg=(200, 40, 40),
        bar=(150, 20, 20),
    ),
    Dialog(
        "faint",
        "Settings",
        ("Error 42", "App version 4.2.1 (build 311)"),
        ("E-42", "4.2.1"),
        fg=(120, 120, 120),
        bg=(228, 228, 228),
        size=11,
    ),
    Dialog(
        "bold",
        "Something went wrong",
        ("Error E-042", "Aeris Hub firmware 1.9.3"),
        ("E-42", "Aeris Hub", "1.9.3"),
        font="DejaVuSans-Bold.ttf",
        size=20,
    ),
)


def render(dialog: Dialog) -> Image.Image:
    """Draws a dialog: a title bar and the body lines, like an app's error screen."""
    font = ImageFont.truetype(str(FONT_DIR / dialog.font), dialog.size)
    pad, gap = dialog.size, dialog.size // 2
    texts = (dialog.title, *dialog.lines)
    widths = [int(font.getbbox(t)[2]) for t in texts]
    line_h = int(font.getbbox("Ag")[3]) + gap
    width = max(widths) + 2 * pad + 40
    height = (line_h + gap) * len(texts) + 2 * pad + 30
    image = Image.new("RGB", (width, height), (200, 200, 200))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, width - 10, height - 10), fill=dialog.bg)
    draw.rectangle((10, 10, width - 10, 10 + line_h + pad), fill=dialog.bar)
    draw.text((10 + pad, 10 + pad // 2 + gap // 2), dialog.title, font=font, fill=(255, 255, 255))
    y = 10 + line_h + pad + pad
    for text in dialog.lines:
        draw.text((10 + pad, y), text, font=font, fill=dialog.fg)
        y += line_h + gap
    return image


def _flat(text: str) -> str:
    return " ".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    """Levenshtein distance / reference length, on whitespace-normalised text."""
    ref, hyp = _flat(reference), _flat(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[a-z0-9]+", text.casefold()))


def word_scores(reference: str, hypothesis: str) -> tuple[float, float]:
    ref, hyp = _words(reference), _words(hypothesis)
    common = sum((ref & hyp).values())
    return common / max(sum(ref.values()), 1), common / max(sum(hyp.values()), 1)


def field_scores(result: OcrResult, expect: tuple[str, ...]) -> tuple[int, int, int]:
    """(expected found, expected, found in all) over error codes, versions, products and quotes."""
    fields = result.fields
    found = {v.casefold() for v in (*fields.error_codes, *fields.versions, *fields.products, *fields.quoted)}
    hits = sum(1 for value in expect if value.casefold() in found)
    return hits, len(expect), len(found)


def kb_expected(png: Path) -> tuple[str, ...]:
    """Error codes, versions ("firmware 2.1.7" -> "2.1.7") and product codes from the sidecar front matter."""
    sidecar = png.with_suffix(".md")
    if not sidecar.is_file():
        return ()
    parts = sidecar.read_text(encoding="utf-8").split("---")
    meta = yaml.safe_load(parts[1]) if len(parts) > 2 else None
    if not isinstance(meta, dict):
        return ()
    expect: list[str] = [str(p) for p in meta.get("product") or () if str(p) in KB_PRODUCTS]
    for entity in meta.get("entities") or ():
        text = str(entity)
        code = normalise_error_code(text)
        version = re.fullmatch(r"(?:app|firmware)\s+(\d+(?:\.\d+)+)", text, re.I)
        if code:
            expect.append(code)
        elif version:
            expect.append(version.group(1))
    return tuple(dict.fromkeys(expect))


def _timed(reader: ScreenshotReader, image: Image.Image, repeat: int) -> tuple[OcrResult, float]:
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = reader.read(image)
        times.append(time.perf_counter() - start)
    assert result is not None
    return result, statistics.median(times)


def run(engines: list[str], repeat: int, threads: int, show_text: bool) -> int:
    options = OcrOptions(known_products=(*PRODUCTS, *KB_PRODUCTS), threads=threads)
    readers: dict[str, ScreenshotReader] = {}
    for name in engines:
        reader = make_reader(Settings(), name, options=options)
        start = time.perf_counter()
        try:
            reader.load()
        except SupportbotError as exc:
            print(f"[skip] {name}: {exc}")
            continue
        print(f"{name}: load {time.perf_counter() - start:.2f}s")
        readers[name] = reader
    if not readers:
        return 1
    summary: dict[str, dict[str, list[float]]] = {n: {} for n in readers}

    def note(engine: str, key: str, value: float) -> None:
        summary[engine].setdefault(key, []).append(value)

    if ABCD_IMAGES.is_dir():
        print(f"\n(a) real screenshots in {ABCD_IMAGES} (word recall / precision vs hand transcription)")
        for path in sorted(ABCD_IMAGES.glob("*.png")):
            image = Image.open(path).convert("RGB")
            reference = ABCD_REFERENCE.get(path.name)
            for name, reader in readers.items():
                result, seconds = _timed(reader, image, repeat)
                note(name, "latency_real", seconds)
                line = f"  {path.name:22s} {name:9s} {seconds * 1000:7.0f} ms  conf {result.confidence:.3f}"
                if reference:
                    recall, precision = word_scores(reference, result.text)
                    note(name, "word_recall", recall)
                    note(name, "word_precision", precision)
                    note(name, "cer_real", cer(reference, result.text))
                    line += f"  word R {recall:.3f} P {precision:.3f}"
                print(line)
                if show_text:
                    print("    " + result.text.replace("\n", " | "))
    else:
        print(f"\n(a) skipped: {ABCD_IMAGES} is absent")

    print("\n(b) rendered error dialogs (CER vs drawn text; fields found/expected, extra)")
    for dialog in DIALOGS:
        image = render(dialog)
        for name, reader in readers.items():
            result, seconds = _timed(reader, image, repeat)
            error = cer(dialog.reference, result.text)
            hits, expected, found = field_scores(result, dialog.expect)
            note(name, "latency_dialog", seconds)
            note(name, "cer_dialog", error)
            note(name, "field_hits", hits)
            note(name, "field_expected", expected)
            note(name, "field_found", found)
            print(
                f"  {dialog.name:9s} {image.width}x{image.height:<4d} {name:9s} {seconds * 1000:6.0f} ms  "
                f"CER {error:.3f}  fields {hits}/{expected} (+{found - hits} other)"
            )
            if show_text or hits < expected:
                print(f"    text: {result.text!r}\n    fields: {result.fields.to_dict()}")

    kb_images = sorted(KB_SCREENSHOTS.glob("*.png")) if KB_SCREENSHOTS.is_dir() else []
    if kb_images:
        print(f"\n(c) KB screenshots in {KB_SCREENSHOTS} (fields found/listed in the sidecar .md)")
        for path in kb_images:
            image = Image.open(path).convert("RGB")
            expect = kb_expected(path)
            for name, reader in readers.items():
                result, seconds = _timed(reader, image, repeat)
                hits, expected, found = field_scores(result, expect)
                note(name, "latency_kb", seconds)
                note(name, "kb_hits", hits)
                note(name, "kb_expected", expected)
                print(
                    f"  {path.name:26s} {name:9s} {seconds * 1000:6.0f} ms  fields {hits}/{expected} "
                    f"(+{found - hits} other)  {result.fields.to_dict()}"
                )
                if show_text:
                    print("    " + result.text.replace("\n", " | "))
    else:
        print(f"\n(c) skipped: no PNGs in {KB_SCREENSHOTS}")

    print("\nsummary (means; latency = median of repeats, mean over images)")
    for name, values in summary.items():

        def mean(key: str, values: dict[str, list[float]] = values) -> str:
            return f"{statistics.fmean(values[key]):.3f}" if values.get(key) else "n/a"

        hits = int(sum(values.get("field_hits", [0.0])))
        expected = int(sum(values.get("field_expected", [0.0])))
        found = int(sum(values.get("field_found", [0.0])))
        print(
            f"  {name:9s} real: word recall {mean('word_recall')} precision {mean('word_precision')} "
            f"CER(order-sensitive) {mean('cer_real')} latency {mean('latency_real')} s | dialogs: CER "
            f"{mean('cer_dialog')} field recall {hits}/{expected} precision {hits}/{found} latency "
            f"{mean('latency_dialog')} s"
            + (
                f" | kb: field recall {sum(values['kb_hits']):.0f}/{sum(values['kb_expected']):.0f} "
                f"latency {mean('latency_kb')} s"
                if values.get("latency_kb")
                else ""
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engines", default=",".join(READERS), help="comma-separated engine names")
    parser.add_argument("--repeat", type=int, default=3, help="reads per image; the median time is reported")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per engine (0 = engine default)")
    parser.add_argument("--show-text", action="store_true", help="print what each engine read")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    return run(engines, args.repeat, args.threads, args.show_text)


if __name__ == "__main__":
    sys.exit(main())
