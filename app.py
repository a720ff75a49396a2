"""Launch the web UI: `python app.py [--host 127.0.0.1] [--port 7860] [--share] [--max-side 1024]
[--weights-dir DIR] [--content-dir DIR]`."""
from __future__ import annotations

import logging
import os
import time

START = time.perf_counter()


#: --max-side: the UI's size sliders start at 64 px in steps of 32, so they need at least one step above it.
MAX_SIDE_RANGE = (96, 16384)


def main(argv: list[str] | None = None) -> None:
    from style_app.cli import Parser, number_in  # light: argparse with one-line errors, range-checked numbers

    parser = Parser(prog="app.py", description="Serve the style_app web UI on the shipped weights.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (0.0.0.0 exposes the app to the network)")
    parser.add_argument("--port", type=number_in(int, 1, 65535), default=7860)
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument("--max-side", type=number_in(int, *MAX_SIDE_RANGE), default=1024,
                        help="uploads larger than this are downscaled")
    parser.add_argument("--weights-dir", help="your models and added paintings (default: env STYLE_APP_WEIGHTS)")
    parser.add_argument("--content-dir", help="training photos for added paintings (default: env "
                        "STYLE_APP_CONTENT_DIR, else the networks' own)")
    args = parser.parse_args(argv)
    from style_app.errors import StyleAppError
    from style_app.web.serving import check_address

    try:
        check_address(args.host, args.port)  # before anything is built: the real cause, in one line
    except StyleAppError as e:
        parser.exit(2, f"app.py: error: {e}\n")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")  # a user's mistake: one line each
    from style_app.training.add_style import CONTENT_DIR_ENV
    from style_app.weights import use_user_weights_dir

    use_user_weights_dir(args.weights_dir)
    if args.content_dir:
        os.environ[CONTENT_DIR_ENV] = args.content_dir
    from style_app.web.serving import harden_server

    harden_server()  # before the server starts its threads (see style_app/web/serving.py)

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no usage reports
    from style_app.web.ui import build_demo, launch

    demo = build_demo(args.max_side)
    url = launch(demo, args.host, args.port, args.share)
    print(f"style_app UI running at {url} (started in {time.perf_counter() - START:.1f} s); Ctrl-C to stop",
          flush=True)
    demo.block_thread()


if __name__ == "__main__":
    main()
