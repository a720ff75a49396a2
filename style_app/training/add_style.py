"""Learn a new painting for an existing conditional network in minutes: its convolutions stay
frozen and only one new row of per-style norm scale and shift trains (Dumoulin et al. 2017).

`add_style_config` turns `style-app add-style`'s arguments into an `AddStyleConfig` and
`train_style` runs it through the ordinary training loop (same loss, progress bar, log,
checkpoints and --resume) with its own `Network`: the base network grown by one style
(`grown_network`), started from one of its styles (`initialise`) and saved as a style file.

Batch norm: the new style gets running statistics of its own, estimated during add-style training
from the training batches (the same running average `train` keeps per style), starting from those
of the style it was initialised from, then measured again on whole photos once it has trained
(bn_statistics); the network's other styles keep theirs untouched.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from style_app.models.norms import COMPARED_NORMS, style_parameters
from style_app.models.transformer import TransformerNet
from style_app.models.vgg import VGGFeatures
from style_app.errors import StyleAppError, TrainingError
from style_app.images import open_image
from style_app.files import check_file_output, check_outputs_apart
from style_app.paintings import check_painting, slug
from style_app.style_files import added_styles, conditional_network, per_style_keys, save_style, with_added_styles
from style_app.training.data import ContentImages
from style_app.training.config import TrainConfig, terms_off
from style_app.training.losses import LOSS_SETTINGS, PerceptualLoss
from style_app.training.train import Network, train
from style_app.weights import (arch_of, available_models, file_styles, is_added_style, load_model, read_metadata,
                               user_weights_dir)

DEFAULT_STEPS = 100  # the shipped networks' rows plateau by 75-100 steps (docs/add_style.md)
DEFAULT_LR = 1e-2  # norm parameters alone: larger steps than a whole network's 1e-3
#: Settings an added style takes from its network's training unless given: the same loss and scale.
FROM_BASE = ("batch_size", "image_size", "style_size", "zoom", *LOSS_SETTINGS)
CONTENT_DIR_ENV = "STYLE_APP_CONTENT_DIR"
INIT_PHOTOS = 4  # training photos (centre crops) on which the starting style is chosen
NAME_PATTERN_LENGTH = 64
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_]{0,%d}" % (NAME_PATTERN_LENGTH - 1))


@dataclass
class AddStyleConfig(TrainConfig):
    """A training run that adds one painting to a conditional network as a style of its own."""

    base: str = ""  # the conditional network's file
    init: str | None = None  # the style it starts from, "mean", or "auto"/None (the lower loss)
    name: str | None = None  # the style's slug (default: the painting's file name)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.style_image) != 1:
            raise TrainingError("--name and --base take one painting")

    @property
    def styles(self) -> list[str]:
        return [self.name] if self.name else super().styles


def train_style(cfg: AddStyleConfig, vgg: VGGFeatures | None = None, progress: bool = True,
                stop: threading.Event | None = None,
                on_step: Callable[[int, TransformerNet], None] | None = None) -> Path:
    """Learn `cfg`'s painting as one more style of `cfg.base` and write its style file to `cfg.out`
    (the training loop of style_app.training.train; arguments as there)."""
    return train(cfg, vgg, progress, stop, on_step, network=grown)


def grown(cfg: AddStyleConfig) -> Network:
    """The run's network: `cfg.base` with one more style, started by `initialise`, saved as a style file."""
    model, rows = grown_network(cfg.base, cfg.norm, cfg.arch)
    return Network(model, rows, lambda model, meta: save_style(model, rows[0], cfg.out, cfg.base, meta),
                   lambda model, loss_fn, photos: initialise(model, cfg.init or "auto", cfg.base, loss_fn, photos))


