"""Trained style networks as fp16 safetensors files with self-describing metadata.

Loading never unpickles: the header is JSON and the tensors are raw numbers. The registry reads
only headers, so listing models is cheap, and style/norm names are looked up in what the weights
folders hold, so no name a user types can become a path.

Two folders hold models: the shipped zoo (package data of the installed package; the top-level
weights/ folder of a checkout) and the user's own, named by --weights-dir or env STYLE_APP_WEIGHTS,
else the per-user data folder (never a folder inside the installed package), which also holds the
styles `add-style` learns.

Listing reads headers without torch (`style-app list` answers at once); torch loads with the
first network built or saved.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

from style_app.models.names import ZOO_ARCH
from style_app.errors import WeightsError, first_line
from style_app.files import write_atomically
from style_app.headers import FORMAT, JSON_KEYS, STYLE_FORMAT, is_added_style, read_metadata  # noqa: F401
from style_app.paintings import describe as describe_painting

if TYPE_CHECKING:
    import torch

    from style_app.models.transformer import TransformerNet

WEIGHTS_ENV = "STYLE_APP_WEIGHTS"  # the user's folder of models
APP_NAME = "style_app"  # the per-user data folder's name (default_user_dir)
SHIPPED_ENV = "STYLE_APP_SHIPPED"  # "0": leave the shipped zoo out (serve only the user's models)
ZOO_PACKAGE_DIR = "zoo"  # where a wheel installs the checkout's weights/ folder (pyproject.toml)
log = logging.getLogger(__name__)
_user_dir_override: Path | None = None


def shipped_weights_dir() -> Path | None:
    """The models that come with the app: style_app/zoo in an installed wheel, the top-level
    weights/ folder in a checkout; None when env STYLE_APP_SHIPPED=0 leaves them out."""
    if os.environ.get(SHIPPED_ENV) == "0":
        return None
    package = Path(__file__).resolve().parent
    installed = package / ZOO_PACKAGE_DIR
    return installed if installed.is_dir() else package.parent / "weights"


def use_user_weights_dir(directory: str | os.PathLike | None) -> None:
    """Make `directory` the user's weights folder for this process (the CLI's and app's
    --weights-dir); None goes back to env STYLE_APP_WEIGHTS."""
    global _user_dir_override
    _user_dir_override = Path(directory).expanduser() if directory else None


def user_weights_dir() -> Path:
    """The user's own models and added styles: --weights-dir, else the folder env
    STYLE_APP_WEIGHTS names, else `default_user_dir()`."""
    folder = os.environ.get(WEIGHTS_ENV)
    return _user_dir_override or (Path(folder).expanduser() if folder else default_user_dir())


def default_user_dir() -> Path:
    """Where added styles go when no folder is named: the per-user data folder (platformdirs:
    ~/.local/share/style_app/styles on Linux, ~/Library/Application Support/style_app/styles on
    macOS, %LOCALAPPDATA%\\style_app\\styles on Windows). Made when a style is written there."""
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False) / "styles"


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
        several = len(file_styles(meta)) > 1
        header = (next((p for p in meta.get("paintings", []) if p.get("style") == self.style), {})
                  if several else meta)
        painting = {k: header.get(k) or v for k, v in describe_painting(self.style).items()}
        return {"style": self.style, "norm": self.norm, "arch": self.arch, "path": str(self.path),
                **painting, "conditional": several or is_added_style(meta), "added": is_added_style(meta),
                "steps": int(meta.get("steps", 0)), "final_losses": meta.get("final_losses", {})}


def save_model(model: TransformerNet, path: str | os.PathLike, metadata: dict) -> Path:
    """Write fp16 weights + metadata atomically (style_app.files); raises OutputError."""
    header = {"format": FORMAT, "norm": model.norm, "arch_config": model.arch.to_dict(), **metadata}
    return write_weights(model.state_dict(), path, header)


def write_weights(state: dict[str, torch.Tensor], path: str | os.PathLike, header: dict) -> Path:
    """Tensors (floating point ones as fp16) and a header, serialized in memory and written
    atomically (style_app.files): a reader, a crash or a full disk never leaves half a file.
    Raises OutputError."""
    import torch
    from safetensors.torch import save

    header = {k: json.dumps(v) if k in JSON_KEYS else str(v) for k, v in header.items()}
    state = {k: v.detach().to("cpu", torch.float16 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in state.items()}
    return write_atomically(path, save(state, metadata=header))


def file_styles(metadata: dict) -> list[str]:
    """The style slugs a file's network holds, in the order of its style index."""
    return metadata.get("styles") or [metadata.get("style", "")]


