"""The web UI's "Add a painting" tab and the lab's norm-parameter panel, through their plain
functions: one background training for the whole server, progress, cancel, and new styles listed."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import random_photo
from style_app.errors import ImageError, StyleAppError
from style_app.training.add_style import CONTENT_DIR_ENV
from style_app.web import handlers
from style_app.web.trainer import VGG_OFFLINE


def test_a_painting_added_in_the_background_joins_the_style_lists(served_folder, painting):
    assert [n for _, n in handlers.base_norms()] == ["instance", "batch"]
    finished = handlers.TRAINER.progress().finished
    report = handlers.start_adding(painting, "", ["instance", "batch"], 30, random_photo(1, (40, 32)))
    assert "<progress" in report and "udnie, Instance norm (IN)" in report
    with pytest.raises(StyleAppError, match=r"busy: udnie, .* is being learned, \d+ steps left"):
        handlers.start_adding(painting, "other", ["instance"], 5, random_photo(1))
    assert handlers.stylize(random_photo(2, (40, 32)), "starry_night", "instance").image.size == (40, 32)  # meanwhile
    done = handlers.TRAINER.wait(120)
    assert not done.running and done.message == "done: added udnie, Instance norm (IN); udnie, Batch norm (BN)"
    assert done.finished == finished + 2 and done.preview.size == (40, 32)
    assert "udnie" in dict((slug, label) for label, slug in handlers.style_choices())
    assert sorted(p.name for p in served_folder.iterdir() if p.name.startswith("udnie")) == [
        "udnie_tiny_batch.losses.jsonl", "udnie_tiny_batch.safetensors",
        "udnie_tiny_instance.losses.jsonl", "udnie_tiny_instance.safetensors"]  # no checkpoint left behind
    assert handlers.stylize(random_photo(2, (40, 32)), "udnie", "batch", blend_with="great_wave", blend=0.5).image


def test_cancel_stops_between_steps_and_saves_nothing_half_done(served_folder, painting):
    handlers.start_adding(painting, "half_done", ["batch"], 100_000, random_photo(1))
    assert "steps left" in handlers.cancel_adding()
    done = handlers.TRAINER.wait(60)
    assert done.message.startswith("cancelled half_done, Batch norm (BN) at step ")
    assert not list(served_folder.glob("half_done*.safetensors")) and not list(served_folder.glob("*.ckpt"))
    with pytest.raises(StyleAppError, match="no painting is being learned"):
        handlers.cancel_adding()
    assert handlers.progress_report(done).startswith("<p>cancelled half_done")


def test_bad_requests_are_refused_before_training(served_folder, painting, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not a painting")
    with pytest.raises(ImageError, match="^notes.png: not an image file Pillow can read"):
        handlers.start_adding(notes, "", ["instance"], 5, random_photo(1))
    with pytest.raises(StyleAppError, match="pick at least one normalization"):
        handlers.start_adding(painting, "", [], 5, random_photo(1))
    with pytest.raises(StyleAppError, match="'great_wave' is taken by a shipped style"):
        handlers.start_adding(painting, "great_wave", ["instance"], 5, random_photo(1))
    assert not handlers.TRAINER.progress().running
    assert "<script>" not in handlers.progress_report(handlers.TRAINER.progress().__class__(message="<script>"))


def test_lab_plots_each_styles_scale_and_shift(served_folder, painting):
    layers = dict((name, label) for label, name in handlers.parameter_layers("batch"))
    assert layers["enc1.1"] == "enc1.1 (4 channels)" and "res.0.body.2" in layers
    frame, sentence = handlers.style_parameter_frames("batch", "enc2.1")
    assert list(frame.columns) == ["style", "channel", "scale", "shift"] and len(frame) == 2 * 8
    assert frame.groupby("style")["scale"].std().min() > 0  # the rows differ per painting
    per_style = 2 * (4 + 8 + 8 + 8 + 8 + 8 + 4)  # scale and shift of every norm channel of the tiny network
    assert f"{per_style:,} numbers per painting" in sentence
    handlers.start_adding(painting, "", ["batch"], 2, random_photo(1))
    handlers.TRAINER.wait(60)
    assert set(handlers.style_parameter_frames("batch", "enc2.1")[0]["style"]) == {"starry_night", "great_wave",
                                                                                 "udnie"}
    with pytest.raises(StyleAppError, match="not a conditional norm layer"):
        handlers.style_parameter_frames("batch", "enc2.0")
    with pytest.raises(StyleAppError, match="no conditional Layer norm"):
        handlers.style_parameter_frames("layer")


def test_no_painting_and_no_photos_say_what_is_missing(served_folder, painting, monkeypatch):
    with pytest.raises(ImageError, match="^no painting: upload the painting"):
        handlers.start_adding(None, "", ["instance"], 5, random_photo(1))
    monkeypatch.delenv(CONTENT_DIR_ENV)
    with pytest.raises(StyleAppError, match="^no training photos: upload a few photos"):
        handlers.start_adding(painting, "", ["instance"], 5, random_photo(1), [])
    assert not handlers.TRAINER.progress().running


def test_a_painting_learns_from_photos_uploaded_in_the_page(served_folder, painting, photo_dir, monkeypatch):
    """No content folder configured (a plain `python app.py`): the uploaded photos are the training set."""
    monkeypatch.delenv(CONTENT_DIR_ENV)
    uploads = sorted(str(p) for p in photo_dir.rglob("*.*"))[:3]
    seen = []
    real_start = handlers.TRAINER.start
    monkeypatch.setattr(handlers.TRAINER, "start", lambda jobs, *a, **kw: seen.extend(jobs) or real_start(jobs, *a, **kw))
    handlers.start_adding(painting, "from_uploads", ["instance"], 3, random_photo(1), uploads)
    done = handlers.TRAINER.wait(120)
    assert done.message == "done: added from_uploads, Instance norm (IN)", done.message
    folder = Path(seen[0].content_dir)
    assert not folder.exists()  # the copies are gone once the training ended
    assert "from_uploads" in {slug for _, slug in handlers.style_choices()}
    bad = photo_dir.parent / "notes.png"
    bad.write_text("not a photo")
    with pytest.raises(ImageError, match="^notes.png: not an image file"):
        handlers.start_adding(painting, "other", ["instance"], 3, random_photo(1), [*uploads, str(bad)])


def test_offline_without_vgg_file_the_page_says_what_to_run(served_folder, painting, monkeypatch):
    from style_app.models import vgg

    def offline():
        raise vgg.VGGWeightsError("no VGG-16 weights: ... (URLError: <urlopen error [Errno -3]>)")

    monkeypatch.delenv("STYLE_APP_VGG_WEIGHTS")
    monkeypatch.setattr(vgg, "_torchvision_state", offline)
    handlers.start_adding(painting, "offline", ["instance"], 3, random_photo(1))
    done = handlers.TRAINER.wait(60)
    assert done.message == "stopped: " + VGG_OFFLINE
    assert "style-app vgg-weights --out vgg16.safetensors" in done.message and done.message.count(". ") == 0
    assert "style-app serve --vgg-weights" in done.message


def test_the_page_says_where_added_paintings_go(served_folder):
    assert str(served_folder) in handlers.styles_folder_note()
