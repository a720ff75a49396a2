"""The models committed in weights/: the zoo the UI and CLI serve on a fresh clone."""
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import random_photo
from style_app.paintings import painting_paths
from style_app.stylizer import Stylizer
from style_app.training.config import terms_off
from style_app.training.losses import LOSS_SETTINGS
from style_app.models.transformer import ZOO_ARCH
from style_app.training.train import TrainConfig
from style_app.weights import (SHIPPED_ENV, WEIGHTS_ENV, available_models, find_model, shipped_weights_dir,
                               user_weights_dir)

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
NORMS = {"instance", "batch", "layer", "group"}
MAX_FILE_BYTES = 8 * 2**20
#: what "one budget" means: every train setting but the norm and the seed (a draw: the GN network
#: ships from seed 43, docs/quality.md)
RECIPE = ("steps", "batch_size", "image_size", "style_size", "lr", "style_lr", "every_style", *LOSS_SETTINGS)


@pytest.fixture(scope="module")
def zoo():
    return available_models(WEIGHTS)


def test_every_style_has_all_four_norms_trained_at_one_budget(zoo):
    """The zoo is ZOO_ARCH networks (what the app serves when no architecture is named)."""
    zoo_arch = [m for m in zoo if m.arch == ZOO_ARCH]
    styles = {m.style for m in zoo_arch}
    assert len(styles) >= 4
    for style in styles:
        assert {m.norm for m in zoo_arch if m.style == style} == NORMS, style
    budgets = {(m.metadata["steps"], *(json.dumps(m.metadata["train_config"].get(k)) for k in RECIPE))
               for m in zoo_arch}
    assert len(budgets) == 1, budgets


def test_trains_defaults_are_the_zoos_recipe(zoo):
    """`style-app train` with no loss flags trains what the zoo was trained with (README)."""
    defaults = TrainConfig(style_image=["a.jpg", "b.jpg"], content_dir=".", out="m.safetensors")
    for m in (m for m in zoo if m.arch == ZOO_ARCH):
        recorded = m.metadata["train_config"]
        for k in RECIPE:
            assert json.dumps(recorded.get(k, terms_off().get(k))) == json.dumps(getattr(defaults, k)), (m.path.name, k)


def test_files_are_small_fp16_and_self_describing(zoo):
    for path in {m.path for m in zoo}:
        assert path.stat().st_size <= MAX_FILE_BYTES, path
    for m in zoo:
        d = m.describe()
        assert d["title"] and d["artist"] and d["year"], d
        assert {"content", "style", "total"} <= set(d["final_losses"]), d


def test_each_shipped_style_stylizes_differently(zoo):
    photo = random_photo(5, (48, 40))
    outputs = {m.style: np.asarray(Stylizer.from_file(m.path, "cpu", style=m.style).stylize(photo), float)
               for m in zoo if m.norm == "instance" and m.arch == ZOO_ARCH}
    values = list(outputs.values())
    for i in range(len(values)):
        for j in range(i):
            assert np.abs(values[i] - values[j]).mean() > 2  # a distinct painting each, not one network


def test_held_out_scores_cover_the_zoo_and_name_its_files(zoo):
    """weights/scores.json (the Compare tab's table) scores every zoo network, each row naming the
    shipped file it measured, so a row cannot outlive a swapped network unnoticed."""
    rows = json.loads((WEIGHTS / "scores.json").read_text())
    scored = {(r["style"], r["norm"], r["arch"]): r["source"] for r in rows}
    assert len(scored) == len(rows)
    assert scored == {(m.style, m.norm, m.arch): m.path.name for m in zoo if m.arch == ZOO_ARCH}


def test_zoo_metadata_names_no_folder_of_the_training_machine(zoo):
    """A user has none of the folders the zoo was trained from: the headers keep file names only."""
    for m in zoo:
        config = m.metadata["train_config"]
        paths = painting_paths(config["style_image"]) + [config[k] for k in ("content_dir", "val_dir", "vgg_weights")]
        assert all(not Path(p).is_absolute() and ".." not in Path(p).parts for p in paths), (m.path.name, paths)
        assert "shared" not in json.dumps(m.metadata), m.path.name


def test_the_zoo_and_the_users_folder_are_both_listed(weights_folder, monkeypatch):
    monkeypatch.delenv(SHIPPED_ENV)
    monkeypatch.setenv(WEIGHTS_ENV, str(weights_folder))
    assert shipped_weights_dir() == WEIGHTS and user_weights_dir() == weights_folder
    folders = {m.path.parent for m in available_models()}
    assert folders == {WEIGHTS, weights_folder}
    # a user's model wins over the shipped one of the same name
    assert find_model("starry_night", "instance").path == weights_folder / "starry_night_instance.safetensors"
    assert find_model("the_scream", "instance").path.parent == WEIGHTS
    monkeypatch.setenv(SHIPPED_ENV, "0")
    assert {m.path.parent for m in available_models()} == {weights_folder}
