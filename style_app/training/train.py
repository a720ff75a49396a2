"""Train a style network from paintings: data -> perceptual loss -> checkpoint -> weights.

One config object and one loop you can read top to bottom (`train`): `_set_up` builds the run,
`_step` advances it, `_finish` saves it. Runs on CPU, CUDA or MPS, and data-parallel when
started under `torchrun` (gloo on CPU, nccl on GPU). With `base`, the same loop learns one more
style for an existing conditional network, its norm parameters only (style_app.training.add_style).
"""
from __future__ import annotations

import contextlib
import fcntl
import io
import json
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from style_app.models.norms import style_parameters
from style_app.models.transformer import ZOO_ARCH, TransformerNet
from style_app.models.vgg import WEIGHTS_ENV as VGG_WEIGHTS_ENV, VGGFeatures, VGGWeightsError, load_vgg
from style_app.training import add_style, bn_statistics
from style_app.training.data import ContentImages, StepBatches
from style_app.errors import ImageError, Interrupted, OutputError, StyleAppError, TrainingError, WeightsError
from style_app.files import append_line, check_writable, stale_temp_files, write_atomically
from style_app.images import fit_within, list_images, open_image, to_tensor
from style_app.training.losses import (GRAM_LAYERS, GRAM_WEIGHT, LAPLACIAN_MODES, LAPLACIAN_POOLS, LAPLACIAN_SIDE,
                                       LOSS_SETTINGS, STYLE_LAYERS, TERMS_OFF, TEXTURE_WEIGHT, PerceptualLoss)
from style_app.paintings import check_painting, describe, painting_paths, slug
from style_app.files import check_file_output, check_outputs_apart
from style_app.runtime import autocast, autocast_dtype, memory_format_for, resolve_device
from style_app.style_files import save_style
from style_app.weights import arch_of, file_styles, load_model, save_model

#: Settings that must match for --resume to continue the same run exactly.
RESUME_MUST_MATCH = ("norm", "arch", "batch_size", "image_size", "seed", "zoom", "lr", "style_lr", "decay_steps",
                     "base", "every_style", *LOSS_SETTINGS)
PATH_FIELDS = ("style_image", "content_dir", "val_dir", "vgg_weights", "base", "warm_start")  # kept as file names
LR_FLOOR = 0.1  # with decay_steps: the rates' share left at the end of the decay
CURVE_POINTS = 200  # loss-curve points kept in the weights file's metadata
VAL_IMAGES = 16


