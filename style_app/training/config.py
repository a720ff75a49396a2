"""The one table of training settings: each field of `TrainConfig` holds its default, its range
(numbers), its help and, for a loss term added after the first networks were trained, the value
that switches it off. `style-app train` and `add-style` make their flags and range checks from it
(style_app.cli), `--resume` and `add-style` read older files' missing settings from it, and
`PerceptualLoss` gets its terms from it (`loss_terms`)."""
from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from style_app.errors import TrainingError
from style_app.models.norms import NORM_KINDS
from style_app.models.transformer import ARCHS, ZOO_ARCH
from style_app.paintings import painting_paths, slug
from style_app.training import bn_statistics
from style_app.training.losses import (CONTENT_LAYERS, GRAM_LAYERS, LAPLACIAN_MODES, LAPLACIAN_POOL, LAPLACIAN_POOLS,
                                       LAPLACIAN_SIDE, LOSS_SETTINGS, REGION_PX, STYLE_LAYERS, STYLE_LOSSES)

MAX_TRAIN_SIDE = 4096  # largest --image-size / --style-size (pixels per side)
GRAM_WEIGHT = 3.0  # the Gram term's weight beside a sliced loss when none is given (gram_weight None)


@dataclass(frozen=True)
class Range:
    """A number flag's type and bounds: from `low` (excluded when `above`) to `high` (None: no bound)."""

    kind: type
    low: float
    high: float | None = None
    above: bool = False


def setting(default: Any = MISSING, help: str = "", range: Range | None = None, off: Any = MISSING,
            train_only: bool = False, **flag: Any) -> Any:
    """A TrainConfig field: its default, help and `range`; `off`: the value that switches the term
    off, which a file recording no such setting (older than the term) was trained with;
    `train_only`: a flag of `train`, not `add-style`; `flag`: argparse's own options (nargs, choices...)."""
    metadata = {"help": help, "range": range, "train_only": train_only, "flag": flag}
    if off is not MISSING:
        metadata["off"] = off
    return field(default=default, metadata=metadata)


def _positive(kind: type, high: float | None = None) -> Range:
    return Range(kind, 1 if kind is int else 0.0, high)


WEIGHT = Range(float, 0.0)
LR = Range(float, 0.0, 10.0, above=True)


