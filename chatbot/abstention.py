"""When the bot should not answer: weak retrieval, an unreliable voice note or screenshot reading.

Retrieval confidence is *term coverage*: the share of the question's topic terms that the
retrieved passages contain. Topic terms are the question's normalised terms (see
`core.textnorm`) without one-letter leftovers and without conversational filler ("keeps",
"really", "what's wrong") that says nothing about the topic, so an off-topic word ("coffee",
"bitcoin") weighs as much as it should. A term counts as found in a passage when the passage has
it, has it written as two words or with a hyphen ("wifi" / "Wi-Fi", "micro sd" / "microSD"), or
has the customer's word with one typo ("updte", "adress"). The confidence is the mean of the best
single passage's coverage (one passage answers the whole question) and the coverage of the top
passages together (the question's words all belong to the knowledge base); where dense retrieval
ran, a hit's dense cosine can stand in for it, and a top hit's text-embedder cosine above
`min_similarity` answers on its own (customers' wordings of a topic share few words with the page, the
meaning carries). Thresholds are calibrated on the eval sets by
`bench/calibrate_abstention.py`, which prints the table the README shows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core import textnorm
from core.errors import ConfigError
from core.types import Hit
from retrieval.fusion import SENTENCE_SOURCE, SHARED_SOURCES
from retrieval.understand import LOW_ASR_CONFIDENCE, LOW_OCR_CONFIDENCE, Understanding

# Words customers wrap around a question; they carry no topic (stemmed like every other term).
_FILLER_TEXT = (
    "keep keeps kept say says said tell told want wants wanted need needs try tried get gets got go goes "
    "going went gone make makes made take takes took use using see saw look looks seem seems happen "
    "happened thing things stuff really actually already anymore still since though even ever always "
    "never sometimes again also maybe probably just lately suddenly every everything anything something "
    "someone nothing wrong right problem problems issue issues help know think mean means wonder like "
    "good bad new old best better much many lot lots little bit way time times hey sorry fix give "
    "whats hows wheres thats re ll ve im ive dont don doesn didn isn aren wasn won wont cant cannot couldn "
    "shouldn u ur ya pls plz thx damn damned goddamn bloody fucking fuck freaking frigging"
)
FILLER: frozenset[str] = frozenset(textnorm.tokens(_FILLER_TEXT))
_NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
NUMBERS: dict[str, str] = {textnorm.tokens(w)[0]: str(i) for i, w in enumerate(_NUMBER_WORDS, start=1)}

_WORD = re.compile(r"[a-z0-9]+")
_QUESTION_PHRASE = re.compile(r"\bhow\s+(?:long|much|many|far|often|soon|old)\b", re.IGNORECASE)
_HYPHEN = re.compile(r"(?<=[^\W_])-(?=[^\W_])")  # "X-300" -> "X300", "Wi-Fi" -> "WiFi"
MIN_FUZZY_CHARS = 5


@dataclass(frozen=True)
class AbstentionPolicy:
    """`min_coverage`: least retrieval confidence (term coverage, see the module doc) to answer;
    `min_dense`: an ImageBind cosine that counts as enough on its own; `min_similarity`: a text-embedder
    cosine of a top hit that counts as enough on its own. Both are raised for a question with words
    the knowledge base never uses (misspellings of its words aside), by `unknown_coverage_penalty` /
    `unknown_penalty` times their share of the question's content words. `use_similarity` False:
    coverage only, the rule before the text embedder. Chosen on the dev split by
    `bench/generalization.py --tune` (a false answer costs three refusals, false answers <= 5 % in
    every set). `min_asr` / `min_ocr`: reading confidences below which a voice note / screenshot that
    is the only input is not trusted; `top_hits`: how many of the best hits the coverage looks at."""

    min_coverage: float = 0.55
    min_dense: float = 0.35
    min_similarity: float = 0.45
    unknown_penalty: float = 0.0
    unknown_coverage_penalty: float = 0.4
    use_similarity: bool = True
    min_asr: float = LOW_ASR_CONFIDENCE
    min_ocr: float = LOW_OCR_CONFIDENCE
    top_hits: int = 3

    def __post_init__(self) -> None:
        names = ("min_coverage", "min_dense", "min_similarity", "unknown_penalty", "unknown_coverage_penalty")
        for name in (*names, "min_asr", "min_ocr"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"abstention threshold {name} must be in [0, 1], got {getattr(self, name)}")
        if self.top_hits < 1:
            raise ConfigError("top_hits must be >= 1")


@dataclass(frozen=True)
class Verdict:
    """Whether to abstain; `reason` is for staff (figures included), `kind` names the customer's refusal
    (`chatbot.answers.wording.REFUSALS`), `subject` what it is about (the unknown model codes)."""

    abstain: bool
    reason: str
    confidence: float
    kind: str = ""
    subject: tuple[str, ...] = ()
    coverage: float = 0.0  # the figures the rule weighed, for the staff trace and the calibration bench
    similarity: float = 0.0
    unknown_share: float = 0.0


def topic_terms(text: str) -> list[str]:
    """`textnorm.tokens` of `text` without filler words, question phrases ("how long") and one-letter
    leftovers ("what's" -> "s"); numbers as digits ("three" -> "3"), hyphenated words joined ("X-300"
    -> "x300"). A text of nothing but filler keeps its words ("how do I fix this?" after a screenshot):
    the conversation context, not the words, says what it is about."""
    text = _HYPHEN.sub("", _QUESTION_PHRASE.sub(" ", text))
    tokens = [t for t in textnorm.tokens(text) if len(t) > 1 or t.isdigit()]
    topical = [t for t in tokens if t not in FILLER] or tokens
    return [NUMBERS.get(t, t) for t in topical]


def question_text(understanding: Understanding, resolved_text: str) -> str:
    """What coverage is judged on: typed/spoken words and the screenshot's codes and product names,
    else (nothing typed, nothing recognised) the screenshot's text without status-bar chrome."""
    parts = [resolved_text, understanding.sound or ""]
    if understanding.ocr is not None:
        f = understanding.ocr.fields
        parts += [*f.error_codes, *f.products]
        if not any(textnorm.tokens(p) for p in parts):
            parts = [understanding.screen_text]
    return " ".join(p for p in parts if p.strip())