@dataclass
class TrainConfig:
    style_image: list[str]  # the paintings; several: one network conditioned on style (StyleConditional)
    content_dir: str
    out: str
    norm: str = "instance"
    arch: str = ZOO_ARCH
    steps: int = 350
    batch_size: int = 4
    image_size: int = 256
    zoom: float = 1.0  # crops from photos resized to a shorter side of image_size..zoom*image_size
    style_size: int = 512
    content_weight: float = 1.0
    style_weight: float = 20.0
    tv_weight: float = 10.0
    laplacian_weight: float = 2.0  # keep the photo's coarse contours: no new ones (blobs)
    laplacian_pools: tuple[int, ...] | None = None  # the scales it compares at (the mean); None: LAPLACIAN_POOLS
    laplacian_mode: str = "stronger"  # which contours pay: only those stronger than the photo's (no halos), or
    #                                  "both": any unlike the photo's (losses.LAPLACIAN_MODES)
    content_layer: str = "relu2_2"
    style_loss: str = "sliced-texture"  # or "gram", "sliced", "sliced-batch", "sliced-tiles" (losses.STYLE_LOSSES)
    style_layers: tuple[str, ...] = STYLE_LAYERS  # the VGG layers the style loss compares
    texture_weight: float = TEXTURE_WEIGHT  # sliced-texture: the texture term's share beside the colours
    gram_weight: float | None = None  # a sliced loss: each picture's Gram matrices against the painting's
    #                                   too (None: GRAM_WEIGHT beside a sliced loss, 0 with the Gram loss)
    gram_layers: tuple[str, ...] = GRAM_LAYERS  # the VGG layers the Gram term compares
    contrast_weight: float = 0.5  # a picture paler than its photo (luminance std) pays this much
    contrast_window: int = 0  # ... measured in squares of this many pixels (0: the whole picture)
    mean_colour_weight: float = 10.0  # the batch's mean colour away from the painting's pays this much
    tone_weight: float = 2.0  # a picture keeping its photo's coarse lights and darks weaker pays this much
    palette_weight: float = 0.0  # the batch's RGB pixels distributed unlike the painting's pay this much
    lr: float = 1e-3
    style_lr: float | None = 1e-2  # a conditional network's per-style scale and shift (None: lr)
    decay_steps: int = 0  # the rates fall along a half cosine to LR_FLOOR of themselves by this step (0: constant)
    seed: int = 42
    device: str = "auto"
    vgg_weights: str | None = None
    checkpoint_every: int = 200
    resume: str | None = None  # a checkpoint path, or "auto" for the one beside --out
    val_dir: str | None = None
    fast: bool = True  # bf16 autocast + channels_last on CPUs with native bf16, AMP on CUDA
    workers: int = 1
    log_every: int = 10
    base: str | None = None  # a conditional network: learn one more style for it, norm parameters only
    init: str | None = None  # with base: start from this style of it, "mean", or "auto"/None (the lower loss)
    name: str | None = None  # the style's slug, for one painting (default: its file name)
    warm_start: str | None = None  # a network file of the same norm, arch and paintings: start from its weights
    every_style: bool = True  # several paintings: each step trains all of them on its photos, not one in turn
    bn_stats_size: int = bn_statistics.SIZE  # batch norm: running statistics measured again at this size (0: no)

    def __post_init__(self) -> None:
        self.style_image = painting_paths(self.style_image)  # one path given alone counts as a list
        if (self.name or self.base) and len(self.style_image) != 1:
            raise TrainingError("--name and --base take one painting")
        if self.laplacian_pools is None:  # the default scales a crop of this size holds (4 always does)
            self.laplacian_pools = tuple(k for k in LAPLACIAN_POOLS if self.image_size // k >= LAPLACIAN_SIDE)
        self.laplacian_pools = tuple(self.laplacian_pools)
        self.gram_layers = tuple(self.gram_layers)
        self.style_layers = tuple(self.style_layers)
        if set(self.style_layers) - set(STYLE_LAYERS) or not self.style_layers:
            raise TrainingError(f"--style-layers: choose among {', '.join(STYLE_LAYERS)}")
        if self.gram_weight is None:
            self.gram_weight = 0.0 if self.style_loss == "gram" else GRAM_WEIGHT
        if set(self.gram_layers) - set(STYLE_LAYERS) or not self.gram_layers:
            raise TrainingError(f"--gram-layers: choose among {', '.join(STYLE_LAYERS)}")
        if self.gram_weight and self.style_loss == "gram":
            raise TrainingError("--gram-weight adds a Gram term beside a sliced --style-loss; "
                                "with --style-loss gram raise --style-weight instead")
        if self.laplacian_mode not in LAPLACIAN_MODES:
            raise TrainingError(f"--laplacian-mode {self.laplacian_mode}: choose among {', '.join(LAPLACIAN_MODES)}")
        if self.contrast_window > self.image_size:
            raise TrainingError(f"--contrast-window {self.contrast_window}: larger than the {self.image_size} px crops")
        too_coarse = [k for k in self.laplacian_pools if self.image_size // k < LAPLACIAN_SIDE]
        if self.laplacian_weight and too_coarse:
            raise TrainingError(f"--laplacian-pools {too_coarse[0]}: a {self.image_size} px crop pooled that much is "
                                f"smaller than the 3x3 Laplacian; use at most {self.image_size // LAPLACIAN_SIDE}")

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.out).with_suffix(".ckpt")

    @property
    def log_path(self) -> Path:
        return Path(self.out).with_suffix(".losses.jsonl")

    @property
    def styles(self) -> list[str]:
        """Style slugs: the paintings' file names (or `name`)."""
        return [self.name] if self.name else [slug(p) for p in self.style_image]


@dataclass
class _LossWindow:
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


@dataclass
class _Run:
    """A training run in progress: built by `_set_up`, advanced by `_step`, saved by `_finish`."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    amp_dtype: torch.dtype | None
    memory_format: torch.memory_format
    model: TransformerNet
    net: nn.Module  # the model, wrapped for data parallelism when world > 1
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    loss_fns: list[PerceptualLoss]  # one per painting
    loader: DataLoader
    val_photos: torch.Tensor | None
    rows: list[int]  # the network's style index that each painting trains
    step: int
    last_saved: int
    window: _LossWindow = field(default_factory=_LossWindow)

    @property
    def lead(self) -> bool:
        """The process that logs and writes files (rank 0)."""
        return self.rank == 0


def train(cfg: TrainConfig, vgg: VGGFeatures | None = None, progress: bool = True,
          stop: threading.Event | None = None,
          on_step: Callable[[int, TransformerNet], None] | None = None) -> Path:
    """Train (or resume) and write `cfg.out`; returns its path. Raises TrainingError.

    Setting `stop` (from another thread) stops like Ctrl-C: a checkpoint, then Interrupted.
    `on_step(step, model)` runs after every step, between steps, in the training thread."""
    _check_output(cfg)
    _check_paintings(cfg)
    with _only_writer(cfg):
        run = _set_up(cfg, vgg)
        return _loop(run, progress, stop, on_step)


def _loop(run: _Run, progress: bool, stop_event: threading.Event | None,
          on_step: Callable[[int, TransformerNet], None] | None) -> Path:
    cfg = run.cfg
    bar = tqdm(total=cfg.steps, initial=run.step, disable=not (run.lead and progress), unit="step",
               dynamic_ncols=True, desc=f"{'+'.join(cfg.styles)}/{cfg.norm}")
    try:
        with _StopRequests(stop_event) as stop:
            for batch in _until_stopped(run.loader, stop):
                _step(run, batch)
                bar.update(1)
                if on_step is not None:
                    on_step(run.step, run.model)
                if run.step % cfg.log_every == 0 or run.step == cfg.steps:
                    _log_losses(run, bar)
                if run.step % cfg.checkpoint_every == 0 and run.step < cfg.steps:
                    _checkpoint(run)
            if stop.requested and run.step < cfg.steps:  # between steps: model, optimizer and step agree
                _save_and_stop(run)
    except KeyboardInterrupt:  # a second Ctrl-C: mid-step, so the model may be half updated; keep the old one
        raise Interrupted(f"interrupted twice at step {run.step}, not saved; last checkpoint: "
                          f"{_describe_checkpoint(cfg, run.last_saved)}; continue with --resume") from None
    except TrainingError as e:
        raise _without_worker_traceback(e) from None
    finally:
        bar.close()
    return _finish(run)


def _set_up(cfg: TrainConfig, vgg: VGGFeatures | None) -> _Run:
    """Device and ranks, model and optimizer (fresh or from the checkpoint), losses and data."""
    device = resolve_device(cfg.device)
    rank, world = _init_distributed(device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    amp_dtype = autocast_dtype(device) if cfg.fast else None
    memory_format = memory_format_for(amp_dtype)
    torch.manual_seed(cfg.seed)
    model, rows = _network(cfg)
    model = model.to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(_parameter_groups(model, cfg), lr=cfg.lr)
    start, rng = _resume(cfg, model, optimizer, device) if cfg.resume else (0, None)
    if rank == 0:
        for stale in stale_temp_files(cfg.checkpoint_path) + stale_temp_files(cfg.out):
            stale.unlink(missing_ok=True)  # left by a kill mid-write
        if not cfg.resume:
            cfg.log_path.unlink(missing_ok=True)
    loss_fns = _loss_functions(cfg, vgg, device, memory_format)  # draws painting samples from the seeded RNG,
    if rng is not None:  # so a resumed run restores the checkpoint's RNG only after them
        torch.set_rng_state(rng)
    photos = ContentImages(list_images(cfg.content_dir), cfg.image_size, cfg.zoom)
    if cfg.base and not cfg.resume:
        chosen = add_style.initialise(model, cfg.init or "auto", cfg.base, loss_fns[0], photos)
        if rank == 0:
            _log(cfg, {"step": 0, "split": "init", **chosen})
    batches = StepBatches(len(photos), cfg.batch_size, cfg.seed, start, cfg.steps, rank, world)
    # its own generator: a loader draws a seed from the global RNG, which a resumed run has already restored
    loader = DataLoader(photos, batch_sampler=batches, num_workers=cfg.workers, worker_init_fn=_ignore_interrupts,
                        persistent_workers=False, pin_memory=device.type == "cuda",
                        generator=torch.Generator().manual_seed(cfg.seed))
    val_photos = _validation_batch(cfg, device) if cfg.val_dir and rank == 0 else None
    return _Run(cfg, device, rank, world, amp_dtype, memory_format, model,
                DistributedDataParallel(model) if world > 1 else model, optimizer,
                torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16), loss_fns, loader,
                val_photos, rows, step=start, last_saved=start)


def _network(cfg: TrainConfig) -> tuple[TransformerNet, list[int]]:
    """The network to train and the style index of each painting: a fresh one, or with `base`
    that network grown by one style whose norm parameters alone will train."""
    if cfg.base:
        return add_style.grown_network(cfg.base, cfg.norm, cfg.arch)
    if cfg.warm_start and not cfg.resume:  # a resumed run's weights come from its checkpoint
        return _warm_start(cfg), list(range(len(cfg.styles)))
    return TransformerNet(cfg.norm, cfg.arch, len(cfg.styles)), list(range(len(cfg.styles)))


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
    try:
        check_file_output("--out", cfg.out)
        check_outputs_apart({"--out": [cfg.out, cfg.checkpoint_path, cfg.log_path,
                                     Path(cfg.out).with_suffix(".lock")]},
                            {"the painting": cfg.style_image, "--content-dir": cfg.content_dir,
                             "--val-dir": cfg.val_dir,
                             "--vgg-weights": cfg.vgg_weights or os.environ.get(VGG_WEIGHTS_ENV), "--base": cfg.base,
                             "--warm-start": cfg.warm_start})
        check_file_output("--out", cfg.out, ".safetensors" if cfg.base else None)
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
    return [PerceptualLoss(vgg, painting, **{k: getattr(cfg, k) for k in LOSS_SETTINGS})
            for painting in paintings]


def _step(run: _Run, batch: torch.Tensor) -> None:
    """One optimizer step on `batch`. A conditional network trains its paintings in turn, or with
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
                                f"checkpoint: {_describe_checkpoint(run.cfg, run.last_saved)}")
        run.scaler.scale(losses["total"] / len(styles)).backward()
        mean = {k: mean.get(k, 0) + v.detach() / len(styles) for k, v in losses.items()}
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.step += 1
    run.window.add(mean)


