"""The plain functions behind the web UI: photos in, pictures and tables out, no Gradio inside.

`style_app.web.ui` only wires components to these, so each is tested without a browser. They raise
`StyleAppError` for anything the user can fix; the UI shows that as a message, never a traceback.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from style_app.web import lab
from style_app.models.norms import COMPARED_NORMS, NORMS, norm_label
from style_app.models.transformer import ZOO_ARCH
from style_app.tools.compare import NormResult, compare_norms
from style_app.errors import ImageError, StyleAppError, for_page
from style_app.images import fit_within, open_image
from style_app.runtime import resolve_device
from style_app.style_files import conditional_network
from style_app.stylizer import cached_stylizer, check_fraction
from style_app.training.add_style import CONTENT_DIR_ENV, add_style_config
from style_app.web.trainer import Progress, StyleTrainer
from style_app.weights import available_models, file_styles, is_added_style, user_weights_dir, weights_dirs

#: Uploads whose longer side exceeds this are shrunk before anything else (the app's --max-side).
DEFAULT_MAX_SIDE = 1024
LOSS_TERMS = ("total", "content", "style", "tv")  # the columns after `step` in loss_curve
SCORES_FILE = "scores.json"
#: The lab's contrast and brightness factors: its plots sweep these, its sliders span the same range.
ADJUSTMENT_FACTORS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
#: The server's one trainer: a single add-style training at a time, whoever starts it.
TRAINER = StyleTrainer()


@dataclass
class Photo:
    """An upload, validated and possibly downscaled; `note` says so when it was."""

    image: Image.Image
    note: str = ""


def device_label() -> str:
    """The device every model runs on, as shown in the page."""
    device = resolve_device("auto")
    if device.type == "cuda":
        return f"CUDA GPU ({torch.cuda.get_device_name(device)})"
    return {"mps": "Apple GPU (MPS)", "cpu": "CPU"}.get(device.type, device.type)


def style_choices() -> list[tuple[str, str]]:
    """(title, artist) labels paired with the style slug the functions take, one per shipped style."""
    seen: dict[str, str] = {}
    for info in available_models():
        d = info.describe()
        seen.setdefault(info.style, f"{d['title']} ({d['artist']})" if d["artist"] else d["title"])
    return [(label, slug) for slug, label in seen.items()]


def norm_choices() -> list[tuple[str, str]]:
    """The shipped norms, labelled (IN, BN, LN, GN), in teaching order."""
    have = {info.norm for info in available_models()}
    return [(norm_label(n), n) for n in NORMS if n in have]


def load_photo(path: str | Path | None, max_side: int = DEFAULT_MAX_SIDE) -> Photo:
    """Validate an uploaded file with `open_image` and shrink it to `max_side` with a note.

    Error messages name the upload by its file name only, not by the server's temporary path."""
    if not path:
        raise ImageError("no photo: upload one or pick an example first")
    path = Path(path)
    try:
        image = open_image(path)
    except ImageError as e:
        raise ImageError(str(e).replace(str(path), path.name)) from None
    if max(image.size) <= max_side:
        return Photo(image)
    small = fit_within(image, max_side)
    return Photo(small, f"Your photo ({image.width}x{image.height}) was downscaled to "
                        f"{small.width}x{small.height} (the app's limit is {max_side} px).")


@dataclass
class Stylized:
    """A result and the time its network took, for the page to report."""

    image: Image.Image
    seconds: float

    def report(self, note: str = "") -> str:
        """What the result panel prints: size, time taken, device, and any downscaling note."""
        line = (f"{self.image.width}x{self.image.height} px in {self.seconds * 1000:.0f} ms "
                f"on {device_label()}")
        return f"{line}\n\n{note}" if note else line


def stylize(photo: Image.Image, style: str, norm: str, strength: float = 1.0,
            preserve_color: bool = False, max_size: int | None = None,
            blend_with: str | None = None, blend: float = 0.0) -> Stylized:
    """One photo through one shipped model, timed (model loading excluded); `blend` (0-1) mixes in
    the style `blend_with` of the same conditional network."""
    # blend weights on a 5 % grid: nobody sees a finer step, and the model cache stays small
    check_fraction("blend", blend)
    blend = round(blend * 20) / 20 if blend_with else 0.0
    stylizer = cached_stylizer(style, norm, blend_with=blend_with if blend else None, blend=blend)
    start = time.perf_counter()
    out = stylizer.stylize(photo, strength, preserve_color, max_size)
    return Stylized(out, time.perf_counter() - start)


