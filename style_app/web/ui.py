"""The Gradio web UI: one small builder per tab, each wiring components to the plain functions in
`style_app.web.handlers`.

Four tabs (Stylize, Compare normalizations, Normalization lab, Training curves) and two named API
endpoints for gradio_client: /stylize(image, style, norm, strength, preserve_color, blend_with,
blend) -> image and /compare(image, style) -> gallery. Uploads arrive as file paths so
`open_image` validates them; a `StyleAppError` becomes a visible `gr.Error`.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
from PIL import Image

from style_app.models.norms import COMPARED_NORMS, norm_label
from style_app.runtime import resolve_device
from style_app.web import handlers
from style_app.web.widgets import (EXAMPLE_PHOTOS, change_plot, example_photos, norm_plot, photo_and_style,
                                   photo_input, style_dropdown, uploaded_photo, user_errors)

MAX_FILE_SIZE = "25mb"
QUEUE_SIZE = 32
#: Every hour, delete uploads and results older than a day: a public app must not fill the disk.
DELETE_CACHE = (3600, 86400)
DEFAULT_OUTPUT_SIZE = 512
COMPARE_SIZE = 384  # each of the four tiles; also what /compare returns
LAB_SIZE = 256  # the lab's pictures: small, so its sweeps answer in seconds on a CPU


@dataclass
class StylizeTab:
    """The Stylize tab's components that the /stylize endpoint reuses."""

    image: gr.Image
    style: gr.Dropdown
    norm: gr.Radio
    strength: gr.Slider
    preserve_color: gr.Checkbox
    blend_with: gr.Dropdown
    blend: gr.Slider
    result: gr.Image


@dataclass
class CompareTab:
    """The Compare tab's components that the /compare endpoint reuses."""

    image: gr.Image
    style: gr.Dropdown
    gallery: gr.Gallery


def build_demo(max_side: int = handlers.DEFAULT_MAX_SIDE) -> gr.Blocks:
    """The whole app; `max_side` is the longest side an upload keeps (larger ones are downscaled)."""
    with gr.Blocks(title="style_app: neural style transfer and normalization", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown("# Fast neural style transfer, four normalizations\n"
                    f"Johnson et al. (2016) networks with instance, batch, layer or group norm. "
                    f"Running on **{handlers.device_label()}**. Uploads larger than {max_side} px are "
                    f"downscaled.")
        with gr.Tabs():
            stylize = stylize_tab(max_side)
            compare = compare_tab(max_side)
            with gr.Tab("Normalization lab"):
                seed_tab()
                contrast_tab(max_side)
                batch_tab(max_side)
            curves_tab()
        api_endpoints(max_side, stylize, compare)
    concurrency = 1 if resolve_device("auto").type == "cpu" else 2  # one CPU job already uses every core
    return demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)


def stylize_tab(max_side: int) -> StylizeTab:
    """One photo through one model: painting, norm, strength, colours, a blend, output size."""
    with gr.Tab("Stylize"):
        with gr.Row():
            with gr.Column():
                image = photo_input()
            with gr.Column():
                style = style_dropdown()
                norms = handlers.norm_choices()
                norm = gr.Radio(norms, value=norms[0][1] if norms else None, label="Normalization")
                strength = gr.Slider(0, 1, value=1, step=0.05, label="Strength (0 = photo)")
                color = gr.Checkbox(label="Preserve the photo's colours")
                # the column's full width, so long painting titles show whole
                blend_with = gr.Dropdown([("no blend", "")] + handlers.style_choices(), value="",
                                         label="Blend with another painting")
                blend = gr.Slider(0, 1, value=0.5, step=0.05, label="Blend weight")
                size = gr.Slider(64, max_side, value=min(DEFAULT_OUTPUT_SIZE, max_side), step=32,
                                 label="Output size (longer side, px)")
                run = gr.Button("Stylize", variant="primary")
            with gr.Column():
                result = gr.Image(label="Result", format="png", buttons=["download", "fullscreen"], height=320,
                                  interactive=False)
                info = gr.Markdown()

    @user_errors
    def show(image, style, norm, strength, preserve_color, size, blend_with, blend):
        loaded = handlers.load_photo(image, max_side)
        stylized = handlers.stylize(loaded.image, style, norm, strength, preserve_color, int(size), blend_with, blend)
        return stylized.image, stylized.report(loaded.note)

    run.click(show, [image, style, norm, strength, color, size, blend_with, blend], [result, info],
              api_visibility="private")
    return StylizeTab(image, style, norm, strength, color, blend_with, blend, result)