def query_terms(understanding: Understanding, resolved_text: str) -> set[str]:
    """The terms a good hit should contain (see `question_text` and `topic_terms`)."""
    return set(topic_terms(question_text(understanding, resolved_text)))


def _close(a: str, b: str) -> bool:
    """One typo apart (insert, delete, substitute or swap two neighbours), same first letter."""
    if a[0] != b[0] or abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


class _Passage:
    """A hit's vocabulary: its terms, joined neighbouring terms ("wi fi" -> "wifi") and raw words.

    `stored` is the store's index terms of `text` (`Hit.terms`, the same `textnorm.tokens` stemmed once
    at ingestion); without them the text is stemmed here."""

    def __init__(self, text: str, stored: str = "") -> None:
        raw = stored.split() if stored else textnorm.tokens(text)
        tokens = [NUMBERS.get(t, t) for t in raw]
        self.terms = set(tokens) | {a + b for a, b in zip(tokens, tokens[1:], strict=False)}
        self.words = {w for w in _WORD.findall(text.lower()) if len(w) >= MIN_FUZZY_CHARS}

    def has(self, term: str, spellings: Sequence[str]) -> bool:
        if term in self.terms:
            return True
        return any(
            _close(word, known)
            for word in spellings
            if len(word) >= MIN_FUZZY_CHARS
            for known in self.words
            if known[0] == word[0]
        )


def _spellings(text: str) -> dict[str, list[str]]:
    """Each topic term of `text` with the raw words it came from (for the one-typo match)."""
    words = _WORD.findall(text.lower())
    out: dict[str, list[str]] = {}
    for word in words:
        for term in topic_terms(word):
            out.setdefault(term, []).append(word)
    return out