def resolve_base(spec: str | os.PathLike) -> Path:
    """--base: a conditional network's file, or a norm kind, which names the largest shipped
    conditional Johnson network of that norm."""
    spec = str(spec)
    if spec in COMPARED_NORMS and not Path(spec).is_file():
        network = conditional_network(spec)
        if network is None:
            raise TrainingError(f"no conditional {spec}-norm network in the weights folders; give --base FILE")
        return network.resolve()
    if not Path(spec).is_file():
        raise TrainingError(f"--base {spec}: neither a network file nor a norm ({', '.join(COMPARED_NORMS)})")
    meta = read_metadata(spec)
    if is_added_style(meta):
        raise TrainingError(f"{spec}: an added style, not a network; give the network it was added to")
    if len(file_styles(meta)) < 2:
        raise TrainingError(f"{spec}: holds one style ({file_styles(meta)[0]}), not a conditional network; "
                            f"add-style needs a network trained on several paintings")
    return Path(spec).resolve()


def base_settings(base_meta: dict) -> dict:
    """The FROM_BASE settings a network's metadata records; a term it does not record, it trained
    without (config.terms_off), not with today's default."""
    trained = base_meta.get("train_config")
    trained = {**terms_off(), **trained} if trained else {}
    return {k: trained[k] for k in FROM_BASE if k in trained}


def add_style_config(painting: str | os.PathLike, base: str | os.PathLike, name: str | None = None,
                     out: str | os.PathLike | None = None, content_dir: str | os.PathLike | None = None,
                     **settings) -> AddStyleConfig:
    """The training run that adds `painting` to the network `base` (a file or a norm kind) as
    style `name` (default: from the file name), written to `out` (default: the user's weights
    folder/<name>_<network>.safetensors). Loss settings default to the network's
    own; `settings` (TrainConfig fields; None = default) override. Raises StyleAppError for a
    painting that is not an image, a base that is not conditional, or a name already taken."""
    check_painting(open_image(painting), painting)  # not a learnable image: say so now, before any work
    if out:
        check_file_output("--out", out)  # here: Path() would drop a trailing '/'
    base_path = resolve_base(base)
    base_meta = read_metadata(base_path)
    name = name or _name_from(painting)
    out = Path(out) if out else _default_out(name, base_path)
    check_outputs_apart({"--out": out}, {"the painting": painting, "--base": base_path, "--content-dir": content_dir})
    check_file_output("--out", out, ".safetensors")  # `list` shows only .safetensors files
    _check_name(name, base_path, out, bool(settings.get("resume")))
    check_init(settings.get("init") or "auto", file_styles(base_meta))
    defaults = {"steps": DEFAULT_STEPS, "lr": DEFAULT_LR, "style_lr": None, "every_style": False,  # one row, at lr
                **base_settings(base_meta)}
    return AddStyleConfig(style_image=[str(painting)], content_dir=str(_content_dir(content_dir)),
                       out=str(out), base=str(base_path), name=name, norm=base_meta["norm"],
                       arch=arch_of(base_meta),
                       **{**defaults, **{k: v for k, v in settings.items() if v is not None}})


def _name_from(painting: str | os.PathLike) -> str:
    """A valid style name from the painting's file name, however long or odd it is."""
    derived = re.sub(r"[^a-z0-9_]+", "_", slug(painting)).strip("_")
    return re.sub(r"_+", "_", derived)[:NAME_PATTERN_LENGTH].strip("_") or "painting"


def _default_out(name: str, base_path: Path) -> Path:
    """<the user's weights folder>/<name>_<network>.safetensors (the folder made if need be)."""
    folder = user_weights_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainingError(f"{folder}: cannot make the folder for your styles ({e.strerror}); give --weights-dir "
                            f"DIR (or set STYLE_APP_WEIGHTS)") from None
    return folder / f"{name}_{base_path.stem}.safetensors"


def _content_dir(given: str | os.PathLike | None) -> Path:
    """The training photos: given, else env STYLE_APP_CONTENT_DIR (a network file names no folder)."""
    folder = given or os.environ.get(CONTENT_DIR_ENV)
    if folder:
        return Path(folder)
    raise TrainingError(f"add-style needs training photos: --content-dir DIR (or set {CONTENT_DIR_ENV})")


