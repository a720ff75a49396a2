"""How fast the CLI answers, end to end, as a user types it: `style-app --help`, `style-app list` and
`style-app stylize` of a 512 px photo, each a fresh process (interpreter start-up, imports, model
load, inference, writing the PNG), timed from outside. Prints min / median / max per command and
the machine's load; quote the median, and the load beside it.

    python scripts/bench_cli.py                     # 7 runs each after one warm-up (warm file cache)
    python scripts/bench_cli.py --runs 15 --baseline /tmp/main_checkout   # also another checkout, interleaved

Targets (issue 47): --help and list under 1.5 s, stylize of a 512 px photo under 3 s."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGETS = {"--help": 1.5, "list": 1.5, "stylize 512 px": 3.0}


def photo_512(folder: Path) -> Path:
    """A 512 px photo (longer side) from the sample images that ship inside gradio."""
    from gradio.media import get_image
    from PIL import Image

    image = Image.open(get_image("tower.jpg")).convert("RGB")
    scale = 512 / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
    path = folder / "photo512.jpg"
    image.save(path, quality=92)
    return path


def commands(photo: Path, out: Path) -> dict[str, list[str]]:
    return {"--help": ["--help"], "list": ["list"],
            "stylize 512 px": ["stylize", str(photo), "--style", "starry_night", "--norm", "instance", "-o", str(out)]}


def time_once(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "style_app", *argv], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(cwd)})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed in {cwd}: {done.stderr.strip().splitlines()[-1:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (after one warm-up)")
    parser.add_argument("--baseline", type=Path, help="another checkout (e.g. main), timed in turn with this one")
    args = parser.parse_args()
    trees = {"this checkout": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    with tempfile.TemporaryDirectory() as tmp:
        photo = photo_512(Path(tmp))
        jobs = commands(photo, Path(tmp) / "out.png")
        print(f"machine: {os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}; photo "
              f"{photo.name}; {args.runs} runs after 1 warm-up; seconds, whole process")
        print(f"{'command':<16} {'tree':<14} {'min':>6} {'median':>7} {'max':>6}  target")
        for name, argv in jobs.items():
            times: dict[str, list[float]] = {tree: [] for tree in trees}
            for tree, cwd in trees.items():
                time_once(argv, cwd)  # warm-up: file cache, .pyc files
            for _ in range(args.runs):
                for tree, cwd in trees.items():  # in turn, so a change of load hits both alike
                    times[tree].append(time_once(argv, cwd))
            for tree, seconds in times.items():
                median = statistics.median(seconds)
                verdict = "met" if median < TARGETS[name] else "NOT met"
                print(f"{name:<16} {tree:<14} {min(seconds):6.2f} {median:7.2f} {max(seconds):6.2f}  "
                      f"< {TARGETS[name]} s: {verdict}", flush=True)
        print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
