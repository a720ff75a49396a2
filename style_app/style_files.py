"""Added styles: a painting learned for an existing conditional network, stored as one more row of
that network's per-style norm parameters (Dumoulin et al. 2017). For the Johnson network that is
3,200 numbers, a file of a few KB.

A style file holds, for each `StyleConditional` layer, the new style's scale and shift (batch norm:
also its running mean and variance), and the identity of the network it was learned for: the
network's file name and a hash of its weights. Loading a network appends the styles added to it in
the weights folders, so added styles are selected, blended and compared like shipped ones; a style
file loads only onto the network it was learned for.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from style_app.models.norms import PerStyleBatchNorm, StyleConditional
from style_app.models.transformer import ZOO_ARCH, TransformerNet
from style_app.errors import WeightsError
from style_app.paintings import describe
from style_app.weights import (STYLE_FORMAT, ModelInfo, available_models, check_finite, file_styles,
                               find_base, style_header_mismatch,
                               is_added_style, load_model, read_metadata, shape_mismatch, warn_skipped, weights_dirs,
                               weights_hash, write_weights)


def per_style_keys(model: TransformerNet) -> list[str]:
    """The state-dict entries that hold one row per style: every conditional layer's scale and
    shift, and batch norm's running statistics. Everything else is shared by all styles."""
    keys = []
    for name, module in model.named_modules():
        if isinstance(module, StyleConditional):
            keys += [f"{name}.weight", f"{name}.bias"]
            if isinstance(module.norm, PerStyleBatchNorm):
                keys += [f"{name}.norm.running_mean", f"{name}.norm.running_var"]
    return keys


def style_row(model: TransformerNet, index: int) -> dict[str, torch.Tensor]:
    """Style `index`'s norm parameters (and BN statistics), one (C,) tensor per entry."""
    state = model.state_dict()
    return {key: state[key][index].detach().cpu() for key in per_style_keys(model)}


def with_added_styles(model: TransformerNet, rows: list[dict[str, torch.Tensor]]) -> TransformerNet:
    """A copy of `model` holding its styles and then one more per entry of `rows`."""
    if not rows:
        return model
    state = model.state_dict()
    for key in per_style_keys(model):
        state[key] = torch.cat([state[key], *(row[key][None].to(state[key]) for row in rows)])
    grown = TransformerNet(model.norm, model.arch, model.num_styles + len(rows))
    grown.load_state_dict(state)
    return grown.to(next(model.parameters()).device).train(model.training)


def base_identity(base_path: str | os.PathLike) -> dict[str, str]:
    """What a style file records of its network: the file name and the hash of its weights."""
    return {"name": Path(base_path).name, "sha256": weights_hash(base_path)}


def save_style(model: TransformerNet, index: int, path: str | os.PathLike, base_path: str | os.PathLike,
               metadata: dict) -> Path:
    """Write style `index` of `model` (a network grown from the one at `base_path`) as a style
    file, atomically. `metadata` describes the style (style slug, painting, training)."""
    header = {"format": STYLE_FORMAT, "norm": model.norm, "arch_config": model.arch.to_dict(),
              "base": base_identity(base_path), **metadata}
    return write_weights(style_row(model, index), path, header)


def read_style_rows(path: str | os.PathLike, model: TransformerNet) -> dict[str, torch.Tensor]:
    """A style file's rows, checked against the network's layers before anything is loaded."""
    expected = {key: (model.state_dict()[key].shape[1],) for key in per_style_keys(model)}
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        mismatch = shape_mismatch(expected, found)
        if mismatch:
            raise WeightsError(f"{path}: does not fit its network ({mismatch})")
        return {k: v.float() for k, v in check_finite(path, load_file(str(path))).items()}
    except (SafetensorError, OSError) as e:
        raise WeightsError(f"{path}: not a readable style file ({e})") from None


def base_of(path: Path, metadata: dict, base: str | os.PathLike | None = None) -> Path:
    """The network a style file loads onto: `base` when given (it must be the one the style was
    learned for), else the one `weights.find_base` finds."""
    recorded = metadata.get("base") or {}
    wanted = f"{recorded.get('name', '?')} (weights {str(recorded.get('sha256', '?'))[:12]})"
    if base is not None:
        if Path(base).is_file() and weights_hash(base) == recorded.get("sha256"):
            return Path(base)
        raise WeightsError(f"{path}: learned for the network {wanted}, not for {base}; a style "
                           f"loads only onto its own network")
    found = find_base(path, metadata)
    if found is None:
        folders = ", ".join(str(d) for d in [path.parent, *weights_dirs()])
        raise WeightsError(f"{path}: its network {wanted} is not in {folders}")
    return found


def conditional_network(norm: str, arch: str = ZOO_ARCH) -> Path | None:
    """The largest shipped (not added) network of `norm` and `arch` that holds several styles."""
    networks = [info for info in available_models() if (info.norm, info.arch) == (norm, arch)
                and not is_added_style(info.metadata) and len(file_styles(info.metadata)) > 1]
    return max(networks, key=lambda info: len(file_styles(info.metadata))).path if networks else None


def added_styles(base_path: str | os.PathLike) -> list[ModelInfo]:
    """The style files in the weights folders learned for the network at `base_path`."""
    identity = weights_hash(base_path)
    return [info for info in available_models()
            if is_added_style(info.metadata) and info.metadata["base"].get("sha256") == identity]


def load_network(path: str | os.PathLike, base: str | os.PathLike | None = None) -> tuple[TransformerNet, dict]:
    """Any model file, ready to stylize (fp32, eval mode): a network with the styles added to it,
    or a style file on its network (`base`, or found in the weights folders), with the other styles
    added to that network. The metadata lists every style; `default_style` names a style file's own."""
    path = Path(path)
    metadata = read_metadata(path)
    if not is_added_style(metadata):
        return _with_added_styles(path, [])
    return _with_added_styles(base_of(path, metadata, base), [(path, metadata)])


def _with_added_styles(base_path: Path, own: list[tuple[Path, dict]]) -> tuple[TransformerNet, dict]:
    model, metadata = load_model(base_path)
    if model.num_styles == 1:
        return model, metadata  # a one-style network has no per-style rows to add to
    styles = file_styles(metadata)
    chosen: list[tuple[dict, dict[str, torch.Tensor]]] = []  # (header, rows) of each added style
    for style_path, meta in own + [(info.path, info.metadata) for info in added_styles(base_path)]:
        if meta["style"] in [m["style"] for m, _ in chosen]:
            continue  # first-found wins among added styles
        try:
            problem = style_header_mismatch(meta, model.norm, styles)
            if problem:  # e.g. a header edited to say starry_night would stylize as the shipped one
                raise WeightsError(f"{style_path}: {problem}")
            chosen.append((meta, read_style_rows(style_path, model)))
        except WeightsError as e:
            if own and style_path == own[0][0]:
                raise
            warn_skipped(style_path, str(e))  # another added style's damaged file must not hide the network
    paintings = metadata.get("paintings") or [{"style": s, **describe(s)} for s in styles]
    merged = {**metadata, "styles": styles + [m["style"] for m, _ in chosen],
              "paintings": paintings + [{"style": m["style"], **{k: m.get(k, "") for k in ("title", "artist", "year")}}
                                        for m, _ in chosen]}
    if own:
        merged["default_style"] = own[0][1]["style"]
    return with_added_styles(model, [rows for _, rows in chosen]).eval(), merged