def _check_name(name: str, base_path: Path, out: Path, resume: bool) -> None:
    """A style name is a slug, not a shipped style, not added to this network already (except by
    the run being resumed), and never overwrites a finished style file."""
    if not NAME_PATTERN.fullmatch(name):
        raise TrainingError(f"style name {name!r}: use lower-case letters, digits and underscores")
    if name in {info.style for info in available_models() if not is_added_style(info.metadata)}:
        raise TrainingError(f"style name {name!r} is taken by a shipped style; choose another --name")
    for info in added_styles(base_path):
        if info.style == name and info.path.resolve() != out.resolve():
            raise TrainingError(f"style {name!r} was already added to {base_path.name} ({info.path}); "
                                f"choose another --name")
    if out.exists() and not resume:
        raise TrainingError(f"{out} exists; --resume continues its training, or choose another --name or --out")


def grown_network(base_path: str | os.PathLike, norm: str, arch: str) -> tuple[TransformerNet, list[int]]:
    """The network at `base_path` with one more style (the mean style until `initialise`), and
    everything frozen but that style's norm scale and shift; returns it and the new style's index."""
    try:
        model, meta = load_model(base_path)
    except StyleAppError as e:
        raise TrainingError(str(e)) from None
    if model.num_styles < 2 or (model.norm, arch_of(meta)) != (norm, arch):
        raise TrainingError(f"{base_path}: not a conditional {arch} network with {norm} norm")
    state = model.state_dict()
    model = with_added_styles(model, [{key: state[key].mean(0) for key in per_style_keys(model)}]).train()
    train_only_norm_parameters(model)
    return model, [model.num_styles - 1]


def train_only_norm_parameters(model: TransformerNet) -> None:
    """Freeze every parameter but the conditional norms' scales and shifts. Training selects one
    style (a one-hot mix), so the other styles' rows get a zero gradient, which Adam turns into
    no update at all: they stay bit for bit, and only the selected style learns."""
    model.requires_grad_(False)
    for param in style_parameters(model):
        param.requires_grad_(True)


def check_init(init: str, styles: list[str]) -> None:
    if init not in ("auto", "mean", *styles):
        raise TrainingError(f"--init {init!r}: choose auto, mean or one of the network's styles ({', '.join(styles)})")


@torch.no_grad()
def initialise(model: TransformerNet, init: str, base_path: str | os.PathLike, loss_fn: PerceptualLoss,
               photos: ContentImages) -> dict:
    """Start the new (last) style from one of the network's styles or from their mean: `init`, or
    with "auto" whichever of them gives the lowest loss against the new painting on the first
    training photos. Returns the choice and, with "auto", each candidate's loss."""
    styles, row = file_styles(read_metadata(base_path)), model.num_styles - 1
    candidates = {style: F.one_hot(torch.tensor(i), model.num_styles).float() for i, style in enumerate(styles)}
    candidates["mean"] = torch.cat([torch.full((row,), 1 / row), torch.zeros(1)])
    check_init(init, styles)
    losses = _candidate_losses(model, candidates, loss_fn, photos) if init == "auto" else {}
    chosen = min(losses, key=losses.get) if init == "auto" else init
    state, mix = model.state_dict(), candidates[chosen]
    for key in per_style_keys(model):
        state[key][row] = (mix[:row, None].to(state[key]) * state[key][:row]).sum(0)
    return {"init": chosen, **({"init_losses": losses} if losses else {})}


def _candidate_losses(model: TransformerNet, candidates: dict[str, torch.Tensor], loss_fn: PerceptualLoss,
                      photos: ContentImages) -> dict[str, float]:
    """The training loss of each style mix on the centre crops of the first training photos."""
    device = next(model.parameters()).device
    x = photos.centre_crops(INIT_PHOTOS).to(device)
    model.eval()
    targets, losses = loss_fn.photo_targets(x), {}
    for name, mix in candidates.items():
        model.set_style(mix)
        losses[name] = round(loss_fn(model(x), x, targets)["total"].item(), 6)
    model.train()
    return losses