def _log_losses(run: _Run, bar: tqdm) -> None:
    """The mean losses since the last line: on the progress bar and in the log file."""
    record, rate = run.window.flush(run.cfg.batch_size * run.world)
    if run.lead:
        bar.set_postfix(**{k: f"{v:.4g}" for k, v in record.items()}, img_s=f"{rate:.1f}")
        _log(run.cfg, {"step": run.step, **record, "images_per_s": round(rate, 2)})


def _checkpoint(run: _Run) -> None:
    """Validation losses (with --val-dir), then a checkpoint."""
    if run.val_photos is not None:
        _log(run.cfg, {"step": run.step, "split": "val", **_evaluate(run)})
    _save_checkpoint(run.cfg, run.model, run.optimizer, run.step, run.lead, run.last_saved)
    run.last_saved = run.step


def _save_and_stop(run: _Run) -> None:
    """After Ctrl-C or SIGTERM: save where the loop stopped, then raise Interrupted."""
    if run.last_saved != run.step:
        _save_checkpoint(run.cfg, run.model, run.optimizer, run.step, run.lead, run.last_saved)
    raise Interrupted(f"interrupted at step {run.step}; checkpoint saved to {run.cfg.checkpoint_path}; "
                      f"continue with --resume")


def _finish(run: _Run) -> Path:
    """The last checkpoint, final validation and the weights file (written by the lead process)."""
    cfg = run.cfg
    _save_checkpoint(cfg, run.model, run.optimizer, run.step, run.lead, run.last_saved)
    if not run.lead:
        dist.destroy_process_group()
        return Path(cfg.out)
    recalibrated = {}
    if cfg.bn_stats_size and bn_statistics.batch_norm_layers(run.model):
        photos = bn_statistics.calibration_photos(cfg.content_dir, cfg.bn_stats_size)
        bn_statistics.recalibrate(run.model, photos, run.rows)
        recalibrated = {"bn_statistics": bn_statistics.header(photos)}
    val = _evaluate(run) if run.val_photos is not None else None
    if val:
        _log(cfg, {"step": run.step, "split": "val", **val})
    metadata = {**_metadata(cfg, run.step, val), **recalibrated}
    try:
        if cfg.base:
            path = save_style(run.model, run.rows[0], cfg.out, cfg.base, metadata)
        else:
            path = save_model(run.model, cfg.out, metadata)
    except OutputError as e:
        raise TrainingError(f"{cfg.out}: cannot write the weights ({e.reason}); the checkpoint at step {run.step} "
                            f"is kept: free space, then run again with --resume") from None
    if run.world > 1:
        dist.destroy_process_group()
    return path