def _pairs(terms: Sequence[str]) -> dict[str, tuple[str, str]]:
    return {a + b: (a, b) for a, b in zip(terms, terms[1:], strict=False)}


def coverage(terms: set[str], hit: Hit) -> float:
    """Share of `terms` found in the hit's text (exact, joined-word or one-typo match)."""
    if not terms:
        return 0.0
    passage = _Passage(hit.text, hit.terms)
    return len({t for t in terms if passage.has(t, [t])}) / len(terms)


def _found(terms: set[str], ordered: Sequence[str], spellings: dict[str, list[str]], p: _Passage) -> set[str]:
    found = {t for t in terms if p.has(t, spellings.get(t, [t]))}
    for joined, (a, b) in _pairs(ordered).items():  # "micro sd" in the question, "microSD" in the passage
        if joined in p.terms and a in terms and b in terms:
            found |= {a, b}
    return found


def retrieval_confidence(
    terms: set[str],
    hits: Sequence[Hit],
    top: int,
    question: str | None = None,
    no_typo: set[str] | None = None,
) -> float:
    """Mean of the best hit's term coverage and the top hits' joint coverage (see the module doc), or
    a hit's dense cosine when that is higher; 0 without terms or hits."""
    best = max(
        (s.score for hit in hits[:top] for name, s in hit.sources.items() if name in SHARED_SOURCES),
        default=0.0,
    )
    if not terms or not hits:
        return round(best, 4)
    text = question if question is not None else " ".join(sorted(terms))
    ordered = [t for t in topic_terms(text) if t in terms]
    spellings = _spellings(text)
    for term in no_typo or ():  # a word the knowledge base never uses is not a typo of one it does
        spellings[term] = []
    single = 0.0
    joint: set[str] = set()
    for hit in hits[:top]:
        found = _found(terms, ordered, spellings, _Passage(hit.text, hit.terms))
        single = max(single, len(found) / len(terms))
        joint |= found
    return round(max(best, (single + len(joint) / len(terms)) / 2), 4)


# Model codes as customers type them: X900, M-20, PS5, AB12 (one or two capitals, then digits). A single
# E followed by digits is an error code, not a model.
_NOT_MODELS = frozenset({"MP3", "MP4", "M4A", "H264", "H265"})  # file formats and codecs
_MODEL_CODE = re.compile(r"\b(?!E-?\d+\b)([A-Z]{1,2})-?(\d{1,4})\b")


def _squash(text: str) -> str:
    return re.sub(r"[\s-]+", "", text.lower())


def unknown_models(text: str, hits: Sequence[Hit]) -> list[str]:
    """Model codes the question names that none of the retrieved passages mention ("does the X900 ...?"
    when the company makes no X900): answering from the nearest product would be wrong."""
    found = [m.group(0) for m in _MODEL_CODE.finditer(text) if m.group(0).upper() not in _NOT_MODELS]
    if not found:
        return []
    passages = _squash(" ".join(h.text for h in hits))
    return list(dict.fromkeys(code for code in found if _squash(code) not in passages))


MIN_TITLE_TERMS = 3


def title_containment(terms: set[str], hits: Sequence[Hit], top: int) -> float:
    """For a question that is a whole screenshot (app chrome and all): the best share of a top hit's
    title terms that the screenshot shows. The screen's own words ("online", "Type a message") dilute
    the question's coverage, but a screenshot that shows what a document is about contains its title."""
    best = 0.0
    for hit in hits[:top]:
        title = set(topic_terms(str(hit.metadata.get("title") or "")))
        if len(title) >= MIN_TITLE_TERMS:
            best = max(best, len(title & terms) / len(title))
    return round(best, 4)


UNSURE_ASR = 0.7  # a voice note heard below this that matches nothing was more likely misheard than off-topic


def _voice_only_unsure(understanding: Understanding) -> bool:
    t = understanding.transcript
    return t is not None and not understanding.typed_text and t.confidence < UNSURE_ASR


