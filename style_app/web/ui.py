"""The Gradio web UI: one small builder per tab, each wiring components to the plain functions in
`style_app.web.handlers`.

Six tabs (Stylize, Compare normalizations, Video, Normalization lab, Training curves, Add a painting) and
two named API endpoints for gradio_client: /stylize(image, style, norm, strength, preserve_color, blend_with,
blend) -> image and /compare(image, style) -> gallery. Uploads arrive as file paths so
`open_image` validates them; a `StyleAppError` becomes a visible `gr.Error`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import Image

from style_app.models.norms import COMPARED_NORMS, norm_label
from style_app.runtime import resolve_device
from style_app.training.add_style import DEFAULT_STEPS
from style_app.web import handlers
from style_app.web.video_tab import video_tab
from style_app.web.widgets import (EXAMPLE_PHOTOS, change_plot, example_photos, norm_plot, pass_paths_unopened,
                                   photo_and_style, photo_input, style_dropdown, uploaded_photo, user_errors)

MAX_FILE_SIZE = "25mb"
QUEUE_SIZE = 32
#: Every hour, delete uploads and results older than a day: a public app must not fill the disk.
DELETE_CACHE = (3600, 86400)
DEFAULT_OUTPUT_SIZE = 512
COMPARE_SIZE = 384  # each of the four tiles; also what /compare returns
LAB_SIZE = 256  # the lab's pictures: small, so its sweeps answer in seconds on a CPU
PREVIEW_PHOTO = "tower.jpg"  # the held-out photo an added painting's preview shows
POLL_SECONDS = 1.0  # how often a page asks the trainer how far it is


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
        with gr.Tabs() as tabs:
            stylize = stylize_tab(max_side)
            compare = compare_tab(max_side)
            video_tab()  # style_app.web.video_tab
            with gr.Tab("Normalization lab"), gr.Tabs() as lab_tabs:
                seed_tab()
                lab = [contrast_tab(max_side), batch_tab(max_side)]
                parameters_tab()
            curves_tab()
            add_painting_tab([stylize.style, compare.style, *(style for style, _ in lab)], [stylize.blend_with])
        share_photo([tabs, lab_tabs], [stylize.image, compare.image, *(image for _, image in lab)])
        api_endpoints(max_side, stylize, compare)
    concurrency = 1 if resolve_device("auto").type == "cpu" else 2  # one CPU job already uses every core
    return demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)


def share_photo(tabs: list[gr.Tabs], photos: list[gr.Image]) -> None:
    """One photo for every tab: the last one chosen in any upload box (uploaded, pasted, an example,
    cleared) is kept per page, and each upload box shows it when a tab is opened; any tab may
    change it again."""
    chosen = gr.State()
    for photo in photos:
        photo.change(lambda path: path, photo, chosen, api_visibility="private", show_progress="hidden",
                     queue=False)
    for group in tabs:
        group.select(lambda path: [path] * len(photos), chosen, photos, api_visibility="private",
                     show_progress="hidden", queue=False)


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
        latency = gr.Dataframe(label="Per model: latency on this photo; on held-out photos (docs/quality.md): "
                               "Gram and palette ratio (lower = closer to the painting), luminance contrast "
                               "(1 = the photo's), blobs per photo, grid (a fine regular pattern: about 1 "
                               "for a photo), content loss", interactive=False)
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


def contrast_tab(max_side: int) -> tuple[gr.Dropdown, gr.Image]:
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
    return style, image


def batch_tab(max_side: int) -> tuple[gr.Dropdown, gr.Image]:
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
    return style, image


def parameters_tab() -> None:
    """Lab (d): each style's per-channel scale and shift in one norm layer: all a painting is."""
    with gr.Tab("(d) A painting is its norm parameters"):
        gr.Markdown("The networks here are conditional (Dumoulin et al. 2017): their convolutions are shared "
                    "by every painting, and each painting owns one scale and one shift per channel of each "
                    "norm layer. Pick a network and a layer to see each painting's numbers: switching "
                    "painting changes only these (an added painting is one more line).")
        norms = handlers.base_norms()
        with gr.Row():
            norm = gr.Radio(norms, value=norms[0][1] if norms else None, label="Network")
            layer = gr.Dropdown(handlers.parameter_layers(norms[0][1]) if norms else [], label="Norm layer")
            run = gr.Button("Show", variant="primary")
        summary = gr.Markdown()
        with gr.Row():
            scale = gr.LinePlot(x="channel", y="scale", color="style", title="Scale per channel", height=300)
            shift = gr.LinePlot(x="channel", y="shift", color="style", title="Shift per channel", height=300)

    @user_errors
    def show(norm, layer):
        frame, sentence = handlers.style_parameter_frames(norm, layer)
        return frame, frame, sentence

    run.click(show, [norm, layer], [scale, shift, summary], api_visibility="private")


