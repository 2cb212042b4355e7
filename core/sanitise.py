"""Text from outside (a browser, an API client, a KB file, OCR) made safe to store and to match.

`clean_text` is applied at every boundary where text comes in: lone UTF-16 surrogates (which no
UTF-8 encoder accepts) become U+FFFD, NULs and other control characters are dropped (tabs and
line breaks stay). `fold_for_matching` is for detectors such as the injection filter: NFKC,
zero-width and bidirectional controls removed, common Cyrillic/Greek look-alikes mapped to Latin,
so "ig\u200bnore" and "іgnore" (Cyrillic i) read as "ignore". It is for matching only, never shown.
"""

from __future__ import annotations

import re
import unicodedata

_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Zero-width characters, the soft hyphen and the bidirectional embedding/override/isolate controls.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_LOOKALIKES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ո": "n", "ց": "g",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
        "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
        "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u", "ε": "e",
        "Α": "A", "Β": "B", "Ε": "E", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
        "Τ": "T", "Χ": "X",
    }
)  # fmt: skip


def clean_text(text: str) -> str:
    """`text` safe to encode and store: lone surrogates -> U+FFFD, control characters but tab and
    line breaks removed. Everything a person can read is kept."""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub("", text)


def fold_for_matching(text: str) -> str:
    """`text` as a detector should see it: NFKC, no invisible or bidi characters, look-alikes folded."""
    text = unicodedata.normalize("NFKC", clean_text(text))
    return _INVISIBLE.sub("", text).translate(_LOOKALIKES)
