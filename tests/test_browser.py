"""The app in real headless Chromium (Debian ``chromium`` driven by Playwright; no browser download).

Skipped with a reason where Chromium or Playwright is missing; ``.ci/run`` installs both and sets
``MURALXGAN_REQUIRE_BROWSER=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from mural_inpaint.imaging import load_mask, save_png
from tests.app_fixtures import LOGINS, SYSTEMS
from tests.helpers import synthetic_mural

pytestmark = pytest.mark.slow  # about a minute: a real app server and browser

CHROMIUM = "/usr/bin/chromium"
# As root and offline: no sandbox, and none of Chromium's own background connections
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not shutil.which(CHROMIUM):
        return f"Debian chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        if os.environ.get("MURALXGAN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def signed_in_page(browser, url: str, name: str = "alice"):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url + "auth/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", LOGINS[name])
    page.click("button[type=submit]")
    page.get_by_text(f"Signed in as {name}").wait_for(timeout=30000)
    return page


def test_paint_a_stroke_on_a_scaled_canvas_and_restore(browser, app_server, tmp_path):
    url, context = app_server
    mural = synthetic_mural(400, 600, seed=3)  # larger than the canvas: the mask must come back at full size
    photo = save_png(mural, tmp_path / "wall.png")
    page = signed_in_page(browser, url)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload", exact=True).click()
    chooser.value.set_files(str(photo))
    page.get_by_role("button", name="Brush", exact=True).click()
    canvas = page.locator("canvas").first.bounding_box()
    x, y = canvas["x"] + canvas["width"] * 0.3, canvas["y"] + canvas["height"] * 0.5
    page.wait_for_timeout(500)  # the background is drawn before the stroke starts
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x + 8 * step, y, steps=2)
    page.mouse.up()
    page.get_by_role("button", name="Restore", exact=True).click()
    page.get_by_text("of the image with").wait_for(timeout=120000)
    page.screenshot(path=str(tmp_path / "restore.png"))
    item = next(i for i in reversed(context.store.items()) if i["source"] == "restored in the app by alice")
    mask = load_mask(item["mask_path"])
    assert (item["width"], item["height"]) == (600, 400) and mask.shape == (400, 600)
    rows, columns = np.nonzero(mask)
    assert 0.005 < mask.mean() < 0.1  # one horizontal stroke
    assert columns.max() - columns.min() > 3 * (rows.max() - rows.min())
    assert abs(rows.mean() - 200) < 40  # painted across the middle of the photo


def test_approve_an_edited_description(browser, app_server):
    url, context = app_server
    page = signed_in_page(browser, url, "bob")
    page.get_by_role("tab", name="Caption review").click()
    page.get_by_text("Mural 1 of").wait_for(timeout=30000)
    editor = page.get_by_label("Your description (edit, then approve or reject)")
    editor.fill("Two flakes across the blue robe; the azurite ground is lost.")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Saved: approved").wait_for(timeout=30000)
    rows = [r for r in context.store.db.query("SELECT * FROM caption_reviews WHERE reviewer = 'bob'")]
    assert len(rows) == 1 and rows[0]["decision"] == "approved"
    assert rows[0]["final_text"] == "Two flakes across the blue robe; the azurite ground is lost."
    assert rows[0]["draft"].startswith("Damage covers")


# Copies every fetch response body (streams included, chunk by chunk) and every EventSource message into
# window.__received, so the test reads exactly what the page received, even from streams that stay open.
RECORD_RESPONSES = """
window.__received = [];
const originalFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await originalFetch(...args);
  window.__received.push(String(args[0] && args[0].url || args[0]));
  try {
    const reader = response.clone().body.getReader();
    const decoder = new TextDecoder();
    (async () => { for (;;) { const {done, value} = await reader.read(); if (done) break;
                               window.__received.push(decoder.decode(value)); } })();
  } catch (e) {}
  return response;
};
const OriginalEventSource = window.EventSource;
window.EventSource = function (url, options) {
  const source = new OriginalEventSource(url, options);
  window.__received.push(String(url));
  source.addEventListener("message", (event) => window.__received.push(event.data));
  return source;
};
"""


def test_blind_vote_names_nobody_until_the_reveal(browser, app_server):
    url, context = app_server
    page = signed_in_page(browser, url)
    page.add_init_script(RECORD_RESPONSES)
    page.reload()
    page.get_by_text("Signed in as alice").wait_for(timeout=30000)
    page.evaluate("window.__received.length = 0")  # from here on: what the Blind A/B tab loads
    page.get_by_role("tab", name="Blind A/B").click()
    panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="A is better"))
    images = panel.locator("img")
    images.nth(2).wait_for(timeout=60000)
    page.wait_for_function("window.__received.some((text) => text.includes('process_completed'))", timeout=30000)
    received = "\n".join(page.evaluate("window.__received"))
    image_urls = [images.nth(i).get_attribute("src") for i in range(3)]
    assert all(src.split("/")[-1] in received for src in image_urls)  # the event data carrying the images was read
    before = panel.inner_html() + received
    leaks = [system for system in SYSTEMS if system in before]
    assert images.count() == 3 and not leaks, f"names visible before the vote: {leaks}"
    votes_before = len(context.store.votes())
    page.get_by_role("button", name="B is better").click()
    page.get_by_text("Vote recorded").wait_for(timeout=30000)
    reveal = page.get_by_text("Vote recorded").inner_text()
    vote = context.store.votes()[-1]
    assert len(context.store.votes()) == votes_before + 1 and vote["rater"] == "alice" and vote["outcome"] == "right"
    assert f"A was {vote['left_system']}, B was {vote['right_system']}" in reveal
