"""The models committed in weights/: the zoo the UI and CLI serve on a fresh clone."""
from pathlib import Path

import numpy as np
import pytest

from helpers import random_photo
from style_app.stylizer import Stylizer
from style_app.weights import available_models

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
NORMS = {"instance", "batch", "layer", "group"}
MAX_FILE_BYTES = 8 * 2**20


@pytest.fixture(scope="module")
def zoo():
    return available_models(WEIGHTS)


def test_every_style_has_all_four_norms_trained_at_one_budget(zoo):
    johnson = [m for m in zoo if m.arch == "johnson"]
    styles = {m.style for m in johnson}
    assert len(styles) >= 4
    for style in styles:
        assert {m.norm for m in johnson if m.style == style} == NORMS, style
    budgets = {(m.metadata["steps"], *(m.metadata["train_config"][k] for k in
               ("batch_size", "image_size", "style_size", "seed", "content_weight", "style_weight", "tv_weight")))
               for m in johnson}
    assert len(budgets) == 1, budgets


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
               for m in zoo if m.norm == "instance" and m.arch == "johnson"}
    values = list(outputs.values())
    for i in range(len(values)):
        for j in range(i):
            assert np.abs(values[i] - values[j]).mean() > 2  # a distinct painting each, not one network