def text_similarity(hits: Sequence[Hit], top: int) -> float | None:
    """The best text-embedder cosine among the top hits (None when that channel did not run)."""
    scores = [hit.sources[SENTENCE_SOURCE].score for hit in hits[:top] if SENTENCE_SOURCE in hit.sources]
    return round(max(scores), 4) if scores else None


def unknown_words(
    text: str, never_used: Sequence[str], misspelt: Callable[[str], str | None]
) -> tuple[str, ...]:
    """The terms of `never_used` (topic terms of `text` the knowledge base never uses) that are not
    a customer's misspelling of a knowledge-base word: `misspelt(word)` names the word(s) it misspells
    ("shippinh" -> "shipping", "wanthelp" -> "want help"), or None."""
    unknown = set(never_used)
    excused: set[str] = set()
    for word in _WORD.findall(text.lower()):
        terms = set(topic_terms(word)) & unknown
        if terms and misspelt(word) is not None:
            excused |= terms
    return tuple(t for t in never_used if t not in excused)


def judge(
    policy: AbstentionPolicy,
    understanding: Understanding,
    resolved_text: str,
    hits: Sequence[Hit],
    never_used: Sequence[str] = (),
    unknown_share: float = 0.0,
) -> Verdict:
    """Whether to abstain before generating, and why (the reason is shown to staff and the customer).
    `never_used`: topic terms the knowledge base never uses (no one-typo match for them);
    `unknown_share`: their share of the question's content terms (it raises the similarity needed)."""
    typed = bool(understanding.typed_text)
    t, o = understanding.transcript, understanding.ocr
    if t is not None and not typed and t.text.strip() and t.confidence < policy.min_asr:
        return Verdict(
            True,
            f"the voice note could not be understood reliably (confidence {t.confidence:.2f})",
            0.0,
            "unclear_voice",
        )
    if o is not None and not typed and t is None and not o.empty and o.confidence < policy.min_ocr:
        return Verdict(
            True,
            f"the screenshot could not be read reliably (confidence {o.confidence:.2f})",
            0.0,
            "unreadable_screenshot",
        )
    if not hits:
        return Verdict(True, "nothing in the knowledge base matches the question", 0.0, "not_found")
    unknown = unknown_models(resolved_text, hits)
    if unknown:
        reason = f"{', '.join(unknown)} is not a product our support knowledge covers"
        return Verdict(True, reason, 0.0, "unknown_product", tuple(unknown))
    question = question_text(understanding, resolved_text)
    terms = set(topic_terms(question))
    confidence = retrieval_confidence(terms, hits, policy.top_hits, question, no_typo=set(never_used))
    if o is not None and not typed and not (t is not None and t.text.strip()) and not resolved_text.strip():
        confidence = max(confidence, title_containment(terms, hits, policy.top_hits))
    has_dense = any(name in SHARED_SOURCES for hit in hits for name in hit.sources)
    threshold = min(policy.min_coverage, policy.min_dense) if has_dense else policy.min_coverage
    threshold = min(1.0, threshold + policy.unknown_coverage_penalty * unknown_share)
    similarity = text_similarity(hits, policy.top_hits)
    share = round(unknown_share, 4)
    seen = (confidence, similarity or 0.0, share)  # what the rule weighed, for the trace
    needed = policy.min_similarity + policy.unknown_penalty * unknown_share
    if policy.use_similarity and similarity is not None and similarity >= needed:
        return Verdict(False, "", max(confidence, similarity), "", (), *seen)
    if confidence < threshold:
        compared = f"; similarity {similarity:.2f} < {needed:.2f}" if similarity is not None else ""
        kind = "unclear_voice" if _voice_only_unsure(understanding) else "out_of_scope"
        reason = (
            "the question looks out of scope for our support knowledge "
            f"(match {confidence:.2f} < {threshold:.2f}{compared})"
        )
        return Verdict(True, reason, confidence, kind, (), *seen)
    return Verdict(False, "", confidence, "", (), *seen)
