"""Screenshots of the app's four tabs for the README, from synthetic murals (never the real data).

    python -m scripts.app_screenshots [--out docs/images]

Starts the app on a temporary database with a small synthetic collection, signs in, casts a few scripted blind votes
so the leaderboard has something to show, then drives Debian's Chromium (Playwright, offline flags as in
``tests/test_browser.py``) at 1280 px wide: Restore (a stroke painted, the description written, the restoration
done), Caption review, Blind A/B and Leaderboard.  Writes ``app-restore.png``, ``app-caption-review.png``,
``app-blind-ab.png`` and ``app-leaderboard.png`` (256-colour PNGs).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mural_inpaint.imaging import save_png
from tests.helpers import ROOT, synthetic_mural

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOGINS = {"conservator": "screenshots", "rater-2": "screenshots", "rater-3": "screenshots"}
SYSTEMS = ("muralxgan", "telea", "biharmonic")
WIDTH = 1280


def collection(folder: Path, count: int = 4) -> Path:
    """``gt/`` + ``mask/`` pairs of synthetic murals with a flake and a crack each."""
    for index in range(count):
        mural = synthetic_mural(192, 256, seed=10 + index)
        mask = np.zeros(mural.shape[:2], bool)
        mask[40 + 12 * index:80 + 12 * index, 60:110] = True
        mask[140, 30 + 20 * index:200] = True
        save_png(mural, folder / "gt" / f"cave-{17 + index}-panel.png")
        save_png(mask, folder / "mask" / f"cave-{17 + index}-panel.png")
    return folder


def scripted_votes(context, votes_per_rater: int = 12) -> None:
    """Blind votes from the three raters, who mostly prefer the trained model (for the leaderboard screenshot); a
    rater stops early once shown every restoration (each is shown to a rater once)."""
    from mural_inpaint.app.blind_logic import cast_vote, next_pair
    from mural_inpaint.errors import InputError

    rng = np.random.default_rng(0)
    rank = {"muralxgan": 2, "biharmonic": 1, "telea": 0}
    for rater in LOGINS:
        for _ in range(votes_per_rater):
            try:
                shown = next_pair(context, rater, rng)
            except InputError:
                break
            pair = context.store.db["pairs"].get(shown.pair_id)
            left = context.store.candidate(pair["left_id"])["system"]
            right = context.store.candidate(pair["right_id"])["system"]
            better = "left" if rank[left] > rank[right] else "right"
            outcome = better if rng.random() < 0.8 else ("tie" if rng.random() < 0.5 else "both_bad")
            cast_vote(context, rater, shown.pair_id, outcome)


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from mural_inpaint.app.context import create_context
    from mural_inpaint.app.server import BackgroundServer
    from mural_inpaint.app.settings import AppSettings

    work = Path(tempfile.mkdtemp(prefix="muralxgan-screenshots-"))
    settings = AppSettings(db_path=work / "study.db", review_sources=(str(collection(work / "murals")),),
                           logins=LOGINS, admins=frozenset({"conservator"}), blind_systems=SYSTEMS, min_votes=5)
    context = create_context(settings)
    if not context.worker.idle.wait(600):
        raise SystemExit("the candidates were not computed in time")
    context.notes.clear()  # (the import note names a temporary folder)
    context.worker.notes.clear()
    scripted_votes(context)
    photo = save_png(synthetic_mural(400, 600, seed=3), work / "Cave 17 west wall.png")
    shots = []
    with BackgroundServer(context) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
        page.goto(url + "auth/login")
        page.fill("input[name=username]", "conservator")
        page.fill("input[name=password]", LOGINS["conservator"])
        page.click("button[type=submit]")
        page.get_by_text("Signed in as conservator").wait_for(timeout=60000)

        with page.expect_file_chooser() as chooser:
            page.get_by_role("button", name="Upload", exact=True).click()
        chooser.value.set_files(str(photo))
        page.get_by_text("Paint over the damage, or upload a mask").wait_for(timeout=60000)
        page.get_by_role("button", name="Brush", exact=True).click()
        page.wait_for_timeout(500)
        canvas = page.locator("#muralxgan-photo canvas").first.bounding_box()
        for fx, fy, length in ((0.02, 0.45, 160), (0.55, 0.25, 60), (0.6, 0.7, 90)):
            x, y = canvas["x"] + canvas["width"] * fx, canvas["y"] + canvas["height"] * fy
            page.mouse.move(x, y)
            page.mouse.down()
            for step in range(1, 21):
                page.mouse.move(x + length * step / 20, y + 6 * np.sin(step / 3), steps=2)
            page.mouse.up()
        box = page.get_by_label("Damage description", exact=False)
        page.wait_for_function("(el) => el.value.includes('3 regions')", arg=box.element_handle(), timeout=60000)
        page.get_by_role("button", name="Restore", exact=True).click()
        page.get_by_text("from your click").wait_for(timeout=300000)

        def shoot(name: str, settle_ms: int = 1000) -> None:
            page.wait_for_timeout(settle_ms)  # images and plots finish drawing
            shots.append(out / name)
            page.screenshot(path=str(shots[-1]), full_page=True)

        shoot("app-restore.png")
        page.get_by_role("tab", name="Caption review").click()
        page.get_by_text("Mural 1 of").wait_for(timeout=60000)
        shoot("app-caption-review.png")
        page.get_by_role("tab", name="Blind A/B").click()
        panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="A is better"))
        panel.locator("img").nth(2).wait_for(timeout=60000)
        shoot("app-blind-ab.png")
        page.get_by_role("tab", name="Leaderboard").click()
        page.get_by_text("Win rates").wait_for(timeout=60000)
        shoot("app-leaderboard.png", settle_ms=3000)
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for shot in take(args.out):
        # 256 colours without dithering: the page's flat colours stay exact, the file a third of the size
        Image.open(shot).convert("RGB").quantize(256, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            shot, optimize=True)
        print(shot, f"{shot.stat().st_size / 1000:.0f} KB")


if __name__ == "__main__":
    main()
