"""Helpers the tests share: photo-like test pictures, a tiny loss network's widths, and
`python app.py` started on a free port in a subprocess (for the client, load and browser tests)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 90
#: A narrow VGG-16 (same structure, few channels): the loss network of fast training tests.
TINY_VGG_WIDTHS = (4, 4, 8, 8, 8, 8, 8, 16, 16, 16)


def random_photo(seed: int, size: tuple[int, int] = (48, 40)) -> Image.Image:
    """A smooth random picture (gradients plus blobs), more photo-like than white noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    channels = [np.sin(xx * rng.uniform(2, 9) + rng.uniform(0, 6)) * np.cos(yy * rng.uniform(2, 9))
                for _ in range(3)]
    array = (np.stack(channels, -1) * 0.5 + 0.5) * 255
    return Image.fromarray(array.clip(0, 255).astype(np.uint8), "RGB")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(weights_dir: str | os.PathLike) -> Iterator[str]:
    """The app serving the models in `weights_dir`; yields its URL, stops it afterwards."""
    with app_process(weights_dir) as (_, url):
        yield url


@contextlib.contextmanager
def app_process(weights_dir: str | os.PathLike, max_side: int = 96) -> Iterator[tuple[subprocess.Popen, str]]:
    """`running_app` that also yields the server process (the load test reads its memory)."""
    env = {**os.environ, "STYLE_APP_WEIGHTS": str(weights_dir), "GRADIO_ANALYTICS_ENABLED": "False",
           "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(free_port()),
                             "--max-side", str(max_side)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc, _wait_for_url(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for_url(proc: subprocess.Popen) -> str:
    deadline, seen = time.monotonic() + START_TIMEOUT_S, []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if "running at " in line:
            # keep draining its output, so a chatty server never blocks on a full pipe
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return line.split("running at ")[1].split()[0]
    raise RuntimeError("app.py did not start:\n" + "".join(seen[-30:]))
