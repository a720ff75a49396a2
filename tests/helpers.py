"""Helpers the tests share: photo-like test pictures, a tiny training run, and `python app.py`
started on a free port in a subprocess (for the client, load and browser tests)."""
from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from style_app.training.train import TrainConfig

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
def running_app(weights_dir: str | os.PathLike, **env: str) -> Iterator[str]:
    """The app serving the models in `weights_dir` (with `env` set); yields its URL, stops it afterwards."""
    with app_process(weights_dir, **env) as (_, url):
        yield url


@contextlib.contextmanager
def app_process(weights_dir: str | os.PathLike, max_side: int = 96, **env: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """`running_app` that also yields the server process (the load test reads its memory); the
    lines it prints after start-up collect in `proc.output`."""
    env = {**os.environ, "STYLE_APP_WEIGHTS": str(weights_dir), "GRADIO_ANALYTICS_ENABLED": "False",
           "PYTHONUNBUFFERED": "1", **env}
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
            proc.output = []
            threading.Thread(target=lambda: proc.output.extend(proc.stdout), daemon=True).start()
            return line.split("running at ")[1].split()[0]
    raise RuntimeError("app.py did not start:\n" + "".join(seen[-30:]))


def tiny_config(tmp_path, photo_dir, style_file, tiny_vgg_file, **overrides) -> TrainConfig:
    """A training run that takes seconds: tiny crops, a tiny loss network, a few steps."""
    settings = dict(style_image=[str(style_file)], content_dir=str(photo_dir), out=str(tmp_path / "model.safetensors"),
                    arch="johnson", steps=8, batch_size=2, image_size=32, style_size=64, vgg_weights=tiny_vgg_file,
                    checkpoint_every=4, log_every=1, workers=0, lr=1e-2)
    settings.update(overrides)
    return TrainConfig(**settings)


def logged_losses(cfg: TrainConfig) -> list[float]:
    """The total loss of every training line in the run's log."""
    return [json.loads(line)["total"] for line in cfg.log_path.read_text().splitlines() if "split" not in line]


def save_conditional_network(folder: Path, norm: str, styles: tuple[str, ...] = ("starry_night", "great_wave"),
                             seed: int = 0) -> Path:
    """A tiny conditional network (random weights, each style its own norm parameters) whose
    recorded training settings make add-style on it take seconds."""
    import torch

    from style_app.models.transformer import ZOO_ARCH, ArchConfig, TransformerNet
    from style_app.weights import save_model

    torch.manual_seed(seed)
    net = TransformerNet(norm, ArchConfig(channels=(4, 8, 8), res_blocks=1, edge_kernel=3), len(styles))
    for name, param in net.named_parameters():
        torch.nn.init.normal_(param, mean=1.0 if name.endswith(".weight") and param.dim() == 2 else 0.0, std=0.3)
    train_config = {"image_size": 32, "style_size": 64, "batch_size": 2}
    return save_model(net, folder / f"tiny_{norm}.safetensors",
                      {"styles": list(styles), "arch": ZOO_ARCH, "train_config": train_config})


@dataclass
class SmallDisk:
    """A folder where writing more than `size` bytes really fails, for full-disk tests.

    As root (this project's machines and CI) it is a tmpfs of `size` bytes: ENOSPC, "No space left
    on device", once its files together pass `size`. Elsewhere (mount refused) it is a plain folder
    and `run` limits the subprocess with RLIMIT_FSIZE: EFBIG, "File too large", when one file would
    pass `size`. Tests hold under both: what they write fits or overflows under either rule."""

    folder: Path
    size: int
    mounted: bool

    @classmethod
    def make(cls, folder: Path, size: int) -> "SmallDisk":
        folder.mkdir(parents=True, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
        return cls(folder, size, mounted)

    def resize(self, size: int) -> None:
        """More (or less) room, keeping the files."""
        if self.mounted:
            subprocess.run(["mount", "-o", f"remount,size={size}", str(self.folder)], check=True)
        self.size = size

    def run(self, argv: list[str], **env: str) -> subprocess.CompletedProcess:
        """`argv` (e.g. `python -m style_app ...`) with this disk's limit, output captured."""
        limit = None if self.mounted else self._limit_file_size
        return subprocess.run(argv, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1", **env}, text=True,
                              capture_output=True, timeout=300, preexec_fn=limit)

    def _limit_file_size(self) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, self.size))  # Python ignores SIGXFSZ: EFBIG

    def release(self) -> None:
        if self.mounted:
            subprocess.run(["umount", str(self.folder)], check=True)


#: What a write past a SmallDisk's size fails with (tmpfs, RLIMIT_FSIZE).
FULL_DISK = r"\((No space left on device|File too large)\)"
