"""Issue 48, class 6: the "Add a painting" tab. Only the session that started a training may
cancel it; messages are in the page's words (no CLI flag, no server path); a long upload name
with no style name typed gets a valid name; size and flatness come before any training."""
from __future__ import annotations

import pytest
from PIL import Image

from helpers import random_photo
from style_app.errors import StyleAppError, for_page
from style_app.files import cannot_write
from style_app.web import handlers


def test_only_the_session_that_started_a_training_may_cancel_it(served_folder, painting):
    handlers.start_adding(painting, "mine", ["instance"], 100_000, random_photo(1), session="alice")
    with pytest.raises(StyleAppError, match=r"^busy: mine, .* is being learned"):
        handlers.cancel_adding("bob")
    assert handlers.TRAINER.progress().running
    assert "steps left" in handlers.cancel_adding("alice")
    assert handlers.TRAINER.wait(60).message.startswith("cancelled mine")


def test_page_messages_name_no_flag_and_no_server_path(served_folder, painting, tmp_path):
    with pytest.raises(StyleAppError) as taken:
        handlers.start_adding(painting, "starry_night", ["instance"], 5, random_photo(1))
    assert str(taken.value) == "style name 'starry_night' is taken by a shipped style; type another name"
    handlers.start_adding(painting, "twice", ["instance"], 2, random_photo(1))
    handlers.TRAINER.wait(60)
    with pytest.raises(StyleAppError) as again:
        handlers.start_adding(painting, "twice", ["instance"], 2, random_photo(1))
    assert "--" not in str(again.value) and str(tmp_path) not in str(again.value), again.value
    assert "type another name" in str(again.value)
    full = cannot_write(served_folder / "zz_tiny_instance.safetensors", OSError(28, "No space left on device"))
    assert for_page(str(full)) == "zz_tiny_instance.safetensors: cannot write (No space left on device); " \
                                  "nothing was written"


def test_a_long_file_name_with_no_style_name_gets_a_valid_name(served_folder, tmp_path):
    long = tmp_path / ("A Very Long Painting Title " * 5)[:120].replace(" ", "-")
    long = long.with_suffix(".png")
    random_photo(4, (64, 64)).save(long)
    handlers.start_adding(long, "", ["instance"], 2, random_photo(1))
    done = handlers.TRAINER.wait(60)
    assert done.message.startswith("done: added a_very_long_painting_title"), done.message
    (added,) = [p for p in served_folder.glob("a_very_long*.safetensors")]
    assert len(added.name.split("_tiny_instance")[0]) <= 64


def test_a_huge_flat_painting_is_refused_before_training(served_folder, tmp_path):
    """64 megapixels of one colour (a small PNG): refused by the flatness check, never trained."""
    flat = tmp_path / "flat.png"
    Image.new("RGB", (8000, 8000), (90, 120, 200)).save(flat)
    with pytest.raises(StyleAppError, match="^flat.png: the painting is one flat colour"):
        handlers.start_adding(flat, "", ["instance"], 5, random_photo(1))
    assert not handlers.TRAINER.progress().running


def test_finished_trainings_leave_no_tensors_behind(served_folder, painting):
    """The memory that grew with each finished training is not held by Python objects: after the
    first training (caches warm), later ones leave the count of live tensors where it was, so what
    remains is the allocator's cache (trimmed by style_app/web/serving.py), not a leak."""
    import gc
    import warnings

    import torch

    def live_tensors() -> int:
        gc.collect()
        with warnings.catch_warnings():  # isinstance on torch's deprecated module attributes warns
            warnings.simplefilter("ignore")
            return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))

    counts = []
    for i in range(4):
        handlers.start_adding(painting, f"round{i}", ["instance"], 2, random_photo(1))
        assert handlers.TRAINER.wait(60).message.startswith("done"), handlers.TRAINER.progress().message
        handlers.style_choices()
        counts.append(live_tensors())
    assert counts[1:] == [counts[1]] * 3, counts