def _init_distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size): from torchrun's environment, else (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world


def _resume(cfg: TrainConfig, model: TransformerNet, optimizer: torch.optim.Optimizer,
            device: torch.device) -> tuple[int, torch.Tensor]:
    """Load model and optimizer; returns the step to continue from and the RNG state to restore."""
    path = cfg.checkpoint_path if cfg.resume == "auto" else Path(cfg.resume)
    if not path.is_file():
        raise TrainingError(f"{path}: no checkpoint to resume from")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles before refusing them
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location=device, weights_only=True)  # never runs pickled code
        _check_same_run(cfg, path, ckpt["config"])
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        rng = ckpt["rng"].cpu()
        step = int(ckpt["step"])
    except TrainingError:
        raise
    except Exception as e:  # random bytes, a pickle, a torn file: torch raises many types
        raise TrainingError(f"{path}: unreadable checkpoint ({type(e).__name__}); delete it to start over") from None
    _trim_log(cfg, step)
    return step, rng


def _check_same_run(cfg: TrainConfig, path: Path, saved: dict) -> None:
    """Refuse a checkpoint of other paintings or other settings: it would not resume this run."""
    defaults = {**{f.name: f.default for f in fields(TrainConfig)}, **TERMS_OFF}  # keys older checkpoints lack
    clashes = [k for k in RESUME_MUST_MATCH if saved.get(k, defaults[k]) != getattr(cfg, k)]
    saved_styles = ([saved["name"]] if saved.get("name") else  # add-style --name: the style's own name
                    [slug(p) for p in painting_paths(saved.get("style_image") or [])])
    if saved_styles != cfg.styles:
        raise TrainingError(f"{path}: checkpoint was trained on the paintings {', '.join(saved_styles)}, "
                            f"not {', '.join(cfg.styles)}")
    if clashes:
        raise TrainingError(f"{path}: checkpoint was trained with different "
                            + ", ".join(f"{k} ({saved.get(k)} vs {getattr(cfg, k)})" for k in clashes))


