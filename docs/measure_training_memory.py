"""RSS after each of N add-style trainings at full size, each in a new thread as the web app's
trainer runs them, before and after glibc's malloc_trim: a leak grows the trimmed figure, the
allocator's cache only the untrimmed one (docs/security.md, class 6).

    python docs/measure_training_memory.py PAINTING PHOTOS_DIR VGG_FILE [--trainings 7]
"""
from __future__ import annotations

import argparse
import ctypes
import tempfile
import threading
from pathlib import Path

from style_app.models.vgg import load_vgg
from style_app.training.add_style import add_style_config, train_style


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("painting")
    parser.add_argument("photos")
    parser.add_argument("vgg")
    parser.add_argument("--trainings", type=int, default=7)
    args = parser.parse_args()
    libc = ctypes.CDLL("libc.so.6")
    vgg = load_vgg(args.vgg)
    out = Path(tempfile.mkdtemp())
    for i in range(args.trainings):
        cfg = add_style_config(args.painting, "instance", f"mem{i}", out / f"mem{i}.safetensors", args.photos,
                               steps=3, workers=0, vgg_weights=args.vgg, image_size=256, batch_size=4)
        worker = threading.Thread(target=lambda: train_style(cfg, vgg, progress=False))
        worker.start()
        worker.join()
        untrimmed = rss_mb()
        libc.malloc_trim(0)
        print(f"training {i + 1}: RSS {untrimmed:.1f} MB, after malloc_trim {rss_mb():.1f} MB", flush=True)


if __name__ == "__main__":
    main()
