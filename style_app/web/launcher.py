"""Start the web UI: `style-app serve [flags]` and `python app.py [flags]` are this module, with one
set of flags (`add_serve_flags`) and one function (`serve`). Gradio and torch load inside `serve`,
so the CLI builds these flags without them."""
from __future__ import annotations

import argparse
import logging
import os
import time

from style_app.errors import StyleAppError, first_line

#: The smallest --max-side: the UI's size sliders start at 64 px in steps of 32, so they need at
#: least one step above it.
MIN_SIDE = 96


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `style-app serve` and of app.py."""
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (0.0.0.0 exposes the app to the network)")
    from style_app.arguments import MAX_SIDE, number_in

    parser.add_argument("--port", type=number_in(int, 1, 65535), default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--max-side", type=number_in(int, MIN_SIDE, MAX_SIDE), default=1024,
                        help="uploads larger than this are downscaled")
    parser.add_argument("--weights-dir", help="your models and added paintings (default: env STYLE_APP_WEIGHTS, "
                        "else your per-user data folder)")
    parser.add_argument("--content-dir", help="training photos for added paintings (default: env "
                        "STYLE_APP_CONTENT_DIR; without one, the page asks for photos)")
    parser.add_argument("--vgg-weights", help="the VGG-16 loss network for added paintings, a file from "
                        "`style-app vgg-weights` (default: env STYLE_APP_VGG_WEIGHTS, else torchvision's download)")


def serve(args: argparse.Namespace, started: float | None = None) -> None:
    """Serve the UI until Ctrl-C; prints its URL and how long start-up took (from `started`, a
    time.perf_counter() reading, default now)."""
    started = time.perf_counter() if started is None else started
    from style_app.web.serving import check_address

    check_address(args.host, args.port)  # before anything is built: the real cause, in one line
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")  # a user's mistake: one line each
    from style_app.training.add_style import CONTENT_DIR_ENV
    from style_app.weights import use_user_weights_dir

    use_user_weights_dir(args.weights_dir)
    if args.content_dir:
        os.environ[CONTENT_DIR_ENV] = args.content_dir
    if args.vgg_weights:
        os.environ["STYLE_APP_VGG_WEIGHTS"] = args.vgg_weights  # models/vgg.py WEIGHTS_ENV (that module loads torch)
    from style_app.web.serving import harden_server

    harden_server()  # before the server starts its threads (see style_app/web/serving.py)

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage reports
    from style_app.web.ui import build_demo, launch

    demo = build_demo(args.max_side)
    try:
        url = launch(demo, args.host, args.port, args.share)
    except OSError as e:  # port taken, host not on this machine: the user's to fix
        raise StyleAppError(f"cannot serve on {args.host}:{args.port}: {first_line(e)}") from None
    print(f"style_app UI running at {url} (started in {time.perf_counter() - started:.1f} s); Ctrl-C to stop",
          flush=True)
    demo.block_thread()


def main(argv: list[str] | None = None, started: float | None = None) -> None:
    """app.py: parse its flags and serve; bad input is one line on stderr (exit 2)."""
    from style_app.arguments import Parser

    parser = Parser(prog="app.py", description="Serve the style_app web UI on the shipped weights "
                                     "(the same as `style-app serve`).")
    add_serve_flags(parser)
    args = parser.parse_args(argv)
    try:
        serve(args, started)
    except StyleAppError as e:
        parser.exit(2, f"app.py: error: {e}\n")