def _trim_log(cfg: TrainConfig, step: int) -> None:
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


def _save_checkpoint(cfg: TrainConfig, model: TransformerNet, optimizer: torch.optim.Optimizer,
                     step: int, lead: bool, last_saved: int) -> None:
    """Write atomically (style_app.files): a kill, a full disk or a second Ctrl-C at any moment
    leaves the previous one and no temporary file.
    Non-finite weights are refused, so every checkpoint is a good one."""
    _check_finite(cfg, model, step, last_saved)
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


def _check_finite(cfg: TrainConfig, model: TransformerNet, step: int, last_saved: int) -> None:
    """Refuse to save NaN/Inf weights (a finite loss can still give non-finite gradients)."""
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise TrainingError(f"weights became non-finite by step {step}; stopped, last good checkpoint: "
                            f"{_describe_checkpoint(cfg, last_saved)}")


def _describe_checkpoint(cfg: TrainConfig, step: int) -> str:
    return f"{cfg.checkpoint_path} (step {step})" if cfg.checkpoint_path.exists() else "none yet"


def _log(cfg: TrainConfig, record: dict) -> None:
    """One line of the loss log; a failed write leaves no torn line and stops with one line."""
    try:
        append_line(cfg.log_path, json.dumps(record))
    except OutputError as e:
        kept = f"{cfg.checkpoint_path} is kept" if cfg.checkpoint_path.exists() else "no checkpoint yet"
        raise TrainingError(f"{cfg.log_path}: cannot write the loss log at step {record['step']} ({e.reason}); "
                            f"{kept}; free space, then continue with --resume") from None


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


