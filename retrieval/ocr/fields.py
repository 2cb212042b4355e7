"""Support fields out of free text (OCR output, chat messages): error codes, versions, products, quotes.

Every pattern is conservative: a number only counts as an error code or version when its form or a
label says so, so IPs, dates, times, prices, zip codes and order numbers are not picked up.
`build_result` turns the lines an OCR engine read into an `OcrResult` (reading order, confidence, fields).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from retrieval.ocr.protocol import OcrLine, OcrResult, ScreenshotFields

# --- error codes -------------------------------------------------------------------------------------

_HTTP_REASONS = (
    "bad request|unauthori[sz]ed|forbidden|not found|method not allowed|request timeout|conflict|gone|"
    "too many requests|internal server error|not implemented|bad gateway|service unavailable|gateway timeout"
)
# A number must not run on into a longer dotted/dashed/colon number (dates, times, IPs, versions).
# Labels and their numbers must share a line: "Error" as a title over "42 items" is not E-42.
_END = r"(?![\w]|[.,:/-]\d)"
_ERROR_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "code 0x80070005", "error 0x8007000E": hex only when labelled.
    (
        re.compile(
            r"\b(?:error|err|code|fault|status)\b[ \t:#=]*(?:code\b[ \t:#=]*)?(0x[0-9a-f]{4,16})" + _END, re.I
        ),
        "hex",
    ),
    # "HTTP 404", "HTTP error 500", "status code: 503", "404 Not Found".
    (
        re.compile(
            r"\b(?:https?(?:[ \t]+(?:error|status))?|status)(?:[ \t]+code)?[ \t:#=]*([1-5]\d\d)" + _END,
            re.I,
        ),
        "http",
    ),
    (re.compile(r"(?<![\w.$€£])([1-5]\d\d)[ \t]+(?:" + _HTTP_REASONS + r")\b", re.I), "http"),
    # "Error code: E-042", "error 42", "ERR-42", "Err #7", "fault code 13".
    (
        re.compile(
            r"\b(?:error|err|fault)(?:[ \t_-]*(?:code|no\.?|number|nr\.?))?[ \t:#=-]*(?:E[ \t-]?)?0*(\d{1,6})"
            + _END,
            re.I,
        ),
        "e",
    ),
    # "E-42", "E42", "E-042" on their own: capital E only (e.g. "e42" is too often something else).
    (re.compile(r"(?<![\w.-])E-?0*(\d{1,6})" + _END), "e"),
)
_HEX = re.compile(r"0x[0-9a-f]{4,16}", re.I)


def _canonical(kind: str, value: str) -> str:
    if kind == "hex":
        return "0x" + value[2:].upper()
    if kind == "http":
        return f"HTTP-{value}"
    return f"E-{int(value)}"


def normalise_error_code(code: str) -> str | None:
    """Canonical form of one error code, or None when `code` is not one.

    `E42`, `e-042`, `Error 42`, `error code: E-042`, `ERR-42` -> `E-42`; `0x80070005` or `code 0x8007000e`
    -> `0x80070005`/`0x8007000E`; `HTTP 404`, `404 Not Found` -> `HTTP-404`.
    """
    flat = " ".join(code.split())
    if not flat:
        return None
    bare = re.fullmatch(r"[eE][\s-]?0*(\d{1,6})", flat)
    if bare:
        return f"E-{int(bare.group(1))}"
    if _HEX.fullmatch(flat):
        return _canonical("hex", flat)
    bare_http = re.fullmatch(r"HTTP-([1-5]\d\d)", flat, re.I)
    if bare_http:
        return f"HTTP-{bare_http.group(1)}"
    found = _error_codes(flat)
    return found[0] if len(found) == 1 else None


def _error_codes(text: str) -> list[str]:
    spans: list[tuple[int, int, str]] = []
    for pattern, kind in _ERROR_PATTERNS:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e, _ in spans):
                continue  # already covered by a more specific pattern
            spans.append((start, end, _canonical(kind, match.group(1))))
    return _unique(code for _, _, code in sorted(spans))


# --- versions ----------------------------------------------------------------------------------------

_VERSION_CORE = r"(\d{1,4}(?:\.\d{1,4}){1,3}(?:[-+](?:alpha|beta|rc|dev|build|b|a)\.?\d*)?)"
_LABELLED_VERSION = re.compile(
    r"\b(?:version|ver\.?|firmware|fw|release|build)(?:\s+version)?[\s:#=]*v?"
    + _VERSION_CORE
    + r"(?![\w.]?\d)",
    re.I,
)
# A unit after the number means a measurement, not a version: "12 V 1.5 A", "v2.0 GB".
_UNIT = r"(?!\s?(?:[VAW]|mAh|[KMGT]i?B|[KMG]?Hz|ms|mm|cm|kg|%)\b)"
_V_VERSION = re.compile(r"(?<![\w.])[vV]\.?" + _VERSION_CORE + r"(?![\w]|\.\d)" + _UNIT)
# Unlabelled: three or four dotted parts, not glued to other numbers or currency.
_BARE_VERSION = re.compile(r"(?<![\w.$€£¥/:-])(\d{1,4}(?:\.\d{1,4}){2,3})(?![\w%]|\.\d|[:/]\d)")


def _plausible_bare_version(version: str) -> bool:
    parts = version.split(".")
    if any(len(p) > 3 for p in parts):
        return False  # years: 2024.05.01, 01.05.2024
    if any(len(p) > 1 and p.startswith("0") for p in parts):
        return False  # zero-padded: 05.11.24 (a date), 010.001.002
    if len(parts) == 4 and all(int(p) <= 255 for p in parts):
        return False  # an IPv4 address
    return not (len(parts) == 3 and all(len(p) == 2 for p in parts) and int(parts[1]) <= 12)


def _versions(text: str, product_ends: Sequence[int]) -> list[str]:
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, value: str) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append((start, value))

    for match in _LABELLED_VERSION.finditer(text):
        add(*match.span(), match.group(1))
    for match in _V_VERSION.finditer(text):
        add(*match.span(), match.group(1))
    # "Aeris Home 4.2": a dotted number right after a known product name is its version.
    after_product = re.compile(r"[\s,:-]{1,3}v?" + _VERSION_CORE + r"(?![\w%]|\.\d)" + _UNIT)
    for end in product_ends:
        following = after_product.match(text, end)
        if following:
            add(following.start(1), following.end(1), following.group(1))
    for match in _BARE_VERSION.finditer(text):
        if _plausible_bare_version(match.group(1)):
            add(*match.span(), match.group(1))
    return _unique(value for _, value in sorted(found))


# --- products ----------------------------------------------------------------------------------------

# Model codes: capital letters then 2-5 digits, optional suffix letters: X200, AB-1234, RT-AX88U.
_MODEL_CODE = re.compile(r"(?<![\w.#-])((?:[A-Z]{1,4}-)?[A-Z]{1,4}-?\d{2,5}[A-Z]{0,3})(?![\w-]|\.\d)")
_NOT_MODEL_PREFIX = {"E", "ERR", "HTTP", "V", "VER", "FW", "ID", "PIN", "REF", "NO", "NR", "TX", "OTP", "CVE"}
_ID_LABEL = re.compile(
    r"(?:order|ticket|case|invoice|ref|reference|tracking|account|id|no|number|#)\W{0,3}$",
    re.I,
)


def _product_pattern(name: str) -> re.Pattern[str] | None:
    """Case-, spacing- and hyphen-insensitive pattern for one product name: "X200" also finds "x-200"."""
    runs = re.findall(r"[^\W\d_]+|\d+", name)
    if not runs:
        return None
    # Short codes ("H1", "C5") only with an optional hyphen: "h 1" or "C 5" are too often something else.
    glue = r"-?" if sum(len(run) for run in runs) <= 3 else r"[\s_-]{0,2}"
    body = glue.join(re.escape(run) for run in runs)
    return re.compile(r"(?<![^\W_])" + body + r"(?![^\W_])", re.I)


def _squash(name: str) -> str:
    return re.sub(r"[\W_]", "", name.casefold())


def _products(text: str, known_products: Iterable[str]) -> tuple[list[str], list[int]]:
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    known: dict[str, str] = {}
    for name in known_products:
        clean = " ".join(name.split())
        if clean and _squash(clean) and _squash(clean) not in known:
            known[_squash(clean)] = clean
    # Longest names first so "Aeris Home Pro" wins over "Aeris Home".
    for squashed, name in sorted(known.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        pattern = _product_pattern(name)
        if pattern is None:
            continue
        for match in pattern.finditer(text):
            if any(match.start() < e and s < match.end() for s, e in taken):
                continue
            taken.append(match.span())
            found.append((match.start(), known[squashed]))
    product_ends = [end for _, end in taken]
    for match in _MODEL_CODE.finditer(text):
        code = match.group(1)
        letters = re.match(r"[A-Z]+", code)
        if letters and letters.group(0) in _NOT_MODEL_PREFIX:
            continue
        if _ID_LABEL.search(text[max(0, match.start() - 12) : match.start()]):
            continue
        if any(match.start() < e and s < match.end() for s, e in taken):
            continue
        taken.append(match.span())
        found.append((match.start(), known.get(_squash(code), code)))
    return _unique(value for _, value in sorted(found)), product_ends


# --- quoted messages ---------------------------------------------------------------------------------

# Bodies may wrap onto the next line but not across a blank line. Quotes pair up in order
# (an empty "" still consumes its two quotes); too-short bodies are dropped afterwards.
_QUOTES = (
    # Straight and curly double quotes, mixed as OCR often reads them (“like this").
    re.compile(r'["“„]((?:[^"“”„\n]|\n(?!\s*\n)){0,300})["”“]'),
    re.compile(r"«((?:[^«»\n]|\n(?!\s*\n)){0,300})»"),
)


def _quoted(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for pattern in _QUOTES:
        for match in pattern.finditer(text):
            body = " ".join(match.group(1).split())
            if len(body) >= 2 and any(ch.isalnum() for ch in body):
                found.append((match.start(), body))
    return _unique(value for _, value in sorted(found))


# --- public ------------------------------------------------------------------------------------------


def _unique(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for value in values:
        key = value.casefold()
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def parse_fields(text: str, known_products: Iterable[str] = ()) -> ScreenshotFields:
    """Error codes, versions, product names and quoted messages in `text`, in order of first appearance."""
    flat = text.replace("\r\n", "\n").replace("\r", "\n")
    products, product_ends = _products(flat, known_products)
    return ScreenshotFields(
        error_codes=tuple(_error_codes(flat)),
        versions=tuple(_versions(flat, product_ends)),
        products=tuple(products),
        quoted=tuple(_quoted(flat)),
    )


def reading_order(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Lines grouped into rows (boxes whose vertical centres are within half a line height), top to bottom,
    each row left to right."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda item: (item.box[1], item.box[0])):
        if rows:
            last = rows[-1]
            ref = sum(item.centre_y for item in last) / len(last)
            height = max(max(item.height for item in last), line.height, 1.0)
            if abs(line.centre_y - ref) <= height / 2.0:
                last.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda item: item.box[0]) for row in rows]


def build_result(lines: Iterable[OcrLine], engine: str, known_products: Iterable[str] = ()) -> OcrResult:
    """The `OcrResult` for the lines an engine read: empty lines dropped, text in reading order,
    character-weighted confidence (0 when nothing was read) and the parsed fields."""
    kept = [line for line in lines if line.text.strip()]
    rows = reading_order(kept)
    ordered = tuple(line for row in rows for line in row)
    text = "\n".join(" ".join(line.text.strip() for line in row) for row in rows)
    chars = sum(len(line.text.strip()) for line in ordered)
    confidence = sum(len(line.text.strip()) * line.confidence for line in ordered) / chars if chars else 0.0
    return OcrResult(
        text=text,
        lines=ordered,
        confidence=float(confidence),
        fields=parse_fields(text, known_products),
        engine=engine,
    )


# Phone/desktop chrome that every screenshot shares: clock times, battery and signal, bare numbers.
_CHROME_LINE = re.compile(r"^[\s\d:%|/()-]*(?:[ap]\.?m\.?|lte|5g|4g|wi-?fi)?[\s\d:%|/()-]*$", re.IGNORECASE)


def search_text(result: OcrResult) -> str:
    """The OCR text worth searching: the lines in reading order minus status-bar chrome (clock times,
    battery and signal readings, bare numbers), which every screenshot shares and which would otherwise
    make unrelated screenshots look alike to full-text search."""
    return "\n".join(line.text for line in result.lines if not _CHROME_LINE.match(line.text.strip()))
