"""Time-to-quality of `style-app add-style` (norm parameters only) against `style-app train` from
scratch, for docs/add_style.md.

Each run advances in segments (`--steps N --resume`: batches are a pure function of seed and
step, so a segmented run ends where an uninterrupted one would). After each segment the file is
scored on held-out photos with `style-app evaluate` (not counted in the time), and a row goes to
<out>/curves.jsonl: wall and CPU minutes so far, Gram style ratio, palette ratio, content loss;
a later invocation with further steps continues the run and its clock. Both runs use the base
network's own architecture and training settings (crop size, batch, loss), so they optimize the
same loss at the same size.
`--grid-at` also keeps the evaluate grid at those steps. Finally <out>/curves.md and
<out>/<painting>_curves.png show the curves.

    python docs/measure_add_style.py PAINTING --content-dir data/train --val-dir data/val12 \\
        --vgg-weights VGG --out runs/add_style --base instance \\
        --add-steps 50 100 200 400 800 --train-steps 100 200 400 800 1600 2400 --grid-at 400 2400
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

MEASURES = ("style_ratio", "palette_ratio", "content_loss")
COLOURS = {"add-style": "#d62728", "train": "#1f77b4"}


def cli(*args: str) -> float:
    """Run `python -m style_app ARGS`; returns the CPU seconds (user + system) it took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "style_app", *args], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def base_settings(base: str) -> tuple[str, str, dict]:
    """The base network's norm, architecture and own training settings (crop size, batch, loss and
    its weights): add-style uses them by default, and `train` from scratch gets the same, so both
    runs optimize the same loss at the same size with the same network."""
    from style_app.training import add_style
    from style_app.weights import arch_of, read_metadata

    meta = read_metadata(add_style.resolve_base(base))
    return meta["train_config"]["norm"], arch_of(meta), add_style.base_settings(meta)


def command(mode: str, steps: int, out: Path, a: argparse.Namespace) -> list[str]:
    """The add-style or train command line that brings `out` to `steps` steps."""
    same = [item for key, value in a.settings.items()  # a list (--laplacian-pools 4 8 16) as several values
            for item in ("--" + key.replace("_", "-"), *map(str, value if isinstance(value, list) else [value]))]
    common = ["--steps", str(steps), "--content-dir", a.content_dir, *same,
              "--vgg-weights", a.vgg_weights, "--out", str(out), "--checkpoint-every", str(max(steps, 1)),
              "--quiet", *(["--resume"] if out.with_suffix(".ckpt").exists() else [])]
    if mode == "add-style":
        return ["add-style", a.painting, "--base", a.base, *common, *a.add_style_flags.split()]
    return ["train", "--style-image", a.painting, "--norm", a.norm, "--arch", a.arch, *common, *a.train_flags.split()]


def score(out: Path, grid: Path | None, a: argparse.Namespace) -> dict:
    """`style-app evaluate` of one file on the held-out photos."""
    scores = out.with_suffix(".scores.json")
    cli("evaluate", "--weights", str(out), "--content-dir", a.val_dir, "--style-dir", str(Path(a.painting).parent),
        "--vgg-weights", a.vgg_weights, "--size", str(a.eval_size), "--json", str(scores),
        *(["--limit", str(a.eval_limit)] if a.eval_limit else []), *(["--grid", str(grid)] if grid else []))
    row = json.loads(scores.read_text())[0]
    return {k: row[k] for k in MEASURES}


def read_rows(out: str) -> list[dict]:
    """The rows of <out>/curves.jsonl so far (none before the first segment)."""
    log = Path(out) / "curves.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def clock(mode: str, a: argparse.Namespace) -> tuple[float, float]:
    """Wall and CPU seconds the run already took: its last row in <out>/curves.jsonl, so a later
    invocation with further steps continues the run's clock instead of restarting it."""
    done = [r for r in read_rows(a.out) if r["mode"] == mode and r["painting"] == Path(a.painting).stem]
    last = max(done, key=lambda r: r["steps"], default={"wall_min": 0.0, "cpu_min": 0.0})
    return last["wall_min"] * 60, last["cpu_min"] * 60


