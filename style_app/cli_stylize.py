"""`style-app stylize`: photos and folders through one model, and the model choice that `stylize`
and `export` share (--style/--norm/--arch or --weights)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from style_app.arguments import EXIT_USAGE, MAX_SIDE, add_weights_dir, number_in
from style_app.errors import StyleAppError
from style_app.files import check_file_output, check_folder_output, check_outputs_apart


def add_stylize(p: argparse.ArgumentParser) -> None:
    """`style-app stylize`: photos or folders through one model."""
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
    from style_app.cli_video import add_steadying_flags
    add_steadying_flags(p)  # videos (docs/video.md)
    p.set_defaults(run=run_stylize)


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


def _style_file(args: argparse.Namespace) -> Path | None:
    """The model file that --style/--norm/--arch names (None with --weights or no --style)."""
    from style_app.weights import find_model

    return find_model(args.style, args.norm, args.arch).path if args.style and not args.weights else None


def run_stylize(args: argparse.Namespace) -> int:
    """One photo (-o): errors end the run. A folder (--out-dir): a bad photo is reported in one
    line and skipped, the rest still run, and a summary line ends it (exit 2 if any failed)."""
    from tqdm import tqdm

    from style_app.images import open_image, save_image
    from style_app.video import is_video
    from style_app.cli_video import stylize_video

    check_outputs_apart({"-o": args.out, "--out-dir": args.out_dir},
                        {"the input photo": [i for i in args.inputs if not Path(i).is_dir()],
                         "the input folder": [i for i in args.inputs if Path(i).is_dir()], "--weights": args.weights})
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

    if out:
        check_file_output("-o", out)
    else:
        check_folder_output("--out-dir", out_dir)
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