def add_painting_tab(style_lists: list[gr.Dropdown], blend_lists: list[gr.Dropdown]) -> None:
    """Learn an uploaded painting for the conditional networks in a background worker; when it is
    done the painting joins every style list of every open page."""
    with gr.Tab("Add a painting"):
        gr.Markdown("Upload a painting and learn it in minutes: the networks' convolutions stay frozen and "
                    "only one new scale and shift per norm channel is trained. One painting at a time for the "
                    "whole server; stylizing works meanwhile. Finished paintings are saved in your weights "
                    "folder and survive a restart. What a new row can learn is the painting's colours and a "
                    "texture in the manner of the shipped paintings; for its own shapes, train a network of it "
                    "(`style-app train`: docs/add_style.md measures both). " + handlers.styles_folder_note())
        with gr.Row():
            with gr.Column():
                painting = pass_paths_unopened(gr.Image(type="filepath", label="Painting", height=320,
                                                        sources=["upload", "clipboard"]))
                content = handlers.configured_content_dir()
                # no folder configured: the photos the painting is learned on come from the page
                photos = gr.File(file_count="multiple", file_types=["image"], type="filepath", visible=not content,
                                 label="Training photos (several; the painting is learned on them)",
                                 elem_id="add-style-photos")
                if content:
                    gr.Markdown(f"Training photos: the folder `{Path(content).name}` the app was started with.")
            with gr.Column():
                name = gr.Textbox(label="Name (lower case, digits, _; default: the file's name)")
                norms = handlers.base_norms()
                bases = gr.CheckboxGroup(norms, value=[n for _, n in norms[:1]], label="Learn it for")
                steps = gr.Number(DEFAULT_STEPS, precision=0, minimum=1, maximum=100_000, label="Steps")
                with gr.Row():
                    start = gr.Button("Start", variant="primary")
                    cancel = gr.Button("Cancel", variant="stop")
            with gr.Column():
                status = gr.HTML(handlers.progress_report(handlers.TRAINER.progress()), elem_id="add-style-status")
                preview = gr.Image(label="Preview: a held-out photo", interactive=False, height=280)
        seen = gr.State(handlers.TRAINER.progress().finished)

    @user_errors
    def begin(painting, name, bases, steps, photos, request: gr.Request):
        return handlers.start_adding(painting, name, bases, steps, example_photos([PREVIEW_PHOTO])[0], photos,
                                     session=_session(request))

    @user_errors
    def stop(request: gr.Request):  # only the session that started the training may cancel it
        return handlers.cancel_adding(_session(request))

    def poll(seen_finished):
        progress = handlers.TRAINER.progress()
        lists = [gr.skip()] * (len(style_lists) + len(blend_lists))
        if progress.finished != seen_finished:
            choices = handlers.style_choices()
            lists = ([gr.update(choices=choices)] * len(style_lists)
                     + [gr.update(choices=[("no blend", "")] + choices)] * len(blend_lists))
        return (handlers.progress_report(progress), gr.skip() if progress.preview is None else progress.preview,
                progress.finished, *lists)

    start.click(begin, [painting, name, bases, steps, photos], status, api_visibility="private")
    cancel.click(stop, None, status, api_visibility="private")
    gr.Timer(POLL_SECONDS).tick(poll, seen, [status, preview, seen, *style_lists, *blend_lists],
                                api_visibility="private", show_progress="hidden", concurrency_limit=None)


def _session(request: gr.Request | None) -> str:
    """The visitor's session: Gradio's session hash (one per page load)."""
    return str(getattr(request, "session_hash", None) or "")


def curves_tab() -> None:
    """The loss curves recorded in the models, a plot per set of paintings learned together, a line
    per norm."""
    with gr.Tab("Training curves"):
        gr.Markdown(handlers.curves_note(), elem_id="curves-note")
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