@dataclass
class TrainConfig:
    style_image: list[str] = setting(help="the painting; several: one network conditioned on style "
                                     "(Dumoulin et al. 2017)", train_only=True, required=True, nargs="+")
    content_dir: str = setting(help="folder of training photos (searched recursively)", train_only=True,
                               required=True)
    out: str = setting(help="output .safetensors file", train_only=True, required=True)
    norm: str = setting("instance", train_only=True, choices=NORM_KINDS)
    arch: str = setting(ZOO_ARCH, "network architecture", train_only=True, choices=list(ARCHS))
    steps: int = setting(350, "optimizer steps", _positive(int, 10**8))
    batch_size: int = setting(4, "photos per step", _positive(int, 1024))
    image_size: int = setting(256, "side of the square training crops, pixels", Range(int, 16, MAX_TRAIN_SIDE))
    zoom: float = setting(1.0, "crops from photos enlarged up to this many times", Range(float, 1.0, 16.0))
    style_size: int = setting(512, "the painting is shrunk to fit this many pixels", Range(int, 16, MAX_TRAIN_SIDE))
    content_weight: float = setting(1.0, "weight of the content loss (keep the photo)", WEIGHT)
    style_weight: float = setting(20.0, "weight of the style loss (--style-loss)", WEIGHT)
    tv_weight: float = setting(10.0, "weight of the total-variation loss (smoothness)", WEIGHT)
    laplacian_weight: float = setting(2.0, "weight of the Laplacian loss: no new coarse contours (blobs)", WEIGHT)
    laplacian_pools: tuple[int, ...] | None = setting(
        None, "the Laplacian loss compares the images average-pooled by each N (the mean over them; default "
        f"{' '.join(map(str, LAPLACIAN_POOLS))}, those the crop holds: 4 alone misses large soft patches)",
        Range(int, 1, MAX_TRAIN_SIDE), nargs="+", metavar="N")
    laplacian_mode: str = setting("stronger", "both: any contour unlike the photo's pays; stronger: only contours "
                                  "stronger than the photo's (droplets, glows), not softened ones, so no halos",
                                  off="both", choices=list(LAPLACIAN_MODES))
    content_layer: str = setting("relu2_2", choices=CONTENT_LAYERS)
    style_loss: str = setting("sliced-texture", "gram: channel correlations; sliced: each picture's feature "
                              "distributions (Heitz et al. 2021); sliced-batch: the batch's, pooled (no droplets); "
                              "sliced-tiles: each region's (texture, not glows); sliced-texture: the batch's pooled, "
                              f"plus the texture inside each {REGION_PX} px square, weighted by --texture-weight "
                              "(colour masses with brushwork)", choices=STYLE_LOSSES)
    style_layers: tuple[str, ...] = setting(STYLE_LAYERS, "the VGG layers the style loss compares; without relu1_2 "
                                            "(mostly colour) the photo keeps its local colours", off=STYLE_LAYERS,
                                            nargs="+", choices=STYLE_LAYERS, metavar="LAYER")
    texture_weight: float = setting(0.5, "sliced-texture: the brushwork term's share beside the colours", WEIGHT)
    gram_weight: float | None = setting(None, f"beside a sliced --style-loss: each picture's Gram loss, this weight "
                                        f"(default: {GRAM_WEIGHT:g}; 0 with --style-loss gram)", WEIGHT, off=0.0)
    gram_layers: tuple[str, ...] = setting(GRAM_LAYERS, "the VGG layers --gram-weight compares", off=STYLE_LAYERS,
                                           nargs="+", choices=STYLE_LAYERS, metavar="LAYER")
    contrast_weight: float = setting(0.5, "weight of the contrast term: a picture paler than its photo "
                                     "(luminance std) pays", WEIGHT, off=0.0)
    contrast_window: int = setting(0, "the contrast term compares each square of this many pixels with the "
                                   "photo's (0: the whole picture)", Range(int, 0, MAX_TRAIN_SIDE), off=0)
    mean_colour_weight: float = setting(10.0, "weight of the mean-colour term: the batch's mean RGB away from the "
                                        "painting's pays", WEIGHT, off=0.0)
    tone_weight: float = setting(2.0, "weight of the tone term: a picture whose coarse lights and darks follow its "
                                 "photo's more weakly than the photo's own pays", WEIGHT, off=0.0)
    palette_weight: float = setting(0.0, "weight of the palette term: the batch's RGB pixels distributed unlike "
                                    "the painting's (sliced Wasserstein) pay", WEIGHT, off=0.0)
    lr: float = setting(1e-3, "Adam learning rate", LR)
    style_lr: float | None = setting(1e-2, "several paintings: learning rate of their own norm scales and shifts "
                                     "(add-style: --lr unless given)", LR)
    decay_steps: int = setting(0, "the learning rates fall along a half cosine to a tenth of themselves by this "
                               "step, then stay (0: constant)", Range(int, 0, 10**8))
    seed: int = setting(42, "random seed (weights, crops, loss directions)", Range(int, 0, 2**63 - 1))
    device: str = setting("auto", "auto, cpu, cuda or mps")
    vgg_weights: str | None = setting(None, "VGG-16 features .safetensors (default: torchvision download)")
    checkpoint_every: int = setting(200, "steps between checkpoints (<out>.ckpt)", _positive(int))
    resume: str | None = setting(None, "continue from the checkpoint beside --out (or the one given)",
                                 nargs="?", const="auto")
    val_dir: str | None = setting(None, "held-out photos: validation losses at every checkpoint")
    fast: bool = setting(True, "plain fp32 (no bf16 autocast / channels_last / AMP)", option="--no-fast",
                         action="store_false")
    workers: int = setting(1, "photo-loading processes", Range(int, 0, 64))
    log_every: int = setting(10, "steps per line of <out>.losses.jsonl", _positive(int))
    warm_start: str | None = setting(None, "start from this network's weights (the same norm, arch and paintings), "
                                     "e.g. to train it further with another loss", train_only=True, metavar="NETWORK")
    every_style: bool = setting(True, "several paintings: train all of them at each step on the same photos; "
                                "--no-every-style: one painting per step, in turn", train_only=True)
    bn_stats_size: int = setting(bn_statistics.SIZE, "batch norm: after training, each style's running statistics "
                                 "are measured again on whole photos this size, the size people stylize at "
                                 "(0: keep training's)", Range(int, 0, MAX_TRAIN_SIDE))

    def __post_init__(self) -> None:
        self.style_image = painting_paths(self.style_image)  # one path given alone counts as a list
        if self.laplacian_pools is None:  # the default scales a crop of this size holds (4 always does)
            self.laplacian_pools = tuple(k for k in LAPLACIAN_POOLS if self.image_size // k >= LAPLACIAN_SIDE)
        self.laplacian_pools = tuple(self.laplacian_pools)
        self.gram_layers = tuple(self.gram_layers)
        self.style_layers = tuple(self.style_layers)
        if self.gram_weight is None:
            self.gram_weight = 0.0 if self.style_loss == "gram" else GRAM_WEIGHT
        self._check()

    def _check(self) -> None:
        """Combinations the flags' own ranges cannot refuse, as one-line errors."""
        if set(self.style_layers) - set(STYLE_LAYERS) or not self.style_layers:
            raise TrainingError(f"--style-layers: choose among {', '.join(STYLE_LAYERS)}")
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
        """Style slugs: the paintings' file names."""
        return [slug(p) for p in self.style_image]


def field_defaults() -> dict[str, Any]:
    """Each field's default (None for the required ones)."""
    return {f.name: None if f.default is MISSING else f.default for f in fields(TrainConfig)}


def terms_off() -> dict[str, Any]:
    """The settings a network or checkpoint older than their term does not record, at the value it
    was trained with: the term switched off (not today's default)."""
    return {f.name: f.metadata["off"] for f in fields(TrainConfig) if "off" in f.metadata}


def loss_terms(cfg: TrainConfig) -> dict[str, Any]:
    """The PerceptualLoss terms `cfg` trains with."""
    return {name: getattr(cfg, name) for name in LOSS_SETTINGS}


#: Johnson et al.'s loss alone (content, Gram style, total variation; every later term off): what
#: `evaluate` scores pictures with (its Gram style ratio) and `bench` times; the first zoo's loss.
JOHNSON_TERMS = {**{name: field_defaults()[name] for name in LOSS_SETTINGS}, **terms_off(),
                 "style_loss": "gram", "style_weight": 3.0, "laplacian_weight": 0.0,
                 "laplacian_pools": (LAPLACIAN_POOL,)}
