"""Regenerates the README screenshots of the two views (not a test):

    python -m tests.browser.screenshots [--out docs/screenshots]

Ingests the sample KB (data/kb) into a temporary data dir (BM25 only, extractive answers), serves
the app on 127.0.0.1, has a short conversation in chromium, rates one answer down, logs into the
staff console and captures both pages.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, REPO, SAMPLE_KB, STAFF_PASSWORD, STAFF_USER

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def capture(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from app.runtime import open_runtime
    from app.serve import AppServer, open_engine, public_notes
    from core.config import Settings
    from ui.app import AppOptions, StaffLogin, build_app

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="supportbot-shots-") as tmp:
        settings = Settings(data_dir=Path(tmp), allow_missing_models=True, generator="extractive")
        with open_runtime(settings, load_models=False) as runtime:
            runtime.ingest(SAMPLE_KB, progress=False)
            engine, notices = open_engine(runtime)
            options = AppOptions(
                kb_dir=SAMPLE_KB,
                staff=StaffLogin(STAFF_USER, STAFF_PASSWORD),
                notices=tuple(notices),
                public_notes=public_notes(runtime),
            )
            with (
                AppServer(
                    build_app(engine, settings, options, port=0, traces=runtime.traces), "127.0.0.1", 0
                ) as server,
                sync_playwright() as p,
            ):
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1100, "height": 1250})
                page.set_default_timeout(60_000)
                page.goto(server.url + "/")

                def answered(before: int) -> None:
                    page.wait_for_function(
                        "([n]) => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n",
                        arg=[before],
                    )
                    page.wait_for_timeout(1500)

                count = page.locator("#chat [data-testid='bot']").count()
                page.locator("#message textarea").fill("how do I fix error E42?")
                page.locator("#message textarea").press("Enter")
                answered(count)  # a question back, its options as buttons
                count = page.locator("#chat [data-testid='bot']").count()
                page.get_by_role("button", name="X300", exact=True).click()
                answered(count)  # that branch's numbered steps
                page.locator("#chat").get_by_text("Source [1]").last.click()
                page.locator("#chat mark").first.wait_for()  # the cited section, quoted steps marked
                page.wait_for_timeout(500)
                page.locator("#chat button[aria-label='Dislike']").last.click()
                page.locator("#feedback-status").get_by_text("saved").wait_for()
                page.screenshot(path=str(out / "customer_chat.png"))

                staff = browser.new_page(viewport={"width": 1300, "height": 2750})
                staff.set_default_timeout(60_000)
                staff.goto(server.url + "/staff/")
                staff.locator("input").first.fill(STAFF_USER)
                staff.locator("input[type='password']").fill(STAFF_PASSWORD)
                staff.get_by_role("button", name="Login").click()
                staff.get_by_text("per-turn traces").first.wait_for()
                staff.locator("#f-thumbs-down input").check()
                staff.locator("#refresh").click()
                staff.locator("#turn-summary").get_by_text("Turn #").wait_for()
                graph = staff.locator("#graph-picture img")
                graph.scroll_into_view_if_needed()
                staff.wait_for_function(
                    "(img) => img.complete && img.naturalWidth > 0", arg=graph.element_handle()
                )
                staff.evaluate("window.scrollTo(0, 0)")
                staff.wait_for_timeout(500)
                staff.screenshot(path=str(out / "staff_console.png"))
                browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    capture(parser.parse_args().out)


if __name__ == "__main__":
    main()