def _metadata(cfg: TrainConfig, step: int, val: dict | None) -> dict:
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
    config = {f.name: _file_names(getattr(cfg, f.name)) if f.name in PATH_FIELDS else getattr(cfg, f.name)
              for f in fields(cfg) if f.name not in ("resume", "out")}
    styles = ({"style": cfg.styles[0], **describe(cfg.styles[0])} if len(cfg.styles) == 1 else
              {"styles": cfg.styles, "paintings": [{"style": s, **describe(s)} for s in cfg.styles]})
    return {**styles, "arch": cfg.arch, "steps": step, "train_config": config, "final_losses": final,
            "loss_curve": curve, **({"init": init["init"]} if init else {})}


def _file_names(value: str | list[str] | None) -> str | list[str] | None:
    """A path's last part: a network file says what it was trained from, never where that lay."""
    if isinstance(value, list):
        return [Path(v).name for v in value]
    return Path(value).name if value else value


def _ignore_interrupts(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C (sent to the whole process group by a terminal) to the main
    process, which stops them. SIGTERM, from the main process shutting them down or sent to the
    group, ends a worker at once and with success: dying of the signal would make the main
    process raise a traceback mid-step, and ignoring it would hang the main process at exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))


def _until_stopped(loader: DataLoader, stop: "_StopRequests") -> Iterator[torch.Tensor]:
    """The loader's batches until a stop is requested. Checked before each fetch, so a stop never
    waits for data. A worker that ended on the same signal while we waited for or received a
    batch is no error (torch reports it as RuntimeError, a reset connection, EOF...)."""
    batches = iter(loader)
    while not stop.requested:
        try:
            yield next(batches)
        except StopIteration:
            return
        except Exception:
            if not stop.requested:
                raise
            return


def _without_worker_traceback(error: TrainingError) -> TrainingError:
    """torch re-raises an error from a DataLoader worker with the worker's traceback pasted into
    its message; keep the original one-line message, as the CLI prints errors in one line."""
    text = str(error).strip()
    if not (text.startswith("Caught ") and "Original Traceback" in text):
        return error
    last = text.splitlines()[-1]  # "style_app.errors.TrainingError: <the original message>"
    return type(error)(last.split(": ", 1)[1] if ": " in last else last)


@contextlib.contextmanager
def _only_writer(cfg: TrainConfig) -> Iterator[None]:
    """Refuse to start while another process trains into the same output (its checkpoint and log
    would be overwritten): an exclusive lock on <out>.lock, released when this run ends or dies.
    Only the lead process (rank 0) writes, so only it locks."""
    if int(os.environ.get("RANK", 0)) != 0:
        yield
        return
    path = Path(cfg.out).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise TrainingError(f"{cfg.out}: another training is writing this file (pid {lock.read().strip() or '?'}); "
                                f"wait for it to finish") from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


class _StopRequests:
    """Ctrl-C (SIGINT), `kill` (SIGTERM) or the `event` (set by another thread) ask the loop to
    stop after the current step, so the checkpoint it then writes never catches an optimizer update
    halfway. A second signal interrupts at once (KeyboardInterrupt), without saving."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, event: threading.Event | None = None):
        self.signal: int | None = None
        self.event = event
        self.previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None or (self.event is not None and self.event.is_set())

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> "_StopRequests":
        try:
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread: signals cannot reach us here anyway
            self.previous = {}
        return self

    def __exit__(self, *exc: object) -> bool:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        return False
