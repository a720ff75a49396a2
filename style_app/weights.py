"""Trained style networks as fp16 safetensors files with self-describing metadata.

Loading never unpickles: the header is JSON and the tensors are raw numbers. The registry reads
only headers, so listing models is cheap, and style/norm names are looked up in what the weights
folders hold, so no name a user types can become a path.

Two folders hold models: the shipped zoo (package data of the installed package; the top-level
weights/ folder of a checkout) and the user's own, named by env STYLE_APP_WEIGHTS (never a folder
inside the installed package).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from style_app.models.transformer import ArchConfig, TransformerNet
from style_app.errors import WeightsError, first_line
from style_app.paintings import describe as describe_painting

FORMAT = "style_app.transformer/1"
WEIGHTS_ENV = "STYLE_APP_WEIGHTS"  # the user's folder of models
SHIPPED_ENV = "STYLE_APP_SHIPPED"  # "0": leave the shipped zoo out (serve only the user's models)
ZOO_PACKAGE_DIR = "zoo"  # where a wheel installs the checkout's weights/ folder (pyproject.toml)
#: Metadata values that are JSON documents rather than plain strings.
JSON_KEYS = ("arch_config", "train_config", "final_losses", "loss_curve", "styles", "paintings")


def shipped_weights_dir() -> Path | None:
    """The models that come with the app: style_app/zoo in an installed wheel, the top-level
    weights/ folder in a checkout; None when env STYLE_APP_SHIPPED=0 leaves them out."""
    if os.environ.get(SHIPPED_ENV) == "0":
        return None
    package = Path(__file__).resolve().parent
    installed = package / ZOO_PACKAGE_DIR
    return installed if installed.is_dir() else package.parent / "weights"


def user_weights_dir() -> Path | None:
    """The user's own models: the folder env STYLE_APP_WEIGHTS names, None when it is not set."""
    folder = os.environ.get(WEIGHTS_ENV)
    return Path(folder).expanduser() if folder else None


def weights_dirs() -> list[Path]:
    """The folders models are looked up in: the user's first (its models win a tie), then the zoo."""
    folders = [d.resolve() for d in (user_weights_dir(), shipped_weights_dir()) if d is not None]
    return list(dict.fromkeys(folders))  # a user folder that is the zoo itself counts once


@dataclass
class ModelInfo:
    """One style of a model file, described by the file's header. A conditional file (several
    styles in one network) gives one ModelInfo per style."""

    path: Path
    style: str
    norm: str
    arch: str
    metadata: dict = field(repr=False)

    def describe(self) -> dict:
        """Plain JSON-able summary (what `style-app list --json` prints)."""
        meta = self.metadata
        conditional = len(file_styles(meta)) > 1
        header = (next((p for p in meta.get("paintings", []) if p.get("style") == self.style), {})
                  if conditional else meta)
        painting = {k: header.get(k) or v for k, v in describe_painting(self.style).items()}
        return {"style": self.style, "norm": self.norm, "arch": self.arch, "path": str(self.path),
                **painting, "conditional": conditional, "steps": int(meta.get("steps", 0)),
                "final_losses": meta.get("final_losses", {})}


def save_model(model: TransformerNet, path: str | os.PathLike, metadata: dict) -> Path:
    """Write fp16 weights + metadata atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "norm": model.norm, "arch_config": model.arch.to_dict(), **metadata}
    header = {k: json.dumps(v) if k in JSON_KEYS else str(v) for k, v in header.items()}
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()
             if v.is_floating_point()}
    state.update({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()
                  if not v.is_floating_point()})
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=header)
    os.replace(tmp, path)
    return path


def file_styles(metadata: dict) -> list[str]:
    """The style slugs a file's network holds, in the order of its style index."""
    return metadata.get("styles") or [metadata.get("style", "")]


def read_metadata(path: str | os.PathLike) -> dict:
    """The header of a model file, JSON fields decoded. Raises WeightsError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
        meta = {k: json.loads(v) if k in JSON_KEYS else v for k, v in raw.items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightsError(f"{path}: not a readable safetensors file ({e})") from None
    if meta.get("format") != FORMAT or "norm" not in meta or "arch_config" not in meta:
        raise WeightsError(f"{path}: not a style_app model (no style_app metadata)")
    return meta


def load_model(path: str | os.PathLike) -> tuple[TransformerNet, dict]:
    """Build the network a file describes and load its weights (fp32, eval mode).

    The header's architecture is first built on the meta device (no memory) and its tensor
    shapes compared with the file's, so a header that lies cannot make us allocate a huge net."""
    meta = read_metadata(path)
    try:
        arch = ArchConfig.from_dict(meta["arch_config"])
        num_styles = len(file_styles(meta))
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in TransformerNet(meta["norm"], arch, num_styles).state_dict().items()}
        with safe_open(str(path), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        mismatch = _shape_mismatch(expected, found)
        if mismatch:
            raise WeightsError(f"{path}: weights do not fit the network they describe ({mismatch})")
        model = TransformerNet(meta["norm"], arch, num_styles)
        state = load_file(str(path))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        detail = f"header lacks {e}" if isinstance(e, KeyError) else first_line(e)
        raise WeightsError(f"{path}: weights do not fit the network they describe ({detail})") from None
    return model.eval(), meta


def _shape_mismatch(expected: dict[str, tuple], found: dict[str, tuple]) -> str:
    """The first missing, unexpected or wrongly shaped tensor, in words; '' when all fit."""
    for name in sorted(expected.keys() - found.keys()):
        return f"tensor {name} is missing"
    for name in sorted(found.keys() - expected.keys()):
        return f"unexpected tensor {name}"
    for name, shape in expected.items():
        if found[name] != shape:
            return f"tensor {name} has shape {list(found[name])}, the network needs {list(shape)}"
    return ""


def available_models(directory: str | os.PathLike | None = None) -> list[ModelInfo]:
    """Every readable model in `directory`, else in the user's folder and the shipped zoo, sorted
    by style, arch, norm (a user's model before a shipped one of the same name)."""
    folders = [Path(directory)] if directory else weights_dirs()
    found = []
    for path in [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.safetensors"))]:
        try:
            meta = read_metadata(path)
        except WeightsError:
            continue  # a stray or broken file must not hide the good ones
        found += [ModelInfo(path, style or path.stem, meta["norm"], meta.get("arch", "johnson"), meta)
                  for style in file_styles(meta)]
    return sorted(found, key=lambda m: (m.style, m.arch, m.norm))


def find_model(style: str, norm: str, arch: str = "johnson",
               directory: str | os.PathLike | None = None) -> ModelInfo:
    """The model for (style, norm, arch), or a WeightsError listing what exists."""
    models = available_models(directory)
    for info in models:
        if (info.style, info.norm, info.arch) == (style, norm, arch):
            return info
    styles = sorted({m.style for m in models})
    if style not in styles:
        raise WeightsError(f"unknown style {style!r}; available: {', '.join(styles) or 'none'}")
    norms = sorted({m.norm for m in models if m.style == style and m.arch == arch})
    raise WeightsError(f"no {arch} model for style {style!r} with norm {norm!r}; "
                       f"available norms: {', '.join(norms) or 'none'}")
