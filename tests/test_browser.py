"""End to end in a real headless browser: Debian's chromium driven by Playwright (no browser download).

CI installs chromium with .ci/install-browser.sh; the test is skipped only where it is absent.
"""
from __future__ import annotations

import os

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
    broken = tmp_path / "broken.png"
    broken.write_text("this is not a picture")
    page.get_by_role("tab", name="Stylize").click()
    panel = page.get_by_role("tabpanel").filter(has=page.get_by_role("button", name="Stylize", exact=True))
    panel.locator("input[type=file]").first.set_input_files(str(broken))
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
