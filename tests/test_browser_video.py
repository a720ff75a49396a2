"""The Video tab in a real headless browser: a sample clip from gradio's package, stylized, plays
in the page with its audio; a clip over the page's limit gets a one-line reason."""
from __future__ import annotations

from pathlib import Path

import av
import gradio

from helpers import running_app
from test_browser import browser, new_page, pytestmark  # noqa: F401 (the fixture and the skip/slow marks)

CLIPS = Path(gradio.__file__).parent / "media_assets" / "videos"


def video_panel(page):
    page.get_by_role("tab", name="Video").click()
    return page.get_by_role("tabpanel").filter(has=page.locator("#video-input"))


def test_sample_clip_stylizes_and_plays_with_its_audio(browser, weights_folder, tmp_path):  # noqa: F811
    with running_app(weights_folder) as url:
        page = new_page(browser, url)
        page.set_default_timeout(240_000)
        panel = video_panel(page)
        panel.locator("#video-input input[type=file]").set_input_files(str(CLIPS / "b.mp4"))
        size = page.locator("#video-size input[type=number]")
        size.fill("64")
        size.press("Enter")
        panel.get_by_role("button", name="Stylize clip", exact=True).click()
        player = page.locator("#video-result video")
        player.wait_for()
        page.wait_for_function("document.querySelector('#video-result video').readyState >= 1")
        assert page.locator("#video-info").get_by_text("temporal error").count() == 1
        src = player.get_attribute("src")
        data = page.request.get(src if src.startswith("http") else url.rstrip("/") + "/" + src.lstrip("/")).body()
        (tmp_path / "result.mp4").write_bytes(data)
        with av.open(str(tmp_path / "result.mp4")) as clip:
            assert clip.streams.video[0].frames == 150 and clip.streams.video[0].average_rate == 30
            assert clip.streams.audio, "the stylized clip lost its audio"
        assert page.evaluate("document.querySelector('#video-result video').duration") > 4.9

        panel.locator("#video-input button[aria-label='Clear']").first.click()
        panel.locator("#video-input input[type=file]").set_input_files(str(CLIPS / "world.mp4"))
        panel.get_by_role("button", name="Stylize clip", exact=True).click()
        page.get_by_text("world.mp4: 31 s long; the limit is 20 s").first.wait_for()
        assert "Traceback" not in page.content()
