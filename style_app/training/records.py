"""The run's records: the loss log (one JSON line per --log-every steps, validation and start-up
lines too), the loss sums between its lines, and the metadata the weights file carries."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch

from style_app.errors import OutputError, TrainingError
from style_app.files import append_line
from style_app.paintings import describe
from style_app.training.config import TrainConfig

PATH_FIELDS = ("style_image", "content_dir", "val_dir", "vgg_weights", "base", "warm_start")  # kept as file names
CURVE_POINTS = 200  # loss-curve points kept in the weights file's metadata


def log(cfg: TrainConfig, record: dict) -> None:
    """One line of the loss log; a failed write leaves no torn line and stops with one line."""
    try:
        append_line(cfg.log_path, json.dumps(record))
    except OutputError as e:
        kept = f"{cfg.checkpoint_path} is kept" if cfg.checkpoint_path.exists() else "no checkpoint yet"
        raise TrainingError(f"{cfg.log_path}: cannot write the loss log at step {record['step']} ({e.reason}); "
                            f"{kept}; free space, then continue with --resume") from None


@dataclass
class LossWindow:
    """Loss sums since the last log line (a conditional network: all its styles), and their rate."""

    sums: dict[str, torch.Tensor] = field(default_factory=dict)
    steps: int = 0
    start: float = field(default_factory=time.perf_counter)

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        self.sums = {k: self.sums.get(k, 0) + v.detach() for k, v in losses.items()}
        self.steps += 1

    def flush(self, images_per_step: int) -> tuple[dict[str, float], float]:
        """The mean of each loss term and the images per second since the last flush; restarts."""
        rate = self.steps * images_per_step / (time.perf_counter() - self.start)
        record = {k: round(v.item() / self.steps, 6) for k, v in self.sums.items()}
        self.sums, self.steps, self.start = {}, 0, time.perf_counter()
        return record, rate


def metadata(cfg: TrainConfig, step: int, val: dict | None) -> dict:
    records = [json.loads(line) for line in cfg.log_path.read_text().splitlines() if line.strip()]
    train_records = [r for r in records if "split" not in r]
    init = next((r for r in records if r.get("split") == "init"), None)
    tail = train_records[-10:]
    terms = [k for k in (tail[0] if tail else {}) if k not in ("step", "images_per_s")]  # the loss's terms
    final = {k: round(sum(r[k] for r in tail) / len(tail), 6) for k in terms}
    if val:
        final.update(val)
    stride = max(1, math.ceil(len(train_records) / CURVE_POINTS))
    curve = [[r["step"], r["total"], r["content"], r["style"], r["tv"]] for r in train_records[::stride]]
    config = {f.name: file_names(getattr(cfg, f.name)) if f.name in PATH_FIELDS else getattr(cfg, f.name)
              for f in fields(cfg) if f.name not in ("resume", "out")}
    styles = ({"style": cfg.styles[0], **describe(cfg.styles[0])} if len(cfg.styles) == 1 else
              {"styles": cfg.styles, "paintings": [{"style": s, **describe(s)} for s in cfg.styles]})
    return {**styles, "arch": cfg.arch, "steps": step, "train_config": config, "final_losses": final,
            "loss_curve": curve, **({"init": init["init"]} if init else {})}


def file_names(value: str | list[str] | None) -> str | list[str] | None:
    """A path's last part: a network file says what it was trained from, never where that lay."""
    if isinstance(value, list):
        return [Path(v).name for v in value]
    return Path(value).name if value else value
