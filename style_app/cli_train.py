"""`style-app train` and `add-style`: their flags are TrainConfig's fields (style_app.training.config),
each with its default, range check and help from the table."""
from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from style_app.arguments import add_weights_dir, number_in


def add_train(p: argparse.ArgumentParser) -> None:
    """`style-app train`: the flags are TrainConfig's fields (style_app.training.config)."""
    from style_app.training.config import field_defaults
    add_config_flags(p, field_defaults(), train_only=True)
    add_config_flags(p, field_defaults())
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_train)


def add_add_style(p: argparse.ArgumentParser) -> None:
    """`style-app add-style`: a new painting for a conditional network, its norm parameters only.
    Loss settings left out are the network's own (None here)."""
    from style_app.training.config import field_defaults
    p.add_argument("painting", metavar="PAINTING")
    p.add_argument("--base", required=True, metavar="NETWORK_OR_NORM",
                   help="a conditional network file, or a norm (instance, batch, layer, group): that norm's shipped one")
    p.add_argument("--name", help="the style's name (default: from the painting's file name)")
    p.add_argument("--out", help="style file to write (default: <weights dir>/<name>_<network>.safetensors)")
    add_weights_dir(p)
    p.add_argument("--content-dir", help="training photos (default: env STYLE_APP_CONTENT_DIR)")
    p.add_argument("--init", help="start from this style of the network, 'mean', or 'auto' (default: whichever "
                   "has the lower loss for the painting)")
    add_config_flags(p, dict.fromkeys(field_defaults()))
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_add_style)


def add_config_flags(p: argparse.ArgumentParser, defaults: dict, train_only: bool = False) -> None:
    """One flag per TrainConfig field that has help (`train_only`: those of `train` alone, else
    those `train` and `add-style` share), its type, range check and help from the field."""

    from style_app.training.config import TrainConfig
    for f in fields(TrainConfig):
        meta = f.metadata
        if not (meta["help"] or meta["flag"]) or meta["train_only"] != train_only:
            continue
        options = dict(meta["flag"])
        flag = options.pop("option", "--" + f.name.replace("_", "-"))
        if isinstance(f.default, bool) and "action" not in options:
            options["action"] = argparse.BooleanOptionalAction
        if meta["range"] is not None:
            r = meta["range"]
            options["type"] = number_in(r.kind, r.low, r.high, r.above)
        default = defaults[f.name]
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        suffix = f" (default: {shown})" if shown is not None and not isinstance(default, bool) else ""
        help_text = meta["help"] + suffix if meta["help"] else None
        if options.get("action") == "store_false":
            p.add_argument(flag, dest=f.name, help=help_text, **options)
        else:
            p.add_argument(flag, dest=f.name, default=default, help=help_text, **options)


def run_train(args: argparse.Namespace) -> None:
    from style_app.training.config import TrainConfig
    from style_app.training.train import train

    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
    path = train(cfg, progress=not args.quiet)
    print(f"wrote {path}")


def run_add_style(args: argparse.Namespace) -> None:
    from style_app.training.add_style import add_style_config, train_style
    from style_app.training.config import TrainConfig

    given = {"style_image", "content_dir", "out", "norm", "arch", "warm_start", "every_style"}
    settings = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name not in given}
    cfg = add_style_config(args.painting, args.base, args.name, args.out, args.content_dir, init=args.init,
                           **settings)
    path = train_style(cfg, progress=not args.quiet)
    print(f"wrote {path}: style {cfg.name} for {Path(cfg.base).name}")
