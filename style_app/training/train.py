"""Train a style network from paintings: data -> perceptual loss -> step -> log -> checkpoint.

`train` is the loop, read top to bottom; what it stands on lives beside it: the settings
(config), checkpoints and resume (checkpoints), the loss log and the file's metadata (records),
the lock and the stop signals (guards) and data parallelism (distributed). A `Network` says what
trains and how the result is written: a new network here, one more style of an existing
conditional network in style_app.training.add_style, which calls the same loop.
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from style_app.errors import ImageError, Interrupted, OutputError, StyleAppError, TrainingError, WeightsError
from style_app.files import check_file_output, check_outputs_apart, check_writable, stale_temp_files
from style_app.images import fit_within, list_images, open_image, to_tensor
from style_app.models.norms import style_parameters
from style_app.models.transformer import TransformerNet
from style_app.models.vgg import WEIGHTS_ENV as VGG_WEIGHTS_ENV, VGGFeatures, VGGWeightsError, load_vgg
from style_app.paintings import check_painting
from style_app.runtime import autocast, autocast_dtype, memory_format_for, resolve_device
from style_app.training import bn_statistics, distributed
from style_app.training.checkpoints import describe_checkpoint, load_checkpoint, save_checkpoint
from style_app.training.config import TrainConfig, loss_terms
from style_app.training.data import ContentImages, StepBatches
from style_app.training.guards import (StopRequests, ignore_interrupts, only_writer, until_stopped,
                                       without_worker_traceback)
from style_app.training.losses import PerceptualLoss
from style_app.training.records import LossWindow, log, metadata
from style_app.weights import arch_of, file_styles, load_model, save_model

__all__ = ["Network", "TrainConfig", "lr_factor", "train"]
LR_FLOOR = 0.1  # with decay_steps: the rates' share left at the end of the decay
VAL_IMAGES = 16


@dataclass
class Network:
    """What a run trains and how it is written: `model`, the style index each painting trains
    (`rows`), `save(model, metadata) -> path` for the finished file, and `start(model, loss_fn,
    photos) -> record`, run once before the first step of a fresh run (its record is logged)."""

    model: TransformerNet
    rows: list[int]
    save: Callable[[TransformerNet, dict], Path]
    start: Callable[[TransformerNet, PerceptualLoss, ContentImages], dict] | None = None


def new_network(cfg: TrainConfig) -> Network:
    """A network of `cfg`'s norm, architecture and paintings: fresh, or from --warm-start."""
    model = (_warm_start(cfg) if cfg.warm_start and not cfg.resume  # a resumed run's weights: its checkpoint
             else TransformerNet(cfg.norm, cfg.arch, len(cfg.styles)))
    return Network(model, list(range(len(cfg.styles))), lambda model, meta: save_model(model, cfg.out, meta))


