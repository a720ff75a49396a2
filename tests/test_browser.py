"""End to end in a real headless browser: Debian's chromium driven by Playwright (no browser download).

CI installs chromium with .ci/install-browser.sh; the test is skipped only where it is absent.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from helpers import random_photo, running_app, save_conditional_network

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                                   reason=f"{CHROMIUM} not installed (run .ci/install-browser.sh)")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # the test extra installs it

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def new_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


@pytest.fixture(scope="module")
def page(browser, weights_folder):
    with running_app(weights_folder) as url:
        yield new_page(browser, url)


@pytest.fixture(scope="module")
def conditional_app(tmp_path_factory, photo_dir, tiny_vgg_file):
    """The app on tiny conditional networks, set up to learn added paintings in seconds."""
    folder = tmp_path_factory.mktemp("conditional")
    save_conditional_network(folder, "instance")
    with running_app(folder, STYLE_APP_CONTENT_DIR=str(photo_dir), STYLE_APP_VGG_WEIGHTS=tiny_vgg_file) as url:
        yield url, folder


def test_upload_compare_and_see_four_labelled_images(page, tmp_path):
    photo = tmp_path / "photo.png"
    random_photo(11, (80, 64)).save(photo)
    page.get_by_role("tab", name="Compare normalizations").click()
    panel = page.get_by_role("tabpanel").filter(has=page.locator("#compare-gallery"))
    panel.locator("input[type=file]").first.set_input_files(str(photo))
    panel.get_by_role("button", name="Compare", exact=True).click()
    tiles = page.locator("#compare-gallery img")
    tiles.nth(3).wait_for()
    assert tiles.count() == 4
    for label in ("Instance norm (IN)", "Batch norm (BN)", "Layer norm (LN)", "Group norm (GN)"):
        assert page.locator("#compare-gallery").get_by_text(label).count() == 1
    page.screenshot(path=tmp_path / "compare.png", full_page=True)
    assert (tmp_path / "compare.png").stat().st_size > 10_000


def test_unreadable_upload_shows_a_message_not_a_traceback(page, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    broken = tmp_path / "broken.png"
    broken.write_text("this is not a picture")
    page.get_by_role("tab", name="Stylize").click()
    panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="Stylize", exact=True))
    box = panel.locator(".photo-input")
    try:  # one photo for every tab: the one uploaded in an earlier test arrives on opening the tab
        box.locator("img").wait_for(timeout=5000)
        box.get_by_role("button", name="Remove Image").click()
    except PlaywrightTimeout:  # this test alone: no photo was shared
        pass
    box.locator("input[type=file]").set_input_files(str(broken))
    panel.get_by_role("button", name="Stylize", exact=True).click()
    message = page.get_by_text("broken.png: not an image file Pillow can read")
    message.first.wait_for()
    assert "Traceback" not in page.content()


def test_add_a_painting_and_find_it_in_the_style_lists(browser, conditional_app, tmp_path):
    url, folder = conditional_app
    painting = tmp_path / "test_art.png"
    random_photo(12, (64, 64)).save(painting)
    page = new_page(browser, url)
    page.get_by_role("tab", name="Add a painting").click()
    panel = page.get_by_role("tabpanel").filter(has=page.locator("#add-style-status"))
    panel.locator("input[type=file]").first.set_input_files(str(painting))
    panel.get_by_label("Steps").fill("6")
    panel.get_by_role("button", name="Start", exact=True).click()
    page.locator("#add-style-status").get_by_text("done: added test_art, Instance norm (IN)").wait_for()
    assert panel.locator("img").count() >= 1  # the preview of a held-out photo
    page.get_by_role("tab", name="Stylize").click()
    page.get_by_label("Style (painting, artist)").first.click()
    page.get_by_role("option", name="Test Art").wait_for()
    page.screenshot(path=tmp_path / "added.png", full_page=True)
    assert (folder / "test_art_tiny_instance.safetensors").is_file()


def test_one_photo_follows_the_user_across_stylize_compare_and_lab(browser, weights_folder, tmp_path):
    """Uploaded once in Stylize, the photo is already in Compare and in the lab's photo tabs; changed
    in Compare, the new one is what Stylize shows."""
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    random_photo(13, (80, 64)).save(first)
    random_photo(14, (64, 80)).save(second)
    with running_app(weights_folder) as url:
        page = new_page(browser, url)

        def panel(tab: str, button: str):
            page.get_by_role("tab", name=tab).click()
            return page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name=button, exact=True))

        def shown(panel) -> str:
            """The address of the picture in the tab's photo box."""
            image = panel.locator(".photo-input img").first
            image.wait_for()
            return image.get_attribute("src")

        stylize = panel("Stylize", "Stylize")
        stylize.locator(".photo-input input[type=file]").set_input_files(str(first))
        uploaded = shown(stylize)
        assert uploaded.endswith("first.png")
        compare = panel("Compare normalizations", "Compare")
        assert shown(compare) == uploaded
        compare.get_by_role("button", name="Compare", exact=True).click()  # the shared photo, not "no photo"
        page.locator("#compare-gallery img").nth(3).wait_for()
        page.get_by_role("tab", name="Normalization lab").click()
        lab = panel("(b) Contrast and brightness", "Run")  # .last: the sub-tab's panel, inside the lab's
        assert shown(lab.filter(has=page.locator("#lab-contrast-gallery")).last) == uploaded
        batch = panel("(c) Batch norm's batch dependence", "Run").filter(has=page.locator("#lab-batch-gallery")).last
        assert shown(batch) == uploaded
        batch.get_by_role("button", name="Run", exact=True).click()
        page.locator("#lab-batch-gallery img").nth(2).wait_for()
        assert page.get_by_text("no photo: upload one").count() == 0
        compare = panel("Compare normalizations", "Compare")  # change it in another tab
        compare.locator(".photo-input").get_by_role("button", name="Remove Image").click()
        compare.locator(".photo-input input[type=file]").set_input_files(str(second))
        changed = shown(compare)
        assert changed.endswith("second.png")
        stylize = panel("Stylize", "Stylize")
        page.wait_for_function("() => [...document.querySelectorAll('.photo-input img')].some(i => i.offsetParent "
                               "&& i.src.endsWith('second.png'))")
        stylize.get_by_role("button", name="Stylize", exact=True).click()
        page.get_by_text(re.compile(r"^64x80 px in \d+ ms")).first.wait_for()  # the second photo's size
        assert "Traceback" not in page.content()