def load_model(path: str | os.PathLike) -> tuple[TransformerNet, dict]:
    """Build the network a file describes and load its weights (fp32, eval mode).

    The header's architecture is first built on the meta device (no memory) and its tensor
    shapes compared with the file's, so a header that lies cannot make us allocate a huge net."""
    import torch
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from style_app.models.transformer import ArchConfig, TransformerNet

    meta = read_metadata(path)
    try:
        arch = ArchConfig.from_dict(meta["arch_config"])
        num_styles = len(file_styles(meta))
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in TransformerNet(meta["norm"], arch, num_styles).state_dict().items()}
        with safe_open(str(path), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        mismatch = shape_mismatch(expected, found)
        if mismatch:
            raise WeightsError(f"{path}: weights do not fit the network they describe ({mismatch})")
        model = TransformerNet(meta["norm"], arch, num_styles)
        state = check_finite(path, load_file(str(path)))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        detail = f"header lacks {e}" if isinstance(e, KeyError) else first_line(e)
        raise WeightsError(f"{path}: weights do not fit the network they describe ({detail})") from None
    return model.eval(), meta


def check_finite(path: str | os.PathLike, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state`, or a WeightsError naming the first tensor holding NaN or Inf: a damaged file, which
    would stylize every photo black."""
    import torch

    non_finite = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if non_finite:
        raise WeightsError(f"{path}: tensor {non_finite} holds NaN or Inf values; the file is damaged")
    return state


def shape_mismatch(expected: dict[str, tuple], found: dict[str, tuple]) -> str:
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
    by style, arch, norm (a user's model before a shipped one of the same name). A file that does
    not load is skipped with a warning naming it, so it cannot hide the good ones. An added style
    is listed while the network it was learned for is there."""
    folders = [Path(directory)] if directory else weights_dirs()
    found = []
    for path in [p for folder in folders if folder.is_dir() for p in sorted(folder.glob("*.safetensors"))]:
        try:
            meta = read_metadata(path)
        except WeightsError as e:
            warn_skipped(path, str(e))
            continue
        problem = added_style_problem(path, meta) if is_added_style(meta) else ""
        if problem:
            warn_skipped(path, f"{path}: {problem}")  # said on stderr, so a missing style has a reason
            continue
        found += file_models(path, meta)
    return sorted(found, key=lambda m: (m.style, m.arch, m.norm))


def added_style_problem(path: Path, metadata: dict, base: Path | None = None) -> str:
    """Why a style file cannot be used as its header describes it ("" when it can): its network is
    missing, or the header claims a norm, architecture or style name that its network contradicts
    (what defines a style file is its network and its rows, not what it says of itself)."""
    base = base or find_base(path, metadata)
    if base is None:
        recorded = metadata.get("base") or {}
        return (f"its network {recorded.get('name', '?')} (weights {str(recorded.get('sha256', '?'))[:12]}) "
                f"is not in the weights folders")
    base_meta = read_metadata(base)
    return style_header_mismatch(metadata, base_meta["norm"], file_styles(base_meta))


def style_header_mismatch(metadata: dict, norm: str, styles: list[str]) -> str:
    """A style file's header checked against its network (its norm and its styles' names; the rows'
    widths are checked against the network's layers when they load): "" or the contradiction."""
    if metadata.get("norm") != norm:
        return f"its header says norm {metadata.get('norm')!r}, but its network is a {norm}-norm network"
    if metadata.get("style") in styles:
        return (f"its header names the style {metadata.get('style')!r}, which its network already holds; "
                f"rename the style in a new add-style run")
    return ""


def file_models(path: str | os.PathLike, metadata: dict) -> list[ModelInfo]:
    """One ModelInfo per style the file at `path` (with header `metadata`) holds."""
    path = Path(path)
    return [ModelInfo(path, style or path.stem, metadata["norm"], arch_of(metadata), metadata)
            for style in file_styles(metadata)]


def arch_of(metadata: dict) -> str:
    """The architecture a file's header records; files from before it was recorded are all johnson."""
    return metadata.get("arch", "johnson")


_warned: set[tuple[Path, float]] = set()


def warn_skipped(path: Path, message: str) -> None:
    """Log a skipped file once per version of it (the registry is read on every request)."""
    key = (path, _mtime(path))
    if key not in _warned:
        _warned.add(key)
        log.warning("skipped %s", message)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def find_model(style: str, norm: str, arch: str = ZOO_ARCH,
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


def weights_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a safetensors file's tensors (names, dtypes, shapes and values), not of its
    header's metadata: the identity of a network, whatever its file is called or says of itself."""
    path = Path(path)
    stat = path.stat()
    return _tensors_hash(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _tensors_hash(path: str, mtime_ns: int, size: int) -> str:
    data = Path(path).read_bytes()
    try:
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
        header.pop("__metadata__", None)
        body, digest = memoryview(data)[8 + length:], hashlib.sha256()
        for name in sorted(header):
            start, end = header[name]["data_offsets"]
            digest.update(f"{name}:{header[name]['dtype']}:{header[name]['shape']};".encode())
            digest.update(body[start:end])
    except (ValueError, KeyError, TypeError) as e:
        raise WeightsError(f"{path}: not a readable safetensors file ({first_line(e)})") from None
    return digest.hexdigest()


def find_base(style_path: str | os.PathLike, metadata: dict) -> Path | None:
    """The network a style file was learned for: the file whose tensors have the recorded hash,
    looked for beside the style file and in the weights folders (the recorded name first)."""
    style_path, base = Path(style_path), metadata.get("base") or {}
    folders = list(dict.fromkeys([style_path.parent.resolve(), *weights_dirs()]))
    named = [f / str(base.get("name", "")) for f in folders]
    for path in [*named, *(p for f in folders if f.is_dir() for p in sorted(f.glob("*.safetensors")))]:
        try:
            if path.is_file() and path.resolve() != style_path.resolve() and weights_hash(path) == base.get("sha256"):
                return path
        except (OSError, WeightsError):
            continue
    return None
