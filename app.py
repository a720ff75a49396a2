"""Launch the web UI: `python app.py [--host 127.0.0.1] [--port 7860] [--share] [--max-side 1024]
[--weights-dir DIR] [--content-dir DIR]`, the same as `style-app serve` (style_app/web/launcher.py)."""
import time

START = time.perf_counter()

from style_app.web.launcher import main  # noqa: E402 (after START: the start-up time includes the imports)

if __name__ == "__main__":
    main(started=START)
