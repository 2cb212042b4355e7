"""The customer chat and the staff console in a real browser (Playwright driving Debian's chromium).

Skipped when /usr/bin/chromium or the playwright package is missing (CI installs both: `apt-get
install chromium`, `pip install playwright`; never `playwright install`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chatbot.traces import TurnFilter
from tests.browser.conftest import Served
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, STAFF_PASSWORD, STAFF_USER, spoken_wav

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python package) is not installed")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

TIMEOUT_MS = 30_000
MIC_QUESTION = "How do I return a product for a refund?"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def mic_browser(playwright: Any, served: Served) -> Iterator[Any]:
    """A chromium whose microphone is Chromium's fake capture device playing an espeak-ng voice note
    (on a loop), with the permission prompt auto-accepted: the real recording path, no real mic."""
    note = spoken_wav(served.root / "mic.wav", MIC_QUESTION)
    fake_mic = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={note}",
    ]
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *fake_mic])
    yield chromium
    chromium.close()


def _open_tab(browser: Any, served: Served, **context_options: Any) -> Iterator[Any]:
    """A fresh tab that fails its test if the page fetched anything from outside the app."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000}, **context_options)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    tab.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((served.url, "data:", "blob:")) else None,
    )
    yield tab
    context.close()
    assert outside == [], f"the page fetched something from outside the app: {outside}"


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    yield from _open_tab(browser, served)


@pytest.fixture
def mic_page(mic_browser: Any, served: Served) -> Iterator[Any]:
    yield from _open_tab(mic_browser, served, permissions=["microphone"])


def _ask(page: Any, text: str, files: list[str] | None = None) -> None:
    """Types (and attaches) one message, sends it, and waits until its answer has arrived."""
    if files:
        page.locator("#message input[type='file']").set_input_files(files)
        page.locator("#message .thumbnail-item, #message .thumbnail-image, #message audio").first.wait_for()
    _send(page, text)


def _send(page: Any, text: str) -> None:
    """Sends the message box with `text` (and whatever is attached) and waits for the answer."""
    before = page.locator("#chat [data-testid='bot']").count()
    box = page.locator("#message textarea")
    box.fill(text)
    box.press("Enter")
    page.wait_for_function(
        "([n]) => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n", arg=[before]
    )
    page.locator("#message textarea").wait_for()
    page.wait_for_function(
        "() => !document.querySelector('#chat .pending, #chat [data-testid=\"status-tracker\"].generating')"
    )


def _latest_turn(served: Served) -> Any:
    return served.runtime.traces.turns(TurnFilter(limit=1))[0]


def _wait_turns(served: Served, count: int, page: Any) -> None:
    for _ in range(100):
        if len(served.runtime.traces.turns(TurnFilter(limit=10_000))) >= count:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the turn was not recorded")


def test_typed_question_gets_a_cited_answer_with_the_section_and_article_and_a_follow_up(
    page: Any, served: Served
) -> None:
    page.goto(served.url + "/")
    banner = page.locator("#degraded-banner").inner_text()
    assert banner == "Answers are quoted from our help articles.", "a neutral line, no mode labels"
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    _ask(page, "my extender shows error E-42")
    _wait_turns(served, start + 1, page)
    page.get_by_text("Source [1]").first.wait_for()
    assert "Mesh link lost" in page.locator("#chat").inner_text()
    page.locator("#chat").get_by_text("Source [1]").first.click()  # expand the source preview
    link = page.locator("#chat a", has_text="Open the full article").first
    link.wait_for()
    assert page.locator("#chat mark").count() >= 1, "the quoted sentences are highlighted"
    article = page.request.get(served.url + "/" + str(link.get_attribute("href")))
    assert article.ok and "# Error E-42: Mesh link lost" in article.text(), "the whole article, read-only"
    assert article.headers["content-type"].startswith("text/plain")

    _ask(page, "how do I fix it?")
    _wait_turns(served, start + 2, page)
    follow = _latest_turn(served)
    assert follow.turn_index == 2 and "E-42" in follow.trace.context.resolved_query


def test_screenshot_upload_is_read_and_answered(page: Any, served: Served) -> None:
    page.goto(served.url + "/")
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    _ask(page, "", files=[str(served.kb / "screenshots" / "e42_mesh_link.png")])
    _wait_turns(served, start + 1, page)
    row = _latest_turn(served)
    assert row.trace.inputs.image_name == "e42_mesh_link.png"
    assert "E-42" in row.trace.inputs.ocr.text
    page.get_by_text("How I read your message").first.wait_for()
    # the customer sees which file they sent (by name: uploads are deleted after the turn)
    assert "📎 e42_mesh_link.png" in page.locator("#chat").inner_text()


def test_voice_note_upload_is_transcribed(page: Any, served: Served) -> None:
    note = spoken_wav(served.root / "note.wav", "How do I return a product for a refund?")
    page.goto(served.url + "/")
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    _ask(page, "", files=[str(note)])
    _wait_turns(served, start + 1, page)
    row = _latest_turn(served)
    heard = row.trace.inputs.transcript.text.lower()
    assert "refund" in heard
    assert "policies/returns-and-refunds.md" in [c.doc_id for c in row.trace.answer.citations]
    page.locator("#chat").get_by_text("How I read your message").first.click()
    page.locator("#chat").get_by_text("I heard:").first.wait_for()