def compare_tab(max_side: int) -> CompareTab:
    """The photo through every norm of a painting, with latency and held-out scores."""
    with gr.Tab("Compare normalizations"):
        with photo_and_style() as (image, style):
            bn_stats = gr.Radio([("running statistics (as at inference)", "running"),
                                 ("batch statistics (this photo alone)", "batch")],
                                value="running", label="Batch norm uses")
            size = gr.Slider(64, max_side, value=min(COMPARE_SIZE, max_side), step=32,
                             label="Output size (longer side, px)")
            run = gr.Button("Compare", variant="primary")
        gallery = gr.Gallery(label="IN, BN, LN, GN", columns=4, height=360, object_fit="contain", format="png",
                             elem_id="compare-gallery")
        # one above the other: side by side, the four score columns did not fit
        latency = gr.Dataframe(label="Per model: latency on this photo; on held-out photos, style "
                               "ratio (lower = closer to the painting) and content loss", interactive=False)
        gr.Dataframe(handlers.averaging_table(), label="What each norm averages over "
                     "(activations shaped N x C x H x W)", interactive=False)

    @user_errors
    def show(image, style, bn_stats, size):
        batch_stats = bn_stats == "batch"
        results = handlers.compare(uploaded_photo(image, max_side), style, batch_stats, int(size))
        return handlers.gallery(results, batch_stats), handlers.latency_table(results, style)

    run.click(show, [image, style, bn_stats, size], [gallery, latency], api_visibility="private")
    return CompareTab(image, style, gallery)


def seed_tab() -> None:
    """Lab (a): the seed tensor through each norm, to read the numbers by hand."""
    with gr.Tab("(a) The seed tensor"):
        gr.Markdown("A batch of two 3-channel 2x2 images; image 2 is image 1 plus 10. "
                    "Pick a norm and read its output (fresh layer: scale 1, shift 0; batch "
                    "norm with batch statistics). With only 3 channels, group norm's one "
                    "possible middle ground does not exist, so it falls back to 1 group, "
                    "i.e. layer norm; in the networks each group has 8 channels.")
        norm = gr.Radio([(norm_label(k), k) for k in COMPARED_NORMS], value="instance", label="Normalization")
        table = gr.Dataframe(handlers.seed_table("instance"), interactive=False)
        norm.change(handlers.seed_table, norm, table, api_visibility="private")


def contrast_tab(max_side: int) -> None:
    """Lab (b): how far each norm's output moves when the photo's contrast or brightness changes."""
    low, high = min(handlers.ADJUSTMENT_FACTORS), max(handlers.ADJUSTMENT_FACTORS)
    with gr.Tab("(b) Contrast and brightness"):
        gr.Markdown("Rescale the photo's contrast and brightness before stylizing. Each "
                    "output is captioned with how far it moved, Δ (mean absolute "
                    "difference, 0-255), from the output for the original photo; the plots sweep each "
                    f"slider's range ({low:g}x to {high:g}x). Instance norm removes a per-channel gain and "
                    "offset, so it should move least; clipping at black and white limits that.")
        with photo_and_style() as (image, style):
            contrast = gr.Slider(low, high, value=1.5, step=0.05, label="Contrast")
            brightness = gr.Slider(low, high, value=0.6, step=0.05, label="Brightness")
            run = gr.Button("Run", variant="primary")
        gallery = gr.Gallery(label="The adjusted photo and each norm's output", columns=5, height=280,
                             object_fit="contain", elem_id="lab-contrast-gallery")
        with gr.Row():
            contrast_plot, brightness_plot = change_plot("contrast"), change_plot("brightness")

    @user_errors
    def show(image, style, contrast, brightness):
        source = uploaded_photo(image, max_side)
        adjusted, tiles = handlers.adjusted_outputs(source, style, contrast, brightness, LAB_SIZE)
        return ([(adjusted, "adjusted photo"), *tiles], handlers.sensitivity_frame(source, style, "contrast"),
                handlers.sensitivity_frame(source, style, "brightness"))

    run.click(show, [image, style, contrast, brightness], [gallery, contrast_plot, brightness_plot],
              api_visibility="private")


