"""Screenshot each tab of a running app for docs/ui.md (Playwright + Debian's chromium).

    python app.py --port 7860 &        # the shipped zoo (STYLE_APP_WEIGHTS=FOLDER adds your models)
    python docs/screenshots/take_screenshots.py http://127.0.0.1:7860/ --style "The Starry Night" \
        --blend-with "The Great Wave"

    # the "Add a painting" tab while it learns a painting, then the lab's norm parameters with it
    python app.py --port 7860 --weights-dir /tmp/my_styles --content-dir data/train &
    python docs/screenshots/take_screenshots.py http://127.0.0.1:7860/ --add-painting udnie.jpg --add-steps 40

Writes compact PNGs (256-colour, a few hundred KB at most) next to this script.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

from gradio.media import get_image
from PIL import Image
from playwright.sync_api import Page, sync_playwright

HERE = Path(__file__).resolve().parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
PHOTO = get_image("cheetah.jpg")


def save_compact(page: Page, name: str) -> None:
    """A full-page screenshot, quantized to 256 colours (text and UI stay sharp, files stay small)."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    shot.quantize(256, method=Image.Quantize.MEDIANCUT).save(HERE / f"{name}.png", optimize=True)
    print(f"{name}.png: {(HERE / f'{name}.png').stat().st_size // 1024} KB")


def open_tab(page: Page, *names: str):
    """Click through (nested) tabs; returns the innermost visible tab panel."""
    for name in names:
        page.get_by_role("tab", name=name).click()
    return page.locator("[role=tabpanel]:visible").last


def prepare(panel, style: str | None) -> None:
    """Upload the photo and pick the style in a tab's photo/style row."""
    panel.locator("input[type=file]").first.set_input_files(PHOTO)
    if style:
        panel.get_by_label("Style (painting, artist)").click()
        panel.page.get_by_role("option", name=style).first.click()


def run_and_wait(page: Page, panel, button: str, done) -> None:
    panel.get_by_role("button", name=button, exact=True).click()
    done.wait_for(timeout=180_000)
    page.wait_for_timeout(3000)  # let images and plots finish painting


def add_painting(page: Page, painting: str, steps: int) -> None:
    """The "Add a painting" tab halfway through learning `painting`, then lab (d) once it is done."""
    panel = open_tab(page, "Add a painting")
    panel.locator("input[type=file]").first.set_input_files(painting)
    panel.get_by_label("Steps").fill(str(steps))
    panel.get_by_role("button", name="Start", exact=True).click()
    page.locator("#add-style-status").get_by_text(f"step {steps // 2} of {steps}").wait_for(timeout=900_000)
    page.wait_for_timeout(3000)
    save_compact(page, "add_painting")
    page.locator("#add-style-status").get_by_text("done: added").wait_for(timeout=900_000)
    panel = open_tab(page, "Normalization lab", "(d) A painting is its norm parameters")
    run_and_wait(page, panel, "Show", panel.get_by_text("numbers per painting"))
    save_compact(page, "lab_parameters")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--style", help="style label to select (default: the first)")
    parser.add_argument("--blend-with", help="style label to blend in on the Stylize tab (default: none)")
    parser.add_argument("--add-painting", help="only screenshot adding this painting file (and lab (d))")
    parser.add_argument("--add-steps", type=int, default=40, help="steps of that training")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(args.url)
        if args.add_painting:
            add_painting(page, args.add_painting, args.add_steps)
            browser.close()
            return

        panel = open_tab(page, "Stylize")
        prepare(panel, args.style)
        if args.blend_with:
            panel.get_by_label("Blend with another painting").click()
            page.get_by_role("option", name=args.blend_with).first.click()
        run_and_wait(page, panel, "Stylize", panel.get_by_text(" ms on "))
        save_compact(page, "stylize")

        panel = open_tab(page, "Compare normalizations")
        prepare(panel, args.style)
        run_and_wait(page, panel, "Compare", page.locator("#compare-gallery img").nth(3))
        save_compact(page, "compare")

        open_tab(page, "Normalization lab", "(a) The seed tensor").get_by_label("Batch norm (BN)").check()
        page.wait_for_timeout(1000)
        save_compact(page, "lab_seed")

        panel = open_tab(page, "Normalization lab", "(b) Contrast and brightness")
        prepare(panel, args.style)
        run_and_wait(page, panel, "Run", page.locator("#lab-contrast-gallery img").nth(4))
        save_compact(page, "lab_contrast")

        panel = open_tab(page, "Normalization lab", "(c) Batch norm's batch dependence")
        prepare(panel, args.style)
        run_and_wait(page, panel, "Run", panel.get_by_text("Same photo, same weights"))
        save_compact(page, "lab_batch")

        open_tab(page, "Training curves")
        page.wait_for_timeout(3000)
        save_compact(page, "training_curves")
        browser.close()


if __name__ == "__main__":
    main()
