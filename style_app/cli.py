"""`style-app`: train, add a style, stylize, compare and list, as thin wrappers over the library."""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

# Only light imports here: torch and the library load inside `main`, so a Ctrl-C during start-up
# is caught there and exits 130 quietly.
from style_app.errors import Interrupted, StyleAppError, first_line

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: Largest --image-size / --style-size for training, and --size for evaluate (pixels per side).
MAX_TRAIN_SIDE = 4096
#: Largest side `bench` measures or `--max-size` accepts (the 64 MP input limit is 8000 x 8000).
MAX_SIDE = 16384
#: Every numeric flag of `train` (TrainConfig's fields): (type, lowest, highest, lowest excluded, help).
TRAIN_RANGES = {
    "steps": (int, 1, 10**8, False, "optimizer steps"),
    "batch_size": (int, 1, 1024, False, "photos per step"),
    "image_size": (int, 16, MAX_TRAIN_SIDE, False, "side of the square training crops, pixels"),
    "style_size": (int, 16, MAX_TRAIN_SIDE, False, "the painting is shrunk to fit this many pixels"),
    "seed": (int, 0, 2**63 - 1, False, "random seed (weights, crops, loss directions)"),
    "checkpoint_every": (int, 1, None, False, "steps between checkpoints (<out>.ckpt)"),
    "workers": (int, 0, 64, False, "photo-loading processes"),
    "log_every": (int, 1, None, False, "steps per line of <out>.losses.jsonl"),
    "content_weight": (float, 0.0, None, False, "weight of the content loss (keep the photo)"),
    "style_weight": (float, 0.0, None, False, "weight of the style loss (--style-loss)"),
    "tv_weight": (float, 0.0, None, False, "weight of the total-variation loss (smoothness)"),
    "laplacian_weight": (float, 0.0, None, False, "weight of the Laplacian loss: no new coarse contours (blobs)"),
    "texture_weight": (float, 0.0, None, False, "sliced-texture: the brushwork term's share beside the colours"),
    "gram_weight": (float, 0.0, None, False, "beside a sliced --style-loss: each picture's Gram loss, this weight "
                    "(default: 3; 0 with --style-loss gram)"),
    "contrast_weight": (float, 0.0, None, False, "weight of the contrast term: a picture paler than its photo "
                        "(luminance std) pays"),
    "contrast_window": (int, 0, MAX_TRAIN_SIDE, False, "the contrast term compares each square of this many "
                        "pixels with the photo's (0: the whole picture)"),
    "mean_colour_weight": (float, 0.0, None, False, "weight of the mean-colour term: the batch's mean RGB "
                           "away from the painting's pays"),
    "tone_weight": (float, 0.0, None, False, "weight of the tone term: a picture whose coarse lights and darks "
                    "follow its photo's more weakly than the photo's own pays"),
    "palette_weight": (float, 0.0, None, False, "weight of the palette term: the batch's RGB pixels distributed "
                       "unlike the painting's (sliced Wasserstein) pay"),
    "zoom": (float, 1.0, 16.0, False, "crops from photos enlarged up to this many times"),
    "lr": (float, 0.0, 10.0, True, "Adam learning rate"),
    "style_lr": (float, 0.0, 10.0, True, "several paintings: learning rate of their own norm scales and shifts "
                 "(add-style: --lr unless given)"),
    "decay_steps": (int, 0, 10**8, False, "the learning rates fall along a half cosine to a tenth of themselves "
                    "by this step, then stay (0: constant)"),
    "bn_stats_size": (int, 0, MAX_TRAIN_SIDE, False, "batch norm: after training, each style's running statistics "
                      "are measured again on whole photos this size, the size people stylize at (0: keep training's)"),
}


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line on stderr (exit 2)."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="style-app: warning: %(message)s", level=logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            args = build_parser().parse_args(argv)
            from style_app.weights import use_user_weights_dir
            use_user_weights_dir(getattr(args, "weights_dir", None))
            return args.run(args) or 0
    except StyleAppError as e:
        print(f"style-app: error: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED if isinstance(e, Interrupted) else EXIT_USAGE
    except KeyboardInterrupt:
        print("style-app: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _warning_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A library's warning as one line, without the library's file path and source line."""
    print(f"style-app: warning: {str(message).strip().splitlines()[0]}", file=sys.stderr)


def number_in(kind: type, low: float, high: float | None = None, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite `kind` (int or float) from `low` (excluded when `above`) to `high`,
    so a bad value is a one-line usage error (exit 2) before anything runs."""
    bound = f"above {low}" if above else f"at least {low}"
    wanted = f"{bound} and at most {high}" if high is not None else bound

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'} "
                                             f"{wanted}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def build_parser() -> Parser:
    parser = Parser(prog="style-app", description="Fast neural style transfer with swappable normalization.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add_command in (add_train, add_add_style, add_recalibrate, add_stylize, add_compare, add_evaluate, add_list,
                        add_bench, add_export, add_vgg_weights):
        add_command(sub)
    return parser


def add_train(sub: argparse._SubParsersAction) -> None:
    """`style-app train`: the flags are TrainConfig's fields."""
    from style_app.models.norms import NORM_KINDS
    from style_app.models.transformer import ARCHS
    from style_app.training.train import TrainConfig
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    p = sub.add_parser("train", help="train a style network from a painting")
    p.add_argument("--style-image", required=True, nargs="+",
                   help="the painting; several: one network conditioned on style (Dumoulin et al. 2017)")
    p.add_argument("--content-dir", required=True, help="folder of training photos (searched recursively)")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--norm", default=defaults["norm"], choices=NORM_KINDS)
    p.add_argument("--arch", default=defaults["arch"], choices=list(ARCHS), help="network architecture")
    p.add_argument("--warm-start", metavar="NETWORK", help="start from this network's weights (the same norm, "
                   "arch and paintings), e.g. to train it further with another loss")
    p.add_argument("--every-style", action=argparse.BooleanOptionalAction, default=defaults["every_style"],
                   help="several paintings: train all of them at each step on the same photos; --no-every-style: "
                   "one painting per step, in turn (default: every style)")
    add_training_flags(p, defaults)
    p.set_defaults(run=run_train)


def add_add_style(sub: argparse._SubParsersAction) -> None:
    """`style-app add-style`: a new painting for a conditional network, its norm parameters only.
    Loss settings left out are the network's own (None here)."""
    from style_app.training.train import TrainConfig
    p = sub.add_parser("add-style", help="learn a new painting for a conditional network in minutes "
                       "(a new row of norm scale and shift; the convolutions stay frozen)")
    p.add_argument("painting", metavar="PAINTING")
    p.add_argument("--base", required=True, metavar="NETWORK_OR_NORM",
                   help="a conditional network file, or a norm (instance, batch, layer, group): that norm's shipped one")
    p.add_argument("--name", help="the style's name (default: from the painting's file name)")
    p.add_argument("--out", help="style file to write (default: <weights dir>/<name>_<network>.safetensors)")
    add_weights_dir(p)
    p.add_argument("--content-dir", help="training photos (default: env STYLE_APP_CONTENT_DIR)")
    p.add_argument("--init", help="start from this style of the network, 'mean', or 'auto' (default: whichever "
                   "has the lower loss for the painting)")
    add_training_flags(p, {f.name: None for f in fields(TrainConfig)})
    p.set_defaults(run=run_add_style)


def add_recalibrate(sub: argparse._SubParsersAction) -> None:
    """`style-app recalibrate`: a batch-norm network's running statistics measured again."""
    from style_app.training import bn_statistics
    p = sub.add_parser("recalibrate", help="a batch-norm network's running statistics, measured again on whole "
                       "photos at the size people stylize (precise BN), written as a new file")
    p.add_argument("network", metavar="NETWORK", help="a batch-norm network file")
    p.add_argument("--content-dir", required=True, help="photos to measure on (the training photos)")
    p.add_argument("--out", required=True, help="the recalibrated network (a new file: styles added to NETWORK "
                   "stay with NETWORK)")
    p.add_argument("--size", type=number_in(int, 16, MAX_TRAIN_SIDE), default=bn_statistics.SIZE,
                   help=f"photos' side in pixels (default: {bn_statistics.SIZE})")
    p.add_argument("--photos", type=number_in(int, 1, 100000), default=bn_statistics.PHOTOS,
                   help=f"photos to average over (default: {bn_statistics.PHOTOS})")
    p.set_defaults(run=run_recalibrate)


def add_training_flags(p: argparse.ArgumentParser, defaults: dict) -> None:
    """The flags `train` and `add-style` share: TrainConfig's numbers (each range-checked, see
    TRAIN_RANGES) and loss, and how to run."""
    from style_app.training.losses import (CONTENT_LAYERS, GRAM_LAYERS, LAPLACIAN_MODES, REGION_PX, STYLE_LAYERS,
                                           STYLE_LOSSES)
    for name, (kind, low, high, above, text) in TRAIN_RANGES.items():
        default = "" if defaults[name] is None else f" (default: {defaults[name]})"
        p.add_argument("--" + name.replace("_", "-"), type=number_in(kind, low, high, above), default=defaults[name],
                       help=text + default)
    p.add_argument("--laplacian-pools", nargs="+", type=number_in(int, 1, MAX_TRAIN_SIDE, False), metavar="N",
                   default=defaults["laplacian_pools"], help="the Laplacian loss compares the images average-pooled "
                   "by each N (the mean over them; default 4 8 16, those the crop holds: 4 alone misses large "
                   "soft patches)")
    p.add_argument("--laplacian-mode", choices=LAPLACIAN_MODES, default=defaults["laplacian_mode"],
                   help="both: any contour unlike the photo's pays; stronger: only contours stronger than the "
                   f"photo's (droplets, glows), not softened ones, so no halos (default: {defaults['laplacian_mode']})")
    p.add_argument("--gram-layers", nargs="+", choices=STYLE_LAYERS, metavar="LAYER", default=defaults["gram_layers"],
                   help=f"the VGG layers --gram-weight compares, among {' '.join(STYLE_LAYERS)} "
                   f"(default: {' '.join(GRAM_LAYERS)})")
    p.add_argument("--style-layers", nargs="+", choices=STYLE_LAYERS, metavar="LAYER",
                   default=defaults["style_layers"], help="the VGG layers the style loss compares, among "
                   f"{' '.join(STYLE_LAYERS)}; without relu1_2 (mostly colour) the photo keeps its local colours "
                   f"(default: {' '.join(STYLE_LAYERS)})")
    p.add_argument("--content-layer", default=defaults["content_layer"], choices=CONTENT_LAYERS)
    p.add_argument("--style-loss", default=defaults["style_loss"], choices=STYLE_LOSSES,
                   help="gram: channel correlations; sliced: each picture's feature distributions (Heitz et al. "
                   "2021); sliced-batch: the batch's, pooled (no droplets); sliced-tiles: each region's "
                   "(texture, not glows); sliced-texture: the batch's pooled, plus the texture inside each "
                   f"{REGION_PX} px square, weighted by --texture-weight (colour masses with brushwork)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--vgg-weights", help="VGG-16 features .safetensors (default: torchvision download)")
    p.add_argument("--resume", nargs="?", const="auto", default=None,
                   help="continue from the checkpoint beside --out (or the one given)")
    p.add_argument("--val-dir", help="held-out photos: validation losses at every checkpoint")
    p.add_argument("--no-fast", dest="fast", action="store_false",
                   help="plain fp32 (no bf16 autocast / channels_last / AMP)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_stylize(sub: argparse._SubParsersAction) -> None:
    """`style-app stylize`: photos or folders through one model."""
    p = sub.add_parser("stylize", help="stylize photos")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders")
    add_model_choice(p)
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--out", help="output file (one input)")
    out.add_argument("--out-dir", help="output folder")
    p.add_argument("--strength", type=number_in(float, 0.0, 1.0), default=1.0, help="0 = photo, 1 = fully stylized")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    p.add_argument("--max-size", type=number_in(int, 1, MAX_SIDE), help="shrink so the longer side is at most this")
    p.add_argument("--device", default="auto")
    add_weights_dir(p)
    from style_app.video_cli import add_steadying_flags
    add_steadying_flags(p)  # videos (docs/video.md)
    p.set_defaults(run=run_stylize)


def add_compare(sub: argparse._SubParsersAction) -> None:
    """`style-app compare`: one photo through every norm of a style, as a grid."""
    from style_app.models.transformer import ARCHS, ZOO_ARCH
    p = sub.add_parser("compare", help="one photo through every norm of a style, as a labelled grid")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--style", required=True)
    p.add_argument("--arch", default=ZOO_ARCH, choices=list(ARCHS))
    p.add_argument("-o", "--out", required=True, help="grid image to write")
    p.add_argument("--max-size", type=number_in(int, 1, MAX_SIDE), default=512, help="longer side of each tile")
    p.add_argument("--device", default="auto")
    add_weights_dir(p)
    p.set_defaults(run=run_compare)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    """`style-app evaluate`: scores on held-out photos."""
    p = sub.add_parser("evaluate", help="style/content loss and speed of every shipped model on held-out photos")
    p.add_argument("--content-dir", help="photos the models were not trained on (required unless --video)")
    p.add_argument("--style-dir", help="the paintings, as <style>.jpg (default: env STYLE_APP_STYLE_DIR)")
    p.add_argument("--json", dest="json_out", help="also write the scores to this JSON file")
    p.add_argument("--vgg-weights", help="VGG-16 features .safetensors (default: torchvision download)")
    p.add_argument("--weights", nargs="+", help="score these model files instead of the shipped ones")
    p.add_argument("--stylized-dir", nargs="+", default=[], metavar="DIR",
                   help="also score another tool's pictures: DIR/<style>/<photo name>.png")
    p.add_argument("--grid", metavar="DIR", help="also write DIR/<style>.jpg: the first photos beside the "
                   "painting and each scored model's picture")
    p.add_argument("--limit", type=number_in(int, 1), help="use only the first N photos")
    p.add_argument("--size", type=number_in(int, 16, MAX_TRAIN_SIDE), default=512,
                   help="photos are resized to this shorter side")
    p.add_argument("--device", default="cpu")
    from style_app.video_cli import add_evaluate_video_flags
    add_evaluate_video_flags(p)
    p.set_defaults(run=run_evaluate)


def add_list(sub: argparse._SubParsersAction) -> None:
    """`style-app list`: the shipped models, yours and your added styles."""
    p = sub.add_parser("list", help="the shipped models, yours and your added styles")
    p.add_argument("--json", action="store_true", help="machine-readable list")
    add_weights_dir(p)
    p.set_defaults(run=run_list)


def add_bench(sub: argparse._SubParsersAction) -> None:
    """`style-app bench`: speed beside a plain-fp32 baseline."""
    from style_app.models.norms import COMPARED_NORMS, NORM_KINDS
    from style_app.tools import bench
    p = sub.add_parser("bench", help="inference and training speed beside a plain-fp32 baseline")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument("--arch", nargs="+", default=list(bench.ARCH_NAMES), choices=bench.ARCH_NAMES)
    p.add_argument("--norm", nargs="+", default=list(COMPARED_NORMS), choices=NORM_KINDS)
    p.add_argument("--sizes", nargs="+", type=number_in(int, 16, MAX_SIDE), default=list(bench.SIZES),
                   help="inference image sides")
    p.add_argument("--repeats", type=number_in(int, 1, 1000), default=3,
                   help="timed runs per measurement (median), after a warm-up")
    p.add_argument("--no-train", dest="train", action="store_false", help="skip the training measurements")
    p.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    p.add_argument("--rss", type=number_in(int, 16, MAX_SIDE), metavar="SIDE", help="also stylize a SIDE x SIDE photo in a subprocess "
                   "and report its peak memory (e.g. 4096)")
    p.set_defaults(run=run_bench)


def add_export(sub: argparse._SubParsersAction) -> None:
    """`style-app export`: a model as ONNX."""
    p = sub.add_parser("export", help="a model as ONNX (dynamic size), checked against PyTorch")
    p.add_argument("--format", choices=["onnx"], default="onnx")
    add_model_choice(p)
    p.add_argument("-o", "--out", required=True, help="output .onnx file")
    p.set_defaults(run=run_export)


def add_vgg_weights(sub: argparse._SubParsersAction) -> None:
    """`style-app vgg-weights`: the loss network's file for offline training and evaluation."""
    p = sub.add_parser("vgg-weights", help="write torchvision's ImageNet VGG-16 features as the file "
                       "--vgg-weights reads (downloads it once; run where the internet is reachable)")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.set_defaults(run=run_vgg_weights)


def add_weights_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights-dir", help="your own models and added styles (default: env STYLE_APP_WEIGHTS)")


def add_model_choice(p: argparse.ArgumentParser) -> None:
    from style_app.models.norms import NORM_KINDS
    from style_app.models.transformer import ARCHS, ZOO_ARCH
    p.add_argument("--style", help="shipped style slug (see `style-app list`)")
    p.add_argument("--norm", default="instance", choices=NORM_KINDS)
    p.add_argument("--arch", default=ZOO_ARCH, choices=list(ARCHS))
    p.add_argument("--weights", help="a .safetensors model file instead of --style")


def chosen_model(args: argparse.Namespace, device: str = "cpu", fast: bool = True) -> "Stylizer":
    """The model that --style/--norm/--arch or --weights names, loaded (a conditional file set
    to the chosen style)."""
    from style_app.stylizer import Stylizer
    from style_app.weights import find_model

    if bool(args.style) == bool(args.weights):
        raise StyleAppError("give either --style NAME (with --norm) or --weights FILE")
    if args.weights:
        return Stylizer.from_file(args.weights, device, fast)
    info = find_model(args.style, args.norm, args.arch)
    return Stylizer.from_file(info.path, device, fast, style=info.style)


def run_train(args: argparse.Namespace) -> None:
    from style_app.training.train import TrainConfig, train

    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    path = train(cfg, progress=not args.quiet)
    print(f"wrote {path}")


def run_add_style(args: argparse.Namespace) -> None:
    from style_app.training.add_style import add_style_config
    from style_app.training.train import TrainConfig, train

    given = {"style_image", "content_dir", "out", "base", "name", "norm", "arch", "warm_start", "every_style"}
    settings = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name not in given}
    cfg = add_style_config(args.painting, args.base, args.name, args.out, args.content_dir, **settings)
    path = train(cfg, progress=not args.quiet)
    print(f"wrote {path}: style {cfg.name} for {Path(cfg.base).name}")


def run_recalibrate(args: argparse.Namespace) -> None:
    from style_app.training.bn_statistics import recalibrate_file

    if _same_file(Path(args.network), Path(args.out)):
        raise StyleAppError(f"{args.out}: is NETWORK; write the recalibrated network to a new file")
    recalibrate_file(args.network, args.content_dir, args.out, args.size, args.photos)
    print(f"wrote {args.out}")


def run_stylize(args: argparse.Namespace) -> int:
    """One photo (-o): errors end the run. A folder (--out-dir): a bad photo is reported in one
    line and skipped, the rest still run, and a summary line ends it (exit 2 if any failed)."""
    from tqdm import tqdm

    from style_app.images import open_image, save_image
    from style_app.video import is_video
    from style_app.video_cli import stylize_video

    jobs = plan_outputs(args.inputs, args.out, args.out_dir)
    stylizer = chosen_model(args, args.device)
    failed = 0
    for src, dst in tqdm(jobs, disable=True if len(jobs) < 2 else None, unit="image"):  # None: only on a terminal
        try:
            if is_video(src):
                stylize_video(stylizer, src, dst, args)
            else:
                save_image(stylizer.stylize(open_image(src), args.strength, args.preserve_color, args.max_size), dst)
        except StyleAppError as e:
            if args.out:
                raise
            failed += 1
            tqdm.write(f"style-app: error: {e}", file=sys.stderr)
    if args.out:
        print(f"wrote {args.out}")
        return 0
    print(f"{len(jobs) - failed} written, {failed} failed")
    return EXIT_USAGE if failed else 0


def plan_outputs(inputs: list[str], out: str | None, out_dir: str | None) -> list[tuple[Path, Path]]:
    """(source, destination) pairs. Folders expand to the images inside them, each written to the
    same relative path under `out_dir` as a .png; photos that would share a name (x.jpg and x.png)
    keep their extension (x.jpg.png). Never overwrites an input; refuses an empty folder."""
    from style_app.images import image_format
    from style_app.video import is_video

    sources = _sources(inputs, out_dir)
    if out:
        if len(sources) != 1:
            raise StyleAppError(f"-o takes one input image, got {len(sources)}; use --out-dir")
        if not is_video(sources[0][0]):
            image_format(out)
        jobs = [(sources[0][0], Path(out))]
    else:
        jobs = _folder_destinations(sources, Path(out_dir))
    for src, dst in jobs:
        if _same_file(src, dst):
            raise StyleAppError(f"{dst}: is the input photo; writing there would destroy it, choose another output")
    return jobs


def _sources(inputs: list[str], out_dir: str | None) -> list[tuple[Path, Path]]:
    """(image path, its path relative to the folder given) for every input; folders expanded."""
    from style_app.images import IMAGE_SUFFIXES, list_images
    from style_app.video import VIDEO_SUFFIXES, list_videos

    sources = []
    for item in map(Path, inputs):
        if not item.is_dir():
            sources.append((item, Path(item.name)))
            continue
        if out_dir and _same_file(item, Path(out_dir)):
            raise StyleAppError(f"{out_dir}: is the input folder; the outputs would overwrite its photos, "
                                f"choose another --out-dir")
        found = sorted(list_images(item) + list_videos(item))
        if not found:
            raise StyleAppError(f"{item}: no images or videos in this folder ({', '.join(IMAGE_SUFFIXES)}, "
                                f"{', '.join(VIDEO_SUFFIXES)})")
        sources += [(path, path.relative_to(item)) for path in found]
    return sources


def _folder_destinations(sources: list[tuple[Path, Path]], out_dir: Path) -> list[tuple[Path, Path]]:
    """Each source's .png (a video's .mp4) under `out_dir` at its relative path, distinct for every source."""
    from style_app.video import is_video

    stems: dict[Path, int] = {}
    for _, rel in sources:
        stems[rel.with_suffix("")] = stems.get(rel.with_suffix(""), 0) + 1
    jobs, taken = [], {}
    for src, rel in sources:
        name = rel.name if stems[rel.with_suffix("")] > 1 else rel.stem  # x.jpg.png beside x.png.png
        dst = out_dir / rel.parent / f"{name}{'.mp4' if is_video(src) else '.png'}"
        if dst in taken:
            raise StyleAppError(f"{taken[dst]} and {src} would both be written to {dst}; "
                                f"stylize them in separate runs")
        taken[dst] = src
        jobs.append((src, dst))
    return jobs


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file or folder (links and `..` resolved)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b) or a.resolve() == b.resolve()
    except OSError:
        return False


def run_compare(args: argparse.Namespace) -> None:
    from style_app.images import image_format, open_image, save_image
    from style_app.tools.compare import compare_norms, labelled_grid

    image_format(args.out)
    results = compare_norms(open_image(args.input), args.style, args.arch, args.device, max_size=args.max_size)
    save_image(labelled_grid([(r.label, r.image) for r in results]), Path(args.out))
    print(f"wrote {args.out}: " + ", ".join(f"{r.norm} {r.seconds * 1000:.0f} ms" for r in results))


def run_evaluate(args: argparse.Namespace) -> None:
    from style_app.files import write_atomically
    from style_app.tools.evaluate import evaluate, format_table, scores_as_json
    from style_app.video_cli import run_evaluate_video

    if args.video:
        return run_evaluate_video(args)
    if not args.content_dir:
        raise StyleAppError("evaluate needs --content-dir (photos) or --video (clips)")
    scores = evaluate(args.content_dir, args.style_dir, args.vgg_weights, args.limit, args.device, args.size,
                      args.weights, args.stylized_dir, args.grid)
    print(format_table(scores))
    if args.json_out:
        write_atomically(args.json_out, (json.dumps(scores_as_json(scores), indent=2) + "\n").encode())


def run_bench(args: argparse.Namespace) -> None:
    from style_app.files import write_atomically
    from style_app.models.transformer import ZOO_ARCH
    from style_app.tools.bench import format_table, machine, run_bench, stylize_peak_rss
    from style_app.runtime import resolve_device

    device = resolve_device(args.device)
    print(f"machine: {machine()}", flush=True)
    print(format_table([]), flush=True)  # the header; each row follows as soon as it is measured
    results = []
    for result in run_bench(device, args.arch, args.norm, args.sizes, args.repeats, args.train, args.compile):
        results.append(result)
        print(format_table([result]).splitlines()[-1], flush=True)
    report = {"machine": machine(), "results": [r.to_dict() for r in results]}
    if args.rss:
        report["stylize_peak_rss"] = {"side": args.rss, **stylize_peak_rss(args.rss)}
        print(f"stylize {args.rss}x{args.rss} ({ZOO_ARCH}, instance, cpu): {report['stylize_peak_rss']['seconds']:.1f} s, "
              f"peak RSS {report['stylize_peak_rss']['peak_rss_gb']:.2f} GiB")
    if args.json:
        write_atomically(args.json, (json.dumps(report, indent=2) + "\n").encode())


def run_export(args: argparse.Namespace) -> None:
    from style_app.tools.export import check_onnx, export_onnx

    model = chosen_model(args, fast=False).model
    path = export_onnx(model, args.out)
    print(f"wrote {path}; largest difference from PyTorch: {check_onnx(path, model):.1e}")


def run_vgg_weights(args: argparse.Namespace) -> None:
    from style_app.files import write_atomically
    from style_app.models.vgg import VGGWeightsError, torchvision_vgg_file

    try:
        data = torchvision_vgg_file()
    except VGGWeightsError as e:
        cause = e.__cause__ or e
        raise StyleAppError(f"cannot get torchvision's VGG16_Weights.IMAGENET1K_V1 ({type(cause).__name__}: "
                            f"{first_line(cause)}); run this where the internet is reachable, then copy "
                            f"{args.out} over") from None
    path = write_atomically(args.out, data)
    print(f"wrote {path}: pass it as --vgg-weights {path} (or set STYLE_APP_VGG_WEIGHTS)")


def run_list(args: argparse.Namespace) -> None:
    from style_app.weights import available_models

    models = [m.describe() for m in available_models()]
    if args.json:
        print(json.dumps(models, indent=2))
        return
    if not models:
        print("no models found")
        return
    rows = [("STYLE", "NORM", "ARCH", "PAINTING", "FILE")]
    rows += [(m["style"], m["norm"], m["arch"], f"{m['title']} ({m['artist']})" if m["artist"] else m["title"],
              m["path"]) for m in models]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


if __name__ == "__main__":
    sys.exit(main())