def compare(photo: Image.Image, style: str, bn_batch_statistics: bool = False,
            max_size: int | None = None) -> list[NormResult]:
    """The photo through every norm of `style`; BN on running or (this photo's) batch statistics."""
    if bn_batch_statistics:
        return lab.compare_with_batch_statistics(photo, style, max_size)
    return compare_norms(photo, style, max_size=max_size)


def gallery(results: list[NormResult], bn_batch_statistics: bool = False) -> list[tuple[Image.Image, str]]:
    """(picture, caption) pairs for a gallery; the BN caption says which statistics it used."""
    stats = "batch statistics" if bn_batch_statistics else "running statistics"
    return [(r.image, f"{r.label}" + (f" ({stats})" if r.norm == "batch" else "")) for r in results]


#: The held-out measures of `style-app evaluate` shown beside each picture: (column, JSON key).
HELD_OUT_COLUMNS = (("Gram ratio", "style_ratio"), ("Palette ratio", "palette_ratio"),
                    ("Contrast", "contrast_ratio"), ("Blobs", "blobs"), ("Grid", "grid"),
                    ("Content loss", "content_loss"))


def latency_table(results: list[NormResult], style: str) -> pd.DataFrame:
    """Per model: milliseconds on this photo, and how it scored on held-out photos (scores.json
    beside the weights; docs/quality.md says what each measure means), so the norms' costs and
    measured quality sit beside their pictures."""
    scores = held_out_scores()
    measured = [scores.get((style, r.norm, ZOO_ARCH), {}) for r in results]
    return pd.DataFrame({"Normalization": [norm_label(r.norm) for r in results],
                         "Latency (ms)": [round(r.seconds * 1000) for r in results],
                         **{column: [_rounded(m.get(key)) for m in measured] for column, key in HELD_OUT_COLUMNS}})


def held_out_scores() -> dict[tuple[str, str, str], dict]:
    """The models' `style-app evaluate --json` results, stored as SCORES_FILE beside them in each
    weights folder, keyed by (style, norm, arch); a folder without a readable one adds nothing."""
    scores: dict[tuple[str, str, str], dict] = {}
    for folder in reversed(weights_dirs()):  # the user's scores win a tie, as the user's models do
        scores.update(_scores_file(folder / SCORES_FILE))
    return scores