def measure(mode: str, schedule: list[int], a: argparse.Namespace) -> None:
    """Advance one run segment by segment, scoring it after each into <out>/curves.jsonl."""
    out, (wall, cpu) = Path(a.out) / mode / f"{Path(a.painting).stem}.safetensors", clock(mode, a)
    for steps in schedule:
        start = time.perf_counter()
        cpu += cli(*command(mode, steps, out, a))
        wall += time.perf_counter() - start
        grid = Path(a.out) / mode / f"grid_{steps}" if steps in a.grid_at else None
        row = {"painting": Path(a.painting).stem, "mode": mode, "norm": a.norm, "image_size": a.settings["image_size"],
               "steps": steps, "wall_min": round(wall / 60, 2), "cpu_min": round(cpu / 60, 2), **score(out, grid, a)}
        if grid:
            shutil.copy(grid / f"{row['painting']}.jpg", Path(a.out) / f"{row['painting']}_{mode}_{steps}.jpg")
        with open(Path(a.out) / "curves.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


def table(rows: list[dict]) -> str:
    lines = ["| painting | run | steps | wall min | CPU min | Gram style ratio | palette ratio | content loss |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['painting']} | {r['mode']} | {r['steps']} | {r['wall_min']:.1f} | {r['cpu_min']:.1f} | "
              f"{r['style_ratio']:.3f} | {r['palette_ratio']:.3f} | {r['content_loss']:.3f} |" for r in rows]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, size: tuple[int, int] = (420, 300)) -> None:
    """One panel per measure against wall minutes, a line per run (PIL: no plotting library needed)."""
    w, h, pad = *size, 40
    image = Image.new("RGB", (w * len(MEASURES), h), "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=12)
    x_max = max(r["wall_min"] for r in rows) or 1
    for i, measure_name in enumerate(MEASURES):
        values = [r[measure_name] for r in rows]
        low, high = min(values), max(values) if max(values) > min(values) else min(values) + 1
        to_xy = lambda r: (i * w + pad + (w - 2 * pad) * r["wall_min"] / x_max,  # noqa: E731
                           h - pad - (h - 2 * pad) * (r[measure_name] - low) / (high - low))
        draw.rectangle((i * w + pad, pad, (i + 1) * w - pad, h - pad), outline="grey")
        draw.text((i * w + pad, 8), f"{measure_name} ({low:.3f}-{high:.3f}) vs wall minutes (0-{x_max:.1f})",
                  fill="black", font=font)
        for mode, colour in COLOURS.items():
            points = [to_xy(r) for r in rows if r["mode"] == mode]
            if len(points) > 1:
                draw.line(points, fill=colour, width=2)
            for x, y in points:
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
            draw.text((i * w + pad + 4, h - pad - 16 - 14 * list(COLOURS).index(mode)), mode, fill=colour, font=font)
    image.save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("painting")
    for flag in ("--content-dir", "--val-dir", "--vgg-weights", "--out"):
        p.add_argument(flag, required=True)
    p.add_argument("--base", default="instance", help="a norm (its shipped conditional network) or a network file")
    p.add_argument("--add-steps", type=int, nargs="+", default=[50, 100, 200, 400])
    p.add_argument("--train-steps", type=int, nargs="+", default=[100, 200, 400, 800, 1200])
    p.add_argument("--grid-at", type=int, nargs="*", default=[])
    p.add_argument("--add-style-flags", default="", help="more flags for add-style, e.g. '--lr 3e-2'")
    p.add_argument("--train-flags", default="", help="more flags for train, e.g. '--palette-weight 50' (the same loss "
                                                     "as an add-style run given it)")
    p.add_argument("--eval-size", type=int, default=512, help="held-out photos' shorter side")
    p.add_argument("--eval-limit", type=int, help="only the first N held-out photos")
    p.add_argument("--runs", nargs="+", choices=list(COLOURS), default=list(COLOURS),
                   help="which runs to advance now (`train` needs only the base's settings, so it can run "
                        "while the base trains); the table and plot show every row of <out>/curves.jsonl")
    a = p.parse_args()
    a.norm, a.arch, a.settings = base_settings(a.base)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for mode in a.runs:
        measure(mode, a.add_steps if mode == "add-style" else a.train_steps, a)
    rows = read_rows(a.out)
    (Path(a.out) / "curves.md").write_text(table(rows))
    plot(rows, Path(a.out) / f"{Path(a.painting).stem}_curves.png")
    print(table(rows))


if __name__ == "__main__":
    main()