@dataclass
class _Run:
    """A training run in progress: built by `_set_up`, advanced by `_step`, saved by `_finish`."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    amp_dtype: torch.dtype | None
    memory_format: torch.memory_format
    network: Network
    net: nn.Module  # the model, wrapped for data parallelism when world > 1
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    loss_fns: list[PerceptualLoss]  # one per painting
    loader: DataLoader
    val_photos: torch.Tensor | None
    step: int
    last_saved: int
    window: LossWindow = field(default_factory=LossWindow)

    @property
    def model(self) -> TransformerNet:
        return self.network.model

    @property
    def rows(self) -> list[int]:
        return self.network.rows

    @property
    def lead(self) -> bool:
        """The process that logs and writes files (rank 0)."""
        return self.rank == 0


def train(cfg: TrainConfig, vgg: VGGFeatures | None = None, progress: bool = True,
          stop: threading.Event | None = None, on_step: Callable[[int, TransformerNet], None] | None = None,
          network: Callable[[TrainConfig], Network] = new_network) -> Path:
    """Train (or resume) the `network(cfg)` and write `cfg.out`; returns its path. Raises TrainingError.

    Setting `stop` (from another thread) stops like Ctrl-C: a checkpoint, then Interrupted.
    `on_step(step, model)` runs after every step, between steps, in the training thread."""
    _check_output(cfg)
    _check_paintings(cfg)
    with only_writer(cfg.out):
        run = _set_up(cfg, vgg, network)
        bar = tqdm(total=cfg.steps, initial=run.step, disable=not (run.lead and progress), unit="step",
                   dynamic_ncols=True, desc=f"{'+'.join(cfg.styles)}/{cfg.norm}")
        try:
            with StopRequests(stop) as requests:
                for batch in until_stopped(run.loader, requests):
                    run.window.add(_step(run, batch))
                    bar.update(1)
                    if on_step is not None:
                        on_step(run.step, run.model)
                    if run.step % cfg.log_every == 0 or run.step == cfg.steps:
                        record, rate = run.window.flush(cfg.batch_size * run.world)
                        if run.lead:
                            bar.set_postfix(**{k: f"{v:.4g}" for k, v in record.items()}, img_s=f"{rate:.1f}")
                            log(cfg, {"step": run.step, **record, "images_per_s": round(rate, 2)})
                    if run.step % cfg.checkpoint_every == 0 and run.step < cfg.steps:
                        _checkpoint(run)
                if requests.requested and run.step < cfg.steps:  # between steps: model, optimizer, step agree
                    if run.last_saved != run.step:
                        _checkpoint(run, validate=False)
                    raise Interrupted(f"interrupted at step {run.step}; checkpoint saved to {cfg.checkpoint_path}; "
                                      f"continue with --resume")
        except KeyboardInterrupt:  # a second Ctrl-C: mid-step, so the model may be half updated; keep the old one
            raise Interrupted(f"interrupted twice at step {run.step}, not saved; last checkpoint: "
                              f"{describe_checkpoint(cfg, run.last_saved)}; continue with --resume") from None
        except TrainingError as e:
            raise without_worker_traceback(e) from None
        finally:
            bar.close()
        return _finish(run)


def _set_up(cfg: TrainConfig, vgg: VGGFeatures | None, network: Callable[[TrainConfig], Network]) -> _Run:
    """Device and ranks, model and optimizer (fresh or from the checkpoint), losses and data."""
    device, rank, world = distributed.set_up(resolve_device(cfg.device))
    amp_dtype = autocast_dtype(device) if cfg.fast else None
    memory_format = memory_format_for(amp_dtype)
    torch.manual_seed(cfg.seed)
    net = network(cfg)
    net.model = net.model.to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(_parameter_groups(net.model, cfg), lr=cfg.lr)
    start, rng = load_checkpoint(cfg, net.model, optimizer, device) if cfg.resume else (0, None)
    if rank == 0:
        for stale in stale_temp_files(cfg.checkpoint_path) + stale_temp_files(cfg.out):
            stale.unlink(missing_ok=True)  # left by a kill mid-write
        if not cfg.resume:
            cfg.log_path.unlink(missing_ok=True)
    loss_fns = _loss_functions(cfg, vgg, device, memory_format)  # draws painting samples from the seeded RNG,
    if rng is not None:  # so a resumed run restores the checkpoint's RNG only after them
        torch.set_rng_state(rng)
    photos = ContentImages(list_images(cfg.content_dir), cfg.image_size, cfg.zoom)
    if net.start is not None and not cfg.resume:
        record = net.start(net.model, loss_fns[0], photos)
        if rank == 0:
            log(cfg, {"step": 0, "split": "init", **record})
    batches = StepBatches(len(photos), cfg.batch_size, cfg.seed, start, cfg.steps, rank, world)
    # its own generator: a loader draws a seed from the global RNG, which a resumed run has already restored
    loader = DataLoader(photos, batch_sampler=batches, num_workers=cfg.workers, worker_init_fn=ignore_interrupts,
                        persistent_workers=False, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(cfg.seed))
    val_photos = _validation_batch(cfg, device) if cfg.val_dir and rank == 0 else None
    return _Run(cfg, device, rank, world, amp_dtype, memory_format, net, distributed.wrap(net.model, world),
                optimizer, torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16), loss_fns, loader,
                val_photos, step=start, last_saved=start)


def _parameter_groups(model: TransformerNet, cfg: TrainConfig) -> list[dict]:
    """What trains, at which rate: with `style_lr`, the per-style scale and shift of the
    conditional norm layers get their own (a style can only differ there, and Adam moves a
    parameter by about its rate per step, so at the network's rate the styles part slowly)."""
    trained = [p for p in model.parameters() if p.requires_grad]
    if cfg.style_lr is None:
        return [{"params": trained}]
    per_style = {id(p) for p in style_parameters(model)}
    return [{"params": [p for p in trained if id(p) not in per_style]},
            {"params": [p for p in trained if id(p) in per_style], "lr": cfg.style_lr}]


def lr_factor(step: int, decay_steps: int) -> float:
    """The share of its base rate each parameter group trains step `step` + 1 at: 1 throughout
    without decay; with it a half cosine from 1 at step 0 to LR_FLOOR at `decay_steps`, then level.
    A function of the step alone, so a run resumed in segments trains at the same rates."""
    if not decay_steps:
        return 1.0
    t = min(step / decay_steps, 1.0)
    return LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * t))


