"""The normalization lab's computations: seed tensor figures, BN batch statistics, sensitivity sweeps."""
from __future__ import annotations

import pytest
import torch
from helpers import random_photo

from style_app.web import lab
from style_app.stylizer import cached_stylizer


def test_seed_tensor_figures_come_from_make_norm():
    torch.testing.assert_close(lab.normalize_seed("batch")[0, 0],
                               torch.tensor([[-1.0945, -0.8955], [-1.0945, -0.8955]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(lab.normalize_seed("instance")[1, 1],
                               torch.tensor([[-1.0, 1.0], [-1.0, 1.0]]), atol=1e-4, rtol=0)
    torch.testing.assert_close(lab.normalize_seed("layer")[1, 0],
                               torch.tensor([[-0.8660, 0.0], [-0.8660, 0.0]]), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="unknown norm"):
        lab.normalize_seed("magic")


def test_batch_statistics_differ_from_running_and_depend_on_the_batch(shipped):
    photo = random_photo(1, (32, 24))
    running = lab.stylize_batch([photo], "starry_night", batch_statistics=False)[0]
    alone = lab.stylize_batch([photo], "starry_night")[0]
    with_a = lab.stylize_batch([photo, random_photo(2, (32, 24))], "starry_night")[0]
    with_b = lab.stylize_batch([photo, random_photo(3, (50, 20))], "starry_night")[0]  # resized to fit
    assert running.size == alone.size == with_a.size == with_b.size == (32, 24)
    assert lab.output_change(alone, running) > 0
    assert lab.output_change(alone, with_a) > 0 and lab.output_change(with_a, with_b) > 0
    # the running-statistics path is the Stylizer's own inference (up to its fast path's rounding)
    assert lab.output_change(running, cached_stylizer("starry_night", "batch").stylize(photo)) < 1


def test_instance_norm_model_is_batch_independent(shipped):
    photo = random_photo(1, (32, 24))
    alone = lab.stylize_batch([photo], "starry_night", "instance")[0]
    batched = lab.stylize_batch([photo, random_photo(2, (32, 24))], "starry_night", "instance")[0]
    assert lab.output_change(alone, batched) < 0.5


def test_compare_with_batch_statistics_only_changes_bn(shipped):
    photo = random_photo(4, (30, 30))
    results = lab.compare_with_batch_statistics(photo, "great_wave")
    assert [r.norm for r in results] == ["instance", "batch", "layer", "group"]
    assert results[1].image.tobytes() == lab.stylize_batch([photo], "great_wave")[0].tobytes()


def test_adjust_and_sensitivity_rows(shipped):
    photo = random_photo(5, (24, 24))
    assert lab.adjust(photo).tobytes() == photo.tobytes()
    assert lab.output_change(lab.adjust(photo, brightness=0.5), photo) > 10
    rows = lab.sensitivity(photo, "starry_night", "contrast", (0.5, 1.0), max_size=16)
    assert len(rows) == 8 and {r["factor"] for r in rows} == {0.5, 1.0}
    assert all(r["change"] == 0 for r in rows if r["factor"] == 1.0)
    with pytest.raises(ValueError, match="unknown adjustment"):
        lab.sensitivity(photo, "starry_night", "saturation", (1.0,))