def test_add_a_painting_from_photos_uploaded_in_the_page(browser, tmp_path, photo_dir, tiny_vgg_file):
    """A plain app (no --content-dir): the page asks for the training photos, and learns from them."""
    folder = tmp_path / "weights"
    folder.mkdir()
    save_conditional_network(folder, "instance")
    painting = tmp_path / "uploaded_art.png"
    random_photo(15, (64, 64)).save(painting)
    photos = sorted(str(p) for p in photo_dir.rglob("*.*"))[:3]
    with running_app(folder, STYLE_APP_VGG_WEIGHTS=tiny_vgg_file) as url:
        page = new_page(browser, url)
        page.get_by_role("tab", name="Add a painting").click()
        panel = page.get_by_role("tabpanel").filter(has=page.locator("#add-style-status"))
        assert panel.get_by_text(f"Added paintings are saved in {folder}").count() == 1
        panel.get_by_label("Steps").fill("4")
        panel.get_by_role("button", name="Start", exact=True).click()
        page.get_by_text("no painting: upload the painting to learn first").first.wait_for()
        panel.locator("input[type=file]").first.set_input_files(str(painting))
        page.locator("#add-style-photos input[type=file]").set_input_files(photos)
        page.wait_for_function("() => document.querySelector('#add-style-photos').innerText.includes("
                               f"{Path(photos[-1]).stem!r})")  # uploaded: the list shows the file names
        panel.get_by_role("button", name="Start", exact=True).click()
        page.locator("#add-style-status").get_by_text("done: added uploaded_art, Instance norm (IN)").wait_for()
    assert (folder / "uploaded_art_tiny_instance.safetensors").is_file()