def _scores_file(path: Path) -> dict[tuple[str, str, str], dict]:
    try:
        return {(r["style"], r["norm"], r["arch"]): r for r in json.loads(path.read_text())}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _rounded(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "not measured"


def averaging_table() -> pd.DataFrame:
    """The seed's lesson: what each norm averages over."""
    return pd.DataFrame([(NORMS[k].label, NORMS[k].averages_over, NORMS[k].that_is) for k in COMPARED_NORMS],
                        columns=["Normalization", "Averages over", "That is"])


def seed_table(kind: str) -> pd.DataFrame:
    """The seed tensor next to its normalized numbers, one row per image and channel."""
    x, y = lab.seed_tensor(), lab.normalize_seed(kind)
    rows = [(f"image {n + 1}", f"channel {c + 1}", _matrix(x[n, c]), _matrix(y[n, c]))
            for n in range(x.shape[0]) for c in range(x.shape[1])]
    return pd.DataFrame(rows, columns=["Image", "Channel", "Input", f"{norm_label(kind)} output"])


def _matrix(t: torch.Tensor) -> str:
    """A small matrix the way one writes it by hand: [a, b; c, d], at most 4 decimals."""
    return "[" + "; ".join(", ".join(_number(v) for v in row) for row in t.tolist()) + "]"


def _number(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".")


def adjusted_outputs(photo: Image.Image, style: str, contrast: float, brightness: float,
                     max_size: int | None = 256) -> tuple[Image.Image, list[tuple[Image.Image, str]]]:
    """The adjusted photo and each norm's output for it, captioned with how far it moved (mean
    absolute difference, 0-255) from the output for the unadjusted photo."""
    photo = fit_within(photo, max_size)
    changed = lab.adjust(photo, contrast, brightness)
    before = {r.norm: r.image for r in compare_norms(photo, style)}
    return changed, [(r.image, f"{norm_label(r.norm)} Δ {lab.output_change(r.image, before[r.norm]):.1f}")
                     for r in compare_norms(changed, style)]


def sensitivity_frame(photo: Image.Image, style: str, adjustment: str,
                      factors: tuple[float, ...] = ADJUSTMENT_FACTORS,
                      max_size: int | None = 128) -> pd.DataFrame:
    """`lab.sensitivity` as a plot-ready frame (norm, factor, change)."""
    return pd.DataFrame(lab.sensitivity(photo, style, adjustment, factors, max_size))


def batch_dependence(photo: Image.Image, style: str, companions: list[Image.Image],
                     max_size: int | None = 256) -> tuple[list[tuple[Image.Image, str]], str]:
    """The BN model's output for the photo: running statistics, batch statistics alone, and batch
    statistics inside a batch with `companions`; plus a sentence with the measured differences."""
    if not companions:
        raise StyleAppError("pick at least one other photo to share the batch")
    running = lab.stylize_batch([photo], style, batch_statistics=False, max_size=max_size)[0]
    alone = lab.stylize_batch([photo], style, max_size=max_size)[0]
    in_batch = lab.stylize_batch([photo, *companions], style, max_size=max_size)[0]
    tiles = [(running, "BN, running statistics (inference)"), (alone, "BN, batch statistics, alone"),
             (in_batch, f"BN, batch statistics, with {len(companions)} other photo(s)")]
    summary = (f"Same photo, same weights: alone vs. in a batch differs by "
               f"{lab.output_change(alone, in_batch):.1f}/255 on average; running vs. batch "
               f"statistics by {lab.output_change(running, alone):.1f}/255.")
    return tiles, summary


def curve_groups(arch: str = ZOO_ARCH) -> list[tuple[str, str]]:
    """One (title, style) per set of paintings learned together: a conditional network records one
    loss curve for all its paintings (averaged over them), so they share one plot; `style` is one
    of them, for `loss_curves`."""
    models = [info for info in available_models() if info.arch == arch]
    titles = {info.style: info.describe()["title"] for info in models}
    groups: dict[tuple[str, ...], str] = {}
    for info in models:
        groups.setdefault(tuple(file_styles(info.metadata)), info.style)
    return [(", ".join(titles.get(s, s) for s in styles), style) for styles, style in groups.items()]


def curves_note(arch: str = ZOO_ARCH) -> str:
    """What the Training curves tab says of the networks it plots, read from their recorded training
    config: how many paintings each conditional network learned, and whether every step trained all
    of them (`every_style`) or one after another."""
    networks = {info.path: info.metadata for info in available_models()
                if info.arch == arch and len(file_styles(info.metadata)) > 1 and not is_added_style(info.metadata)}
    counts = {len(file_styles(meta)) for meta in networks.values()}
    # a header without the setting comes from before it existed, when paintings took turns
    every = {bool((meta.get("train_config") or {}).get("every_style", False)) for meta in networks.values()}
    how = {frozenset([True]): "every painting at every step", frozenset([False]): "one painting per step, in turn"}
    if not networks or len(counts) > 1 or len(every) > 1:
        shipped = "some of these networks learned several paintings"
    else:
        shipped = f"each of these networks learned {counts.pop()} paintings, {how[frozenset(every)]}"
    return ("Loss per training step, recorded when the models were trained, one line per norm. A network that "
            f"learned several paintings ({shipped}) recorded one curve for all of them, averaged over the "
            "paintings: so its paintings share one plot.")


def loss_curves(style: str, term: str = "total", arch: str = ZOO_ARCH) -> pd.DataFrame:
    """The training loss curves recorded in the `arch` models of `style`: (step, loss, norm), the
    norms in the app's order (IN, BN, LN, GN), which is also the plots' legend order. One
    architecture only: a slim model's curve would otherwise run into the same norm's line."""
    if term not in LOSS_TERMS:
        raise StyleAppError(f"unknown loss term {term!r}; choose one of {', '.join(LOSS_TERMS)}")
    column = 1 + LOSS_TERMS.index(term)
    models = sorted((info for info in available_models() if info.style == style and info.arch == arch),
                    key=lambda info: list(NORMS).index(info.norm) if info.norm in NORMS else len(NORMS))
    rows = [(point[0], point[column], norm_label(info.norm))
            for info in models for point in info.metadata.get("loss_curve") or []]
    return pd.DataFrame(rows, columns=["step", "loss", "norm"])


def base_norms() -> list[tuple[str, str]]:
    """The norms with a conditional network, which a painting can be added to, labelled."""
    return [(norm_label(n), n) for n in COMPARED_NORMS if conditional_network(n) is not None]


def configured_content_dir() -> str | None:
    """The training photos' folder the server was started with (--content-dir or env
    STYLE_APP_CONTENT_DIR); None when the page must ask for photos."""
    return os.environ.get(CONTENT_DIR_ENV) or None


def styles_folder_note() -> str:
    """Where added paintings are saved, for the page to say."""
    return f"Added paintings are saved in `{user_weights_dir()}`."


def start_adding(painting: str | Path | None, name: str | None, norms: list[str], steps: int,
                 preview_photo: Image.Image, photos: list[str | Path] | None = None,
                 session: str | None = None) -> str:
    """Start learning the uploaded painting for each chosen norm's network in the background (one
    after another), on the uploaded training `photos`, else the server's content folder; returns
    the progress report. Raises StyleAppError for a missing or bad painting, name or photo, no
    norm or no photos, or while another painting is being learned, in the page's words (no flags,
    no server paths). Only `session` may cancel what it starts."""
    TRAINER.check_idle()
    if not painting:
        raise ImageError("no painting: upload the painting to learn first")
    if not norms:
        raise StyleAppError("pick at least one normalization to learn the painting for")
    load_photo(painting)  # not an image: the message names the upload by its file name only
    if not photos and not configured_content_dir():
        raise StyleAppError("no training photos: upload a few photos (the more the better) under "
                            "\"Training photos\"")
    scratch = _photo_folder(photos) if photos else None
    try:
        jobs = [add_style_config(Path(painting), norm, (name or "").strip() or None, steps=int(steps), workers=0,
                                 content_dir=scratch) for norm in norms]
        TRAINER.start(jobs, preview_photo, scratch, owner=session)
    except BaseException as e:  # nothing started: the uploaded photos' copy goes, the error in the page's words
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(e, StyleAppError):
            raise type(e)(for_page(str(e))) from None
        raise
    return progress_report(TRAINER.progress())


def _photo_folder(photos: list[str | Path]) -> Path:
    """The uploaded training photos, each checked with `open_image`, copied into a fresh folder
    (the trainer removes it when the training ends)."""
    folder = Path(tempfile.mkdtemp(prefix="style_app_photos_"))
    try:
        for i, photo in enumerate(photos):
            load_photo(photo)  # not an image: named by its file name only
            shutil.copy(photo, folder / f"{i:04d}{Path(photo).suffix.lower()}")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def progress_report(progress: Progress) -> str:
    """The trainer's state as HTML: a progress bar and the steps left, or how the last run ended."""
    if not progress.running:
        return f"<p>{html.escape(progress.message or 'No painting is being learned.')}</p>"
    return (f'<progress value="{progress.step}" max="{progress.steps}" style="width:100%"></progress>'
            f"<p>{html.escape(progress.label)}: step {progress.step} of {progress.steps}, "
            f"{progress.steps_left} steps left in all</p>")


def cancel_adding(session: str | None = None) -> str:
    """Stop the running training after its current step (nothing finished is removed); only the
    session that started it may (others are told it is busy)."""
    if not TRAINER.cancel(session):
        raise StyleAppError("no painting is being learned")
    return progress_report(TRAINER.progress())


def parameter_layers(norm: str) -> list[tuple[str, str]]:
    """The conditional norm layers of the `norm` network, labelled with their channel counts."""
    model, _ = lab.style_network(norm)
    return [(f"{name} ({channels} channels)", name) for name, channels in lab.norm_layers(model).items()]


def style_parameter_frames(norm: str, layer: str | None = None) -> tuple[pd.DataFrame, str]:
    """Every style's per-channel scale and shift in one norm layer of the `norm` network (shipped and
    added styles alike), and a sentence on how few numbers make a painting."""
    model, metadata = lab.style_network(norm)
    layer = layer or next(iter(lab.norm_layers(model)))
    frame = pd.DataFrame(lab.style_parameters(model, file_styles(metadata), layer))
    per_style, shared = lab.style_share(model)
    return frame, (f"{norm_label(norm)}: {model.num_styles} paintings in one network. Switching painting "
                   f"changes only the norm layers' scale and shift, {per_style:,} numbers per painting; "
                   f"the other {shared:,} are shared by all paintings.")
