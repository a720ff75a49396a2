"""The training settings' one table: the CLI's flags, defaults and range checks come from it."""
from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from style_app.cli import build_parser
from style_app.training.config import JOHNSON_TERMS, TrainConfig, field_defaults, terms_off
from style_app.training.losses import LOSS_SETTINGS

REQUIRED = ["--style-image", "p.jpg", "--content-dir", "photos", "--out", "m.safetensors"]


def command(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_every_flagged_field_is_a_train_flag_with_the_fields_default():
    args = build_parser().parse_args(["train", *REQUIRED])
    flagged = [f for f in fields(TrainConfig) if f.metadata["help"] or f.metadata["flag"]]
    assert {f.name for f in flagged} == {f.name for f in fields(TrainConfig)}
    for f in flagged:
        if f.name not in ("style_image", "content_dir", "out"):
            assert getattr(args, f.name) == field_defaults()[f.name], f.name


def test_add_style_takes_the_shared_flags_and_leaves_them_to_its_network():
    args = build_parser().parse_args(["add-style", "p.jpg", "--base", "instance"])
    shared = [f.name for f in fields(TrainConfig) if not f.metadata["train_only"]]
    assert all(getattr(args, name) is None for name in shared if name != "fast")
    own = {"out", "content_dir"}  # add-style's own flags of these names (its defaults differ)
    assert not any(hasattr(args, f.name) for f in fields(TrainConfig) if f.metadata["train_only"] and f.name not in own)


@pytest.mark.parametrize("f", [f for f in fields(TrainConfig) if f.metadata["range"]], ids=lambda f: f.name)
def test_every_number_flag_is_range_checked_from_the_table(f, capsys):
    r = f.metadata["range"]
    flag = f.metadata["flag"].get("option", "--" + f.name.replace("_", "-"))
    below = r.low if r.above else r.low - 1
    for bad in [below, *([r.high * 2] if r.high else [])]:
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args(["train", *REQUIRED, flag, str(r.kind(bad))])
        assert stop.value.code == 2
        assert flag in capsys.readouterr().err


def test_terms_off_and_johnson_terms_name_only_loss_settings():
    assert set(terms_off()) <= set(LOSS_SETTINGS)
    assert set(JOHNSON_TERMS) == set(LOSS_SETTINGS)
    assert all(JOHNSON_TERMS[name] == off for name, off in terms_off().items())