def batch_tab(max_side: int) -> None:
    """Lab (c): the batch-norm model's output for one photo depends on the rest of its batch."""
    with gr.Tab("(c) Batch norm's batch dependence"):
        gr.Markdown("The batch-norm model with batch statistics (as in training): the same "
                    "photo comes out differently depending on the other photos in its batch. "
                    "Instance norm has no such dependence, one reason style transfer uses it.")
        with photo_and_style() as (image, style):
            others = gr.CheckboxGroup(list(EXAMPLE_PHOTOS), value=list(EXAMPLE_PHOTOS[-2:]),
                                      label="Other photos in the batch")
            run = gr.Button("Run", variant="primary")
        gallery = gr.Gallery(label="The same photo, three ways", columns=3, height=420, object_fit="contain",
                             elem_id="lab-batch-gallery")
        summary = gr.Markdown()

    @user_errors
    def show(image, style, others):
        return handlers.batch_dependence(uploaded_photo(image, max_side), style, example_photos(others), LAB_SIZE)

    run.click(show, [image, style, others], [gallery, summary], api_visibility="private")


def curves_tab() -> None:
    """The loss curves recorded in the models, a plot per set of paintings learned together, a line
    per norm."""
    with gr.Tab("Training curves"):
        gr.Markdown("Loss per training step, recorded when the models were trained, one line per norm. "
                    "A network that learned several paintings (the shipped ones each learned all four, "
                    "in turn) recorded one curve for all of them, averaged over the paintings: so its "
                    "paintings share one plot.")
        term = gr.Radio(list(handlers.LOSS_TERMS), value="total", label="Loss term")
        plots = []
        with gr.Row(equal_height=True):
            for title, slug in handlers.curve_groups():
                curves = handlers.loss_curves(slug)
                if curves.empty:
                    gr.Markdown(f"**{title}**: no loss curve recorded in these weights.")
                    continue
                plots.append((slug, norm_plot(curves, x="step", y="loss", title=title, height=300, min_width=560)))
    if plots:
        term.change(lambda t: [handlers.loss_curves(slug, t) for slug, _ in plots], term,
                    [plot for _, plot in plots], api_visibility="private")


def api_endpoints(max_side: int, stylize_inputs: StylizeTab, compare_inputs: CompareTab) -> None:
    """The named endpoints for gradio_client (no trigger in the page): /stylize and /compare. Their
    parameter names are the functions' own argument names."""

    @user_errors
    def stylize(image: str, style: str, norm: str, strength: float, preserve_color: bool,
                blend_with: str | None = None, blend: float = 0.0) -> Image.Image:
        """Stylize a photo with one shipped model (style slug, norm kind, strength 0-1); `blend`
        (0-1) mixes in the style `blend_with`."""
        photo = uploaded_photo(image, max_side)
        return handlers.stylize(photo, style, norm, strength, preserve_color, None, blend_with, blend).image

    @user_errors
    def compare(image: str, style: str) -> list[tuple[Image.Image, str]]:
        """The photo through the IN, BN, LN and GN models of one style, captioned with latency."""
        return handlers.gallery(handlers.compare(uploaded_photo(image, max_side), style, max_size=COMPARE_SIZE))

    s = stylize_inputs
    gr.on([], stylize, [s.image, s.style, s.norm, s.strength, s.preserve_color, s.blend_with, s.blend], s.result,
          api_name="stylize")
    gr.on([], compare, [compare_inputs.image, compare_inputs.style], compare_inputs.gallery, api_name="compare")


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> str:
    """Serve `demo` without blocking; returns the local URL."""
    _, url, share_url = demo.launch(server_name=host, server_port=port, share=share, max_file_size=MAX_FILE_SIZE,
                                    prevent_thread_lock=True, quiet=True)
    return share_url or url
