"""The Gradio web UI: components wired to the plain functions in `style_app.web.handlers`.

Four tabs (Stylize, Compare normalizations, Normalization lab, Training curves) and two named API
endpoints for gradio_client: /stylize(image, style, norm, strength, preserve_color, blend_with,
blend) -> image and /compare(image, style) -> gallery. Uploads arrive as file paths so
`open_image` validates them; a `StyleAppError` becomes a visible `gr.Error`.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import gradio as gr
from gradio.media import get_image
from PIL import Image

from style_app.web import handlers as fn
from models.norms import COMPARED_NORMS, NORMS, norm_label
from style_app.errors import StyleAppError
from style_app.runtime import resolve_device

#: Example photos: the sample images that ship inside the gradio package (none are committed here).
EXAMPLE_PHOTOS = ("cheetah.jpg", "tower.jpg", "groot.jpeg", "lion.jpg")
MAX_FILE_SIZE = "25mb"
QUEUE_SIZE = 32
#: Every hour, delete uploads and results older than a day: a public app must not fill the disk.
DELETE_CACHE = (3600, 86400)
DEFAULT_OUTPUT_SIZE = 512
COMPARE_SIZE = 384  # each of the four tiles; also what /compare returns
LAB_SIZE = 256  # the lab's pictures: small, so its sweeps answer in seconds on a CPU
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
    """Show a `StyleAppError` as a visible `gr.Error` message instead of a failed request."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StyleAppError as e:
            raise gr.Error(str(e)) from None

    return wrapper


def photo_input(label: str = "Photo") -> gr.Image:
    """An upload box (file paths, validated by `open_image`) with the example photos under it."""
    photo = pass_paths_unopened(gr.Image(type="filepath", label=label, sources=["upload", "clipboard"],
                                         height=320))
    gr.Examples([[get_image(name)] for name in EXAMPLE_PHOTOS], inputs=[photo], label="Example photos")
    return photo


def style_dropdown() -> gr.Dropdown:
    choices = fn.style_choices()
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


