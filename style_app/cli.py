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
from pathlib import Path

# Only light imports here: torch and the library load inside `main`, so a Ctrl-C during start-up
# is caught there and exits 130 quietly.
from style_app.arguments import EXIT_USAGE, MAX_SIDE, Parser, add_weights_dir, number_in
from style_app.cli_judge import add_judge
from style_app.cli_stylize import _same_file, _style_file, add_model_choice, add_stylize, chosen_model
from style_app.cli_train import add_add_style, add_train
from style_app.errors import Interrupted, StyleAppError, first_line
from style_app.files import check_file_output, check_folder_output, check_outputs_apart

EXIT_INTERRUPTED = 130
#: Largest square photo the 64 MP input limit admits (style_app.images.MAX_PIXELS): `bench --rss`.
MAX_PHOTO_SIDE = 8000
def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="style-app: warning: %(message)s", level=logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_line
            argv = sys.argv[1:] if argv is None else argv
            args = build_parser(command_in(argv)).parse_args(argv)
            from style_app.weights import use_user_weights_dir
            use_user_weights_dir(getattr(args, "weights_dir", None))
            return args.run(args) or 0
    except StyleAppError as e:
        print(f"style-app: error: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED if isinstance(e, Interrupted) else EXIT_USAGE
    except KeyboardInterrupt:
        print("style-app: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `style-app list | head`: the reader left; stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush at exit
        return EXIT_USAGE
    except (MemoryError, RuntimeError) as e:  # an allocation that no estimate refused: one line, no traceback
        if not isinstance(e, MemoryError) and not _out_of_memory(e):
            raise
        print(f"style-app: error: out of memory ({first_line(e)[:200]}); try a smaller size", file=sys.stderr)
        return EXIT_USAGE


def _out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return any(s in text for s in ("can't allocate memory", "cannot allocate memory", "out of memory",
                                   "failed to allocate", "defaultcpuallocator"))


def _warning_line(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A library's warning as one line, without the library's file path and source line."""
    print(f"style-app: warning: {str(message).strip().splitlines()[0]}", file=sys.stderr)


def build_parser(command: str | None = None) -> Parser:
    """The parser of every command (`command` None), or of one command's flags alone: the others
    are only named, with their help. Some flags need torch (their choices come from the networks),
    so `main` builds only the command it runs: `style-app --help` and `list` load no torch."""
    parser = Parser(prog="style-app", description="Fast neural style transfer with swappable normalization.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (text, add_flags) in COMMANDS.items():
        p = sub.add_parser(name, help=text)
        if command is None or command == name:
            add_flags(p)
    return parser


def command_in(argv: list[str]) -> str:
    """The command `argv` names ('' when none): the first word not an option (the top-level parser
    has no options but --help)."""
    return next((word for word in argv if not word.startswith("-")), "")


def add_recalibrate(p: argparse.ArgumentParser) -> None:
    """`style-app recalibrate`: a batch-norm network's running statistics measured again."""
    from style_app.training import bn_statistics
    from style_app.training.config import MAX_TRAIN_SIDE
    p.add_argument("network", metavar="NETWORK", help="a batch-norm network file")
    p.add_argument("--content-dir", required=True, help="photos to measure on (the training photos)")
    p.add_argument("--out", required=True, help="the recalibrated network (a new file: styles added to NETWORK "
                   "stay with NETWORK)")
    p.add_argument("--size", type=number_in(int, 16, MAX_TRAIN_SIDE), default=bn_statistics.SIZE,
                   help=f"photos' side in pixels (default: {bn_statistics.SIZE})")
    p.add_argument("--photos", type=number_in(int, 1, 100000), default=bn_statistics.PHOTOS,
                   help=f"photos to average over (default: {bn_statistics.PHOTOS})")
    p.set_defaults(run=run_recalibrate)


def add_compare(p: argparse.ArgumentParser) -> None:
    """`style-app compare`: one photo through every norm of a style, as a grid."""
    from style_app.models.transformer import ARCHS, ZOO_ARCH
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--style", required=True)
    p.add_argument("--arch", default=ZOO_ARCH, choices=list(ARCHS))
    p.add_argument("-o", "--out", required=True, help="grid image to write")
    p.add_argument("--max-size", type=number_in(int, 1, MAX_SIDE), default=512, help="longer side of each tile")
    p.add_argument("--device", default="auto")
    add_weights_dir(p)
    p.set_defaults(run=run_compare)


def add_evaluate(p: argparse.ArgumentParser) -> None:
    """`style-app evaluate`: scores on held-out photos."""
    from style_app.training.config import MAX_TRAIN_SIDE
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
    from style_app.cli_video import add_evaluate_video_flags
    add_evaluate_video_flags(p)
    p.set_defaults(run=run_evaluate)


def add_list(p: argparse.ArgumentParser) -> None:
    """`style-app list`: the shipped models, yours and your added styles."""
    p.add_argument("--json", action="store_true", help="machine-readable list")
    add_weights_dir(p)
    p.set_defaults(run=run_list)


def add_bench(p: argparse.ArgumentParser) -> None:
    """`style-app bench`: speed beside a plain-fp32 baseline."""
    from style_app.models.norms import COMPARED_NORMS, NORM_KINDS
    from style_app.tools import bench
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
    p.add_argument("--rss", type=number_in(int, 16, MAX_PHOTO_SIDE), metavar="SIDE", help="also stylize a SIDE x SIDE photo in a subprocess "
                   "and report its peak memory (e.g. 4096)")
    p.set_defaults(run=run_bench)


def add_export(p: argparse.ArgumentParser) -> None:
    """`style-app export`: a model as ONNX."""
    p.add_argument("--format", choices=["onnx"], default="onnx")
    add_model_choice(p)
    p.add_argument("-o", "--out", required=True, help="output .onnx file")
    p.set_defaults(run=run_export)


def add_vgg_weights(p: argparse.ArgumentParser) -> None:
    """`style-app vgg-weights`: the loss network's file for offline training and evaluation."""
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.set_defaults(run=run_vgg_weights)


def add_serve(p: argparse.ArgumentParser) -> None:
    """`style-app serve`: the web UI, with app.py's flags (one function adds them to both)."""
    from style_app.web.launcher import add_serve_flags
    add_serve_flags(p)
    p.set_defaults(run=run_serve)


#: Every command: (its help line, the function that adds its flags).
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "train": ("train a style network from a painting", add_train),
    "add-style": ("learn a new painting for a conditional network in minutes (a new row of norm scale and "
                  "shift; the convolutions stay frozen)", add_add_style),
    "recalibrate": ("a batch-norm network's running statistics, measured again on whole photos at the size "
                    "people stylize (precise BN), written as a new file", add_recalibrate),
    "stylize": ("stylize photos", add_stylize),
    "compare": ("one photo through every norm of a style, as a labelled grid", add_compare),
    "evaluate": ("style/content loss and speed of every shipped model on held-out photos", add_evaluate),
    "list": ("the shipped models, yours and your added styles", add_list),
    "bench": ("inference and training speed beside a plain-fp32 baseline", add_bench),
    "export": ("a model as ONNX (dynamic size), checked against PyTorch", add_export),
    "vgg-weights": ("write torchvision's ImageNet VGG-16 features as the file --vgg-weights reads (downloads it "
                    "once; run where the internet is reachable)", add_vgg_weights),
    "serve": ("serve the web UI (what `python app.py` does, the same flags)", add_serve),
    "judge": ("blind side-by-side sheets of two programs' pictures, and their tally", add_judge),
}


def run_recalibrate(args: argparse.Namespace) -> None:
    from style_app.training.bn_statistics import recalibrate_file

    if _same_file(Path(args.network), Path(args.out)):
        raise StyleAppError(f"{args.out}: is NETWORK; write the recalibrated network to a new file")
    check_outputs_apart({"--out": args.out}, {"NETWORK": args.network, "--content-dir": args.content_dir})
    check_file_output("--out", args.out, ".safetensors")
    recalibrate_file(args.network, args.content_dir, args.out, args.size, args.photos)
    print(f"wrote {args.out}")


def run_compare(args: argparse.Namespace) -> None:
    from style_app.images import image_format, open_image, save_image
    from style_app.tools.compare import compare_norms, labelled_grid

    check_file_output("-o", args.out)
    check_outputs_apart({"-o": args.out}, {"the input photo": args.input})
    image_format(args.out)
    results = compare_norms(open_image(args.input), args.style, args.arch, args.device, max_size=args.max_size)
    save_image(labelled_grid([(r.label, r.image) for r in results]), Path(args.out))
    print(f"wrote {args.out}: " + ", ".join(f"{r.norm} {r.seconds * 1000:.0f} ms" for r in results))


def run_evaluate(args: argparse.Namespace) -> None:
    from style_app.files import write_atomically
    from style_app.models.vgg import WEIGHTS_ENV
    from style_app.tools.evaluate import STYLE_DIR_ENV, evaluate, format_table, scores_as_json
    from style_app.cli_video import run_evaluate_video
    from style_app.weights import available_models

    if args.video:
        if args.json_out or args.grid:  # they score photos; ignoring them would look like success
            raise StyleAppError("--json and --grid score photos; with --video evaluate prints the flicker table")
        return run_evaluate_video(args)
    if not args.content_dir:
        raise StyleAppError("evaluate needs --content-dir (photos) or --video (clips)")
    if args.json_out:
        check_file_output("--json", args.json_out)
    if args.grid:
        check_folder_output("--grid", args.grid)
    check_outputs_apart({"--json": args.json_out, "--grid": args.grid},
                        {"--content-dir": args.content_dir, "--style-dir": args.style_dir or os.environ.get(STYLE_DIR_ENV),
                         "--vgg-weights": args.vgg_weights or os.environ.get(WEIGHTS_ENV), "--weights": args.weights,
                         "--stylized-dir": args.stylized_dir,
                         "a model it scores": None if args.weights or args.stylized_dir else
                         [info.path for info in available_models()]})
    scores = evaluate(args.content_dir, args.style_dir, args.vgg_weights, args.limit, args.device, args.size,
                      args.weights, args.stylized_dir, args.grid)
    print(format_table(scores))
    if args.json_out:
        write_atomically(args.json_out, (json.dumps(scores_as_json(scores), indent=2) + "\n").encode())


def run_bench(args: argparse.Namespace) -> None:
    from style_app.files import write_atomically
    from style_app.models.transformer import ZOO_ARCH
    import torch

    from style_app.tools.bench import check_sizes_fit, format_table, machine, run_bench, stylize_peak_rss
    from style_app.tiling import TILE_ABOVE_PIXELS
    from style_app.runtime import resolve_device

    if args.json:
        check_file_output("--json", args.json)
    device = resolve_device(args.device)
    check_sizes_fit(args.arch, args.sizes, device)
    if args.rss:
        check_sizes_fit([ZOO_ARCH], [min(args.rss, math.isqrt(TILE_ABOVE_PIXELS))], torch.device("cpu"))  # tiled above
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

    check_file_output("-o", args.out)
    check_outputs_apart({"-o": args.out}, {"--weights": args.weights or _style_file(args)})
    model = chosen_model(args, fast=False).model
    path = export_onnx(model, args.out)
    print(f"wrote {path}; largest difference from PyTorch: {check_onnx(path, model):.1e}")


def run_vgg_weights(args: argparse.Namespace) -> None:
    from style_app.files import write_atomically
    from style_app.models.vgg import VGGWeightsError, torchvision_vgg_file

    check_file_output("--out", args.out)
    try:
        data = torchvision_vgg_file()
    except VGGWeightsError as e:
        cause = e.__cause__ or e
        raise StyleAppError(f"cannot get torchvision's VGG16_Weights.IMAGENET1K_V1 ({type(cause).__name__}: "
                            f"{first_line(cause)}); run this where the internet is reachable, then copy "
                            f"{args.out} over") from None
    path = write_atomically(args.out, data)
    print(f"wrote {path}: pass it as --vgg-weights {path} (or set STYLE_APP_VGG_WEIGHTS)")


def run_serve(args: argparse.Namespace) -> None:
    from style_app.web.launcher import serve

    serve(args)


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
