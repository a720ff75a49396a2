"""Checkpoints: written atomically with weights that are finite, read back only for the same run,
and the loss log cut back to the checkpoint's step on --resume, so a resumed run continues exactly."""
from __future__ import annotations

import io
import json
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import torch

from style_app.errors import OutputError, TrainingError
from style_app.files import write_atomically
from style_app.models.transformer import TransformerNet
from style_app.paintings import painting_paths, slug
from style_app.training.config import TrainConfig, terms_off
from style_app.training.losses import LOSS_SETTINGS

#: Settings that must match for --resume to continue the same run exactly (those its config has).
RESUME_MUST_MATCH = ("norm", "arch", "batch_size", "image_size", "seed", "zoom", "lr", "style_lr", "decay_steps",
                     "base", "every_style", *LOSS_SETTINGS)


def save_checkpoint(cfg: TrainConfig, model: TransformerNet, optimizer: torch.optim.Optimizer,
                     step: int, lead: bool, last_saved: int) -> None:
    """Write atomically (style_app.files): a kill, a full disk or a second Ctrl-C at any moment
    leaves the previous one and no temporary file.
    Non-finite weights are refused, so every checkpoint is a good one."""
    check_finite(cfg, model, step, last_saved)
    if not lead:
        return
    state = io.BytesIO()  # in memory first: torch's writer turns a full disk into a RuntimeError
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "config": asdict(cfg), "rng": torch.get_rng_state()}, state)
    try:
        write_atomically(cfg.checkpoint_path, state.getvalue())
    except OutputError as e:  # e.g. disk full: say so, and leave the previous checkpoint as it was
        raise TrainingError(f"{cfg.checkpoint_path}: cannot write checkpoint at step {step} ({e.reason}); "
                            f"the previous one is intact") from None


def check_finite(cfg: TrainConfig, model: TransformerNet, step: int, last_saved: int) -> None:
    """Refuse to save NaN/Inf weights (a finite loss can still give non-finite gradients)."""
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise TrainingError(f"weights became non-finite by step {step}; stopped, last good checkpoint: "
                            f"{describe_checkpoint(cfg, last_saved)}")


def describe_checkpoint(cfg: TrainConfig, step: int) -> str:
    return f"{cfg.checkpoint_path} (step {step})" if cfg.checkpoint_path.exists() else "none yet"


def load_checkpoint(cfg: TrainConfig, model: TransformerNet, optimizer: torch.optim.Optimizer,
            device: torch.device) -> tuple[int, torch.Tensor]:
    """Load model and optimizer; returns the step to continue from and the RNG state to restore."""
    path = cfg.checkpoint_path if cfg.resume == "auto" else Path(cfg.resume)
    if not path.is_file():
        raise TrainingError(f"{path}: no checkpoint to resume from")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles before refusing them
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location=device, weights_only=True)  # never runs pickled code
        check_same_run(cfg, path, ckpt["config"])
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        rng = ckpt["rng"].cpu()
        step = int(ckpt["step"])
    except TrainingError:
        raise
    except Exception as e:  # random bytes, a pickle, a torn file: torch raises many types
        raise TrainingError(f"{path}: unreadable checkpoint ({type(e).__name__}); delete it to start over") from None
    trimlog(cfg, step)
    return step, rng


def check_same_run(cfg: TrainConfig, path: Path, saved: dict) -> None:
    """Refuse a checkpoint of other paintings or other settings: it would not resume this run."""
    defaults = {**{f.name: f.default for f in fields(cfg)}, **terms_off()}  # keys older checkpoints lack
    clashes = [k for k in RESUME_MUST_MATCH if k in defaults and saved.get(k, defaults[k]) != getattr(cfg, k)]
    saved_styles = ([saved["name"]] if saved.get("name") else  # add-style --name: the style's own name
                    [slug(p) for p in painting_paths(saved.get("style_image") or [])])
    if saved_styles != cfg.styles:
        raise TrainingError(f"{path}: checkpoint was trained on the paintings {', '.join(saved_styles)}, "
                            f"not {', '.join(cfg.styles)}")
    if clashes:
        raise TrainingError(f"{path}: checkpoint was trained with different "
                            + ", ".join(f"{k} ({saved.get(k)} vs {getattr(cfg, k)})" for k in clashes))


def trimlog(cfg: TrainConfig, step: int) -> None:
    """Keep the log lines up to the checkpoint's step; drop later ones and any torn line (a kill
    mid-write)."""
    if not cfg.log_path.exists():
        return
    kept = []
    for line in cfg.log_path.read_text(errors="replace").splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    try:
        write_atomically(cfg.log_path, "".join(line + "\n" for line in kept).encode())
    except OutputError as e:
        raise TrainingError(str(e)) from None