def build_demo(max_side: int = fn.DEFAULT_MAX_SIDE) -> gr.Blocks:
    """The whole app; `max_side` is the longest side an upload keeps (larger ones are downscaled)."""
    # ---- plain-function wrappers: path -> validated photo -> result, errors made visible ----
    def photo(path: str | None) -> Image.Image:
        loaded = fn.load_photo(path, max_side)
        if loaded.note:
            gr.Warning(loaded.note)
        return loaded.image

    @user_errors
    def stylize(image: str, style: str, norm: str, strength: float, preserve_color: bool,
                blend_with: str | None = None, blend: float = 0.0) -> Image.Image:
        """Stylize a photo with one shipped model (style slug, norm kind, strength 0-1); `blend`
        (0-1) mixes in the style `blend_with`."""
        return fn.stylize(photo(image), style, norm, strength, preserve_color, None, blend_with, blend).image

    @user_errors
    def compare(image: str, style: str) -> list[tuple[Image.Image, str]]:
        """The photo through the IN, BN, LN and GN models of one style, captioned with latency."""
        return fn.gallery(fn.compare(photo(image), style, max_size=COMPARE_SIZE))

    @user_errors
    def stylize_tab(image, style, norm, strength, preserve_color, size, blend_with, blend):
        loaded = fn.load_photo(image, max_side)
        result = fn.stylize(loaded.image, style, norm, strength, preserve_color, int(size), blend_with, blend)
        return result.image, result.report(loaded.note)

    @user_errors
    def compare_tab(image, style, bn_stats, size):
        batch_stats = bn_stats == "batch"
        results = fn.compare(photo(image), style, batch_stats, int(size))
        return fn.gallery(results, batch_stats), fn.latency_table(results, style)

    @user_errors
    def contrast_lab(image, style, contrast, brightness):
        source = photo(image)
        adjusted, tiles = fn.adjusted_outputs(source, style, contrast, brightness, LAB_SIZE)
        return ([(adjusted, "adjusted photo"), *tiles], fn.sensitivity_frame(source, style, "contrast"),
                fn.sensitivity_frame(source, style, "brightness"))

    @user_errors
    def batch_lab(image, style, companions):
        # only the offered examples: a crafted request must not name other files
        others = [fn.load_photo(get_image(name)).image for name in companions if name in EXAMPLE_PHOTOS]
        return fn.batch_dependence(photo(image), style, others, LAB_SIZE)

    # ---- layout ----
    device = resolve_device("auto")
    with gr.Blocks(title="style_app: neural style transfer and normalization", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown("# Fast neural style transfer, four normalizations\n"
                    f"Johnson et al. (2016) networks with instance, batch, layer or group norm. "
                    f"Running on **{fn.device_label()}**. Uploads larger than {max_side} px are "
                    f"downscaled.")
        with gr.Tabs():
            with gr.Tab("Stylize"):
                with gr.Row():
                    with gr.Column():
                        s_image = photo_input()
                    with gr.Column():
                        s_style = style_dropdown()
                        norms = fn.norm_choices()
                        s_norm = gr.Radio(norms, value=norms[0][1] if norms else None, label="Normalization")
                        s_strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength (0 = photo)")
                        s_color = gr.Checkbox(label="Preserve the photo's colours")
                        with gr.Row():
                            s_blend_with = gr.Dropdown([("no blend", "")] + fn.style_choices(), value="",
                                                       label="Blend with another painting")
                            s_blend = gr.Slider(0, 1, value=0.5, step=0.05, label="Blend weight")
                        s_size = gr.Slider(64, max_side, value=min(DEFAULT_OUTPUT_SIZE, max_side), step=32,
                                           label="Output size (longer side, px)")
                        s_run = gr.Button("Stylize", variant="primary")
                    with gr.Column():
                        s_out = gr.Image(label="Result", format="png", buttons=["download", "fullscreen"],
                                         height=320, interactive=False)
                        s_info = gr.Markdown()
                s_run.click(stylize_tab, [s_image, s_style, s_norm, s_strength, s_color, s_size,
                                          s_blend_with, s_blend], [s_out, s_info], api_visibility="private")

            with gr.Tab("Compare normalizations"):
                with photo_and_style() as (c_image, c_style):
                    c_bn = gr.Radio([("running statistics (as at inference)", "running"),
                                     ("batch statistics (this photo alone)", "batch")],
                                    value="running", label="Batch norm uses")
                    c_size = gr.Slider(64, max_side, value=min(COMPARE_SIZE, max_side), step=32,
                                       label="Output size (longer side, px)")
                    c_run = gr.Button("Compare", variant="primary")
                c_gallery = gr.Gallery(label="IN, BN, LN, GN", columns=4, height=360, object_fit="contain",
                                       format="png", elem_id="compare-gallery")
                with gr.Row():
                    c_latency = gr.Dataframe(label="Per model: latency on this photo; on held-out photos, style "
                                             "ratio (lower = closer to the painting) and content loss",
                                             interactive=False)
                    gr.Dataframe(fn.averaging_table(), label="What each norm averages over "
                                 "(activations shaped N x C x H x W)", interactive=False)
                c_run.click(compare_tab, [c_image, c_style, c_bn, c_size], [c_gallery, c_latency],
                            api_visibility="private")

            with gr.Tab("Normalization lab"):
                with gr.Tab("(a) The seed tensor"):
                    gr.Markdown("A batch of two 3-channel 2x2 images; image 2 is image 1 plus 10. "
                                "Pick a norm and read its output (fresh layer: scale 1, shift 0; batch "
                                "norm with batch statistics). With only 3 channels, group norm's one "
                                "possible middle ground does not exist, so it falls back to 1 group, "
                                "i.e. layer norm; in the networks each group has 8 channels.")
                    a_norm = gr.Radio([(norm_label(k), k) for k in COMPARED_NORMS], value="instance",
                                      label="Normalization")
                    a_table = gr.Dataframe(fn.seed_table("instance"), interactive=False)
                    a_norm.change(fn.seed_table, a_norm, a_table, api_visibility="private")

                with gr.Tab("(b) Contrast and brightness"):
                    gr.Markdown("Rescale the photo's contrast and brightness before stylizing. Each "
                                "output is captioned with how far it moved, Δ (mean absolute "
                                "difference, 0-255), from the output for the original photo; the plots sweep each "
                                "slider's range. Instance norm removes a per-channel gain and offset, "
                                "so it should move least; clipping at black and white limits that.")
                    with photo_and_style() as (b_image, b_style):
                        b_contrast = gr.Slider(0.25, 2, value=1.5, step=0.05, label="Contrast")
                        b_bright = gr.Slider(0.25, 2, value=0.6, step=0.05, label="Brightness")
                        b_run = gr.Button("Run", variant="primary")
                    b_gallery = gr.Gallery(label="The adjusted photo and each norm's output", columns=5,
                                           height=280, object_fit="contain", elem_id="lab-contrast-gallery")
                    with gr.Row():
                        b_contrast_plot, b_bright_plot = change_plot("contrast"), change_plot("brightness")
                    b_run.click(contrast_lab, [b_image, b_style, b_contrast, b_bright],
                                [b_gallery, b_contrast_plot, b_bright_plot],
                                api_visibility="private")

                with gr.Tab("(c) Batch norm's batch dependence"):
                    gr.Markdown("The batch-norm model with batch statistics (as in training): the same "
                                "photo comes out differently depending on the other photos in its batch. "
                                "Instance norm has no such dependence, one reason style transfer uses it.")
                    with photo_and_style() as (c3_image, c3_style):
                        c3_others = gr.CheckboxGroup(list(EXAMPLE_PHOTOS), value=list(EXAMPLE_PHOTOS[-2:]),
                                                     label="Other photos in the batch")
                        c3_run = gr.Button("Run", variant="primary")
                    c3_gallery = gr.Gallery(label="The same photo, three ways", columns=3, height=420,
                                            object_fit="contain", elem_id="lab-batch-gallery")
                    c3_summary = gr.Markdown()
                    c3_run.click(batch_lab, [c3_image, c3_style, c3_others], [c3_gallery, c3_summary],
                                 api_visibility="private")

            with gr.Tab("Training curves"):
                gr.Markdown("Loss per training step, recorded when the shipped models were trained.")
                term = gr.Radio(list(fn.LOSS_TERMS), value="total", label="Loss term")
                plots = []
                with gr.Row(equal_height=True):
                    for label, slug in fn.style_choices():
                        curves = fn.loss_curves(slug)
                        if curves.empty:
                            gr.Markdown(f"**{label}**: no loss curve recorded in these weights.")
                            continue
                        plot = norm_plot(curves, x="step", y="loss", title=label, height=300, min_width=560)
                        plots.append((slug, plot))
                if plots:
                    term.change(lambda t: [fn.loss_curves(slug, t) for slug, _ in plots], term,
                                [plot for _, plot in plots], api_visibility="private")

        # API-only endpoints (no trigger in the page): the parameter names are the functions' own.
        gr.on([], stylize, [s_image, s_style, s_norm, s_strength, s_color, s_blend_with, s_blend], s_out,
              api_name="stylize")
        gr.on([], compare, [c_image, c_style], c_gallery, api_name="compare")

    concurrency = 1 if device.type == "cpu" else 2  # one CPU job already uses every core
    return demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> str:
    """Serve `demo` without blocking; returns the local URL."""
    _, url, share_url = demo.launch(server_name=host, server_port=port, share=share, max_file_size=MAX_FILE_SIZE,
                                    prevent_thread_lock=True, quiet=True)
    return share_url or url