def _warm_start(cfg: TrainConfig) -> TransformerNet:
    """The network in `cfg.warm_start`, to train further (a new loss, a larger size): it must be
    the network `cfg` describes, with the same paintings in the same order."""
    try:
        model, meta = load_model(cfg.warm_start)
    except WeightsError as e:
        raise TrainingError(str(e)) from None
    found = (meta["norm"], arch_of(meta), file_styles(meta))
    if found != (cfg.norm, cfg.arch, cfg.styles):
        raise TrainingError(f"--warm-start {Path(cfg.warm_start).name} is a {found[0]} {found[1]} network of "
                            f"{', '.join(found[2])}; this run trains a {cfg.norm} {cfg.arch} network of "
                            f"{', '.join(cfg.styles)}")
    return model.train()


def _check_output(cfg: TrainConfig) -> None:
    """Refuse an --out that cannot be written (a folder, a read-only filesystem) or that would
    overwrite one of the run's inputs (style_app.files) before training, not after it, and before
    its lock file is made beside it."""
    base = getattr(cfg, "base", None)  # add-style's network
    try:
        check_file_output("--out", cfg.out)
        check_outputs_apart({"--out": [cfg.out, cfg.checkpoint_path, cfg.log_path,
                                     Path(cfg.out).with_suffix(".lock")]},
                            {"the painting": cfg.style_image, "--content-dir": cfg.content_dir,
                             "--val-dir": cfg.val_dir,
                             "--vgg-weights": cfg.vgg_weights or os.environ.get(VGG_WEIGHTS_ENV), "--base": base,
                             "--warm-start": cfg.warm_start})
        check_file_output("--out", cfg.out, ".safetensors" if base else None)
        check_writable(cfg.out)
    except OutputError as e:
        raise TrainingError(f"{e}; training not started") from None
    except StyleAppError as e:
        raise TrainingError(str(e)) from None


def _check_paintings(cfg: TrainConfig) -> None:
    """Refuse a painting the losses cannot learn from (too small, too thin, flat) before any work."""
    for path in cfg.style_image:
        if not Path(path).is_file():
            continue  # a missing one is reported where it is read, after the checkpoint's own checks
        try:
            check_painting(open_image(path), path, cfg.style_size)
        except ImageError as e:
            raise TrainingError(str(e)) from None


def _loss_functions(cfg: TrainConfig, vgg: VGGFeatures | None, device: torch.device,
                    memory_format: torch.memory_format) -> list[PerceptualLoss]:
    """One perceptual loss per painting, all sharing one loss network."""
    try:
        vgg = (vgg or load_vgg(cfg.vgg_weights)).to(device, memory_format=memory_format)
        paintings = [to_tensor(fit_within(open_image(p), cfg.style_size)).to(device) for p in cfg.style_image]
    except (VGGWeightsError, ImageError) as e:
        raise TrainingError(str(e)) from None
    return [PerceptualLoss(vgg, painting, loss_terms(cfg))
            for painting in paintings]