def test_voice_note_recorded_with_the_microphone_is_transcribed(mic_page: Any, served: Served) -> None:
    page = mic_page
    page.goto(served.url + "/")
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    page.locator("#message [data-testid='microphone-button']").click()
    page.locator("#message button[aria-label='Start recording']").click()
    page.wait_for_timeout(4_000)  # the customer speaks: the fake device plays the ~3 s note on a loop
    page.locator("#message button[aria-label='Stop recording']").click()
    page.locator("#message button[aria-label='Attach audio']").click()
    page.locator("#message button[aria-label='Remove file']").wait_for()  # the recording is attached
    _send(page, "")
    _wait_turns(served, start + 1, page)
    row = _latest_turn(served)
    assert row.trace.inputs.has_audio and row.trace.inputs.transcript.duration_s >= 3.0
    assert "refund" in row.trace.inputs.transcript.text.lower()
    assert "policies/returns-and-refunds.md" in [c.doc_id for c in row.trace.answer.citations]


def test_thumbs_down_then_the_staff_console_shows_that_turn(browser: Any, page: Any, served: Served) -> None:
    page.goto(served.url + "/")
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    _ask(page, "the M10 blinks amber and the app says E-42")
    _wait_turns(served, start + 1, page)
    turn = _latest_turn(served)
    page.locator("#chat button[aria-label='Dislike']").last.click()
    page.locator("#feedback-status").get_by_text("saved").wait_for()
    page.locator("#comment textarea").fill("I have an X300")
    page.locator("#send-feedback").click()
    page.locator("#feedback-status").get_by_text("Thank you").wait_for()
    rated = served.runtime.traces.get(turn.id)
    assert rated is not None and rated.feedback == -1 and rated.feedback_comment == "I have an X300"

    staff = browser.new_context(viewport={"width": 1200, "height": 1000}).new_page()
    staff.set_default_timeout(TIMEOUT_MS)
    staff.goto(served.url + "/staff/")
    staff.locator("input[type='password']").wait_for()
    assert staff.locator("#turns").count() == 0  # only the login form, no console
    staff.locator("input").first.fill(STAFF_USER)
    staff.locator("input[type='password']").fill(STAFF_PASSWORD)
    staff.get_by_role("button", name="Login").click()
    staff.get_by_text("per-turn traces").first.wait_for()
    staff.locator("#f-thumbs-down input").check()
    staff.locator("#refresh").click()
    staff.locator("#turn-summary").get_by_text(f"Turn #{turn.id}").wait_for()
    summary = staff.locator("#turn-summary").inner_text()
    assert "blinks amber" in summary
    assert "thumbs down" in staff.locator("#turn-feedback").inner_text()
    assert "bm25" in staff.locator("#per-source").inner_text()
    assert "troubleshooting/e42-mesh-link-lost.md" in staff.locator("#fused").inner_text()
    graph = staff.locator("#graph-picture img")
    graph.scroll_into_view_if_needed()
    staff.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=graph.element_handle())
    staff.locator("#export").click()
    staff.locator("#eval-line").get_by_text(f"turn-{turn.id}").first.wait_for()
    staff.context.close()


def test_i_want_a_human_shows_the_handoff_message(page: Any, served: Served) -> None:
    page.goto(served.url + "/")
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    _ask(page, "what is the capital of France?")  # out of scope: the bot offers a person and waits
    _wait_turns(served, start + 1, page)
    assert not _latest_turn(served).handoff
    assert "pass this conversation to a person" in page.locator("#chat").inner_text()
    page.get_by_role("button", name="Yes, connect me with a person").click()
    _wait_turns(served, start + 2, page)
    page.locator("#chat").get_by_text("Handing you over to a person").first.wait_for()
    assert _latest_turn(served).handoff
    page.locator("#human").click()
    page.wait_for_function(
        "() => document.querySelector('#chat').innerText.split('Handing you over to a person').length > 2"
    )
    assert _latest_turn(served).handoff


def test_a_question_back_offers_buttons_and_the_choice_gives_that_branchs_steps_as_a_list(
    page: Any, served: Served
) -> None:
    page.goto(served.url + "/")
    start = len(served.runtime.traces.turns(TurnFilter(limit=10_000)))
    _ask(page, "how do I fix error E42?")
    _wait_turns(served, start + 1, page)
    chat = page.locator("#chat")
    assert "Which one is it" in chat.inner_text()
    x300 = page.get_by_role("button", name="X300", exact=True)
    x300.wait_for()
    assert page.get_by_role("button", name="X200 or M10", exact=True).is_visible()
    x300.click()
    _wait_turns(served, start + 2, page)
    page.wait_for_function("() => document.querySelectorAll('#chat ol li').length >= 4")
    steps = chat.locator("ol").last.locator("li")
    assert steps.count() == 4 and "Backhaul band" in steps.nth(1).inner_text(), "the X300 branch's steps"
    assert "X300" in chat.locator("[data-testid='user']").last.inner_text(), "the choice is the reply"
    strong = chat.locator("ol").last.locator("strong").first
    looks = strong.evaluate(
        "(b) => [b, b.parentElement].map((e) => [getComputedStyle(e).fontSize,"
        " getComputedStyle(e).fontFamily])"
    )
    assert looks[0] == looks[1], f"bold text has the size and font of the text around it: {looks}"
    assert "**" not in chat.inner_text()
    turn = _latest_turn(served)
    assert turn.trace.answer.plan is not None and turn.trace.answer.plan.items[0].section.endswith("X300")
    page.screenshot(path=str(served.root / "branch.png"), full_page=True)


def test_staff_console_refuses_a_wrong_password(browser: Any, served: Served) -> None:
    tab = browser.new_context().new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(served.url + "/staff/")
    tab.locator("input").first.fill(STAFF_USER)
    tab.locator("input[type='password']").fill("wrong-password")
    tab.get_by_role("button", name="Login").click()
    tab.get_by_text("Incorrect").first.wait_for()
    assert tab.locator("#turns").count() == 0 and tab.get_by_text("per-turn traces").count() == 0
    tab.context.close()
