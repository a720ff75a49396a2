"""Gradio pieces the tabs share: the upload box, the style choice, per-norm plots, and the two
adapters between Gradio and the plain handler functions (paths in, user errors out)."""
from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Iterator

import gradio as gr
from gradio.media import get_image
from PIL import Image

from style_app.models.norms import NORMS
from style_app.errors import StyleAppError, for_page
from style_app.web import handlers

#: Example photos: the sample images that ship inside the gradio package (none are committed here).
EXAMPLE_PHOTOS = ("cheetah.jpg", "tower.jpg", "groot.jpeg", "lion.jpg")
LOG = logging.getLogger(__name__)
NORM_COLORS = dict(zip((kind.label for kind in NORMS.values()), ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f")))


def pass_paths_unopened(image: gr.Image) -> gr.Image:
    """Make a `gr.Image(type="filepath")` hand each upload's path to our code unopened, so that
    `open_image` (size limit, corrupt files) judges it and its message reaches the user; the stock
    preprocess opens it with Pillow first, and a non-image would fail with a bare "Error".
    (Patched on the instance: a Component subclass would make Gradio write a .pyi beside this file.)"""
    stock = image.preprocess

    def preprocess(payload):
        return str(payload.path) if payload is not None and payload.path else stock(payload)

    image.preprocess = preprocess
    return image


def user_errors(func: Callable) -> Callable:
    """Show a `StyleAppError` as a visible `gr.Error` message instead of a failed request, and log
    it as one line: a user's mistake is no bug, so the server console gets no traceback for it
    (anything else still fails with Gradio's traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StyleAppError as e:
            LOG.warning("user error in %s: %s", func.__qualname__.replace(".<locals>", ""), e)
            raise gr.Error(for_page(str(e)), print_exception=False) from None

    return wrapper


def uploaded_photo(path: str | None, max_side: int) -> Image.Image:
    """The upload at `path`, validated and downscaled to `max_side`, with a visible warning when
    it was downscaled."""
    loaded = handlers.load_photo(path, max_side)
    if loaded.note:
        gr.Warning(loaded.note)
    return loaded.image


def example_photos(names: list[str]) -> list[Image.Image]:
    """The example photos among `names`; only the offered ones, so a crafted request cannot name
    other files."""
    return [handlers.load_photo(get_image(name)).image for name in names if name in EXAMPLE_PHOTOS]


def photo_input(label: str = "Photo") -> gr.Image:
    """An upload box (file paths, validated by `open_image`) with the example photos under it."""
    photo = pass_paths_unopened(gr.Image(type="filepath", label=label, sources=["upload", "clipboard"],
                                         height=320, elem_classes=["photo-input"]))
    gr.Examples([[get_image(name)] for name in EXAMPLE_PHOTOS], inputs=[photo], label="Example photos")
    return photo


def style_dropdown() -> gr.Dropdown:
    choices = handlers.style_choices()
    return gr.Dropdown(choices, value=choices[0][1] if choices else None, label="Style (painting, artist)")


@contextlib.contextmanager
def photo_and_style() -> Iterator[tuple[gr.Image, gr.Dropdown]]:
    """A row with the upload box on the left and, on the right, a column that starts with the style
    choice; the `with` body adds the tab's other controls to that column."""
    with gr.Row():
        with gr.Column():
            photo = photo_input()
        with gr.Column():
            yield photo, style_dropdown()


def norm_plot(value=None, **kw) -> gr.LinePlot:
    """A line per norm, each norm in the same colour on every plot of the app."""
    return gr.LinePlot(value, color="norm", color_map=NORM_COLORS, **kw)


def change_plot(adjustment: str) -> gr.LinePlot:
    """An (empty until run) plot of each norm's output change against an adjustment factor."""
    return norm_plot(x="factor", y="change", x_title=f"{adjustment} factor", y_title="output change (0-255)",
                     title=f"Output change vs. {adjustment}")