def _step(run: _Run, batch: torch.Tensor) -> dict[str, torch.Tensor]:
    """One optimizer step on `batch`; returns its loss terms. A conditional network trains its paintings in turn, or with
    `every_style` all of them on the same photos (the mean of their losses), so that the shared
    convolutions never follow one painting alone."""
    x = batch.to(run.device, non_blocking=True).contiguous(memory_format=run.memory_format)
    styles = range(len(run.loss_fns)) if run.cfg.every_style else [run.step % len(run.loss_fns)]
    run.optimizer.zero_grad(set_to_none=True)
    for group in run.optimizer.param_groups:  # base_lr: the rate it was made with (kept in checkpoints)
        group["lr"] = group.setdefault("base_lr", group["lr"]) * lr_factor(run.step, run.cfg.decay_steps)
    with autocast(run.device, run.amp_dtype):
        targets = run.loss_fns[0].photo_targets(x)  # the same for every painting (one loss network)
    mean: dict[str, torch.Tensor] = {}
    for style in styles:
        if run.model.num_styles > 1:
            run.model.set_style(run.rows[style])
        with autocast(run.device, run.amp_dtype):
            losses = run.loss_fns[style](run.net(x), x, targets)
        if not torch.isfinite(losses["total"]):
            raise TrainingError(f"loss became {losses['total'].item()} at step {run.step + 1}; stopped, last good "
                                f"checkpoint: {describe_checkpoint(run.cfg, run.last_saved)}")
        run.scaler.scale(losses["total"] / len(styles)).backward()
        mean = {k: mean.get(k, 0) + v.detach() / len(styles) for k, v in losses.items()}
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.step += 1
    return mean


def _checkpoint(run: _Run, validate: bool = True) -> None:
    """Validation losses (with --val-dir), then a checkpoint."""
    if validate and run.val_photos is not None:
        log(run.cfg, {"step": run.step, "split": "val", **_evaluate(run)})
    save_checkpoint(run.cfg, run.model, run.optimizer, run.step, run.lead, run.last_saved)
    run.last_saved = run.step


def _finish(run: _Run) -> Path:
    """The last checkpoint, final validation and the weights file (written by the lead process)."""
    cfg = run.cfg
    save_checkpoint(cfg, run.model, run.optimizer, run.step, run.lead, run.last_saved)
    if not run.lead:
        distributed.finish(run.world)
        return Path(cfg.out)
    recalibrated = {}
    if cfg.bn_stats_size and bn_statistics.batch_norm_layers(run.model):
        photos = bn_statistics.calibration_photos(cfg.content_dir, cfg.bn_stats_size)
        bn_statistics.recalibrate(run.model, photos, run.rows)
        recalibrated = {"bn_statistics": bn_statistics.header(photos)}
    val = _evaluate(run) if run.val_photos is not None else None
    if val:
        log(cfg, {"step": run.step, "split": "val", **val})
    try:
        path = run.network.save(run.model, {**metadata(cfg, run.step, val), **recalibrated})
    except OutputError as e:
        raise TrainingError(f"{cfg.out}: cannot write the weights ({e.reason}); the checkpoint at step {run.step} "
                            f"is kept: free space, then run again with --resume") from None
    distributed.finish(run.world)
    return path


def _validation_batch(cfg: TrainConfig, device: torch.device) -> torch.Tensor:
    return ContentImages(list_images(cfg.val_dir)[:VAL_IMAGES], cfg.image_size).centre_crops().to(device)


@torch.no_grad()
def _evaluate(run: _Run) -> dict[str, float]:
    """Mean loss terms on the held-out photos over all styles, in eval mode (BN uses its running
    statistics)."""
    model, photos = run.model, run.val_photos
    model.eval()
    totals: dict[str, float] = {}
    with autocast(run.device, run.amp_dtype):
        targets = run.loss_fns[0].photo_targets(photos)
    for style, loss_fn in enumerate(run.loss_fns):
        if model.num_styles > 1:
            model.set_style(run.rows[style])
        with autocast(run.device, run.amp_dtype):
            for k, v in loss_fn(model(photos), photos, targets).items():
                totals[k] = totals.get(k, 0.0) + v.item() / len(run.loss_fns)
    model.train()
    return {f"val_{k}": round(v, 6) for k, v in totals.items()}
