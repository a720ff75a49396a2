"""The web UI: the plain functions behind it, and both API endpoints through gradio_client."""
from __future__ import annotations

import json
import logging
import time

import gradio as gr
import numpy as np
import pytest
import torch
from helpers import random_photo
from gradio.data_classes import ImageData

from style_app.models.transformer import ARCHS, ZOO_ARCH, TransformerNet
from style_app.web import handlers
from style_app.errors import ImageError, StyleAppError
from style_app.web.widgets import pass_paths_unopened, user_errors
from style_app.weights import save_model


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "photo.png"
    random_photo(3, (40, 32)).save(path)
    return path


@pytest.fixture
def corrupt_file(tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    return path


def test_style_choices_show_title_and_artist_but_pass_the_slug(shipped):
    choices = dict(handlers.style_choices())
    assert choices == {"The Great Wave off Kanagawa (Katsushika Hokusai)": "great_wave",
                       "The Starry Night (Vincent van Gogh)": "starry_night"}


def test_norm_choices_in_teaching_order(shipped):
    assert [kind for _, kind in handlers.norm_choices()] == ["instance", "batch", "layer", "group"]


def test_load_photo_downscales_large_uploads_with_a_note(photo_file):
    small = handlers.load_photo(photo_file, max_side=64)
    assert small.image.size == (40, 32) and small.note == ""
    shrunk = handlers.load_photo(photo_file, max_side=20)
    assert shrunk.image.size == (20, 16)
    assert "40x32" in shrunk.note and "20x16" in shrunk.note


def test_load_photo_names_a_bad_upload_by_file_name_only(corrupt_file):
    with pytest.raises(ImageError) as e:
        handlers.load_photo(corrupt_file)
    assert str(e.value).startswith("broken.jpg: ") and str(corrupt_file.parent) not in str(e.value)
    with pytest.raises(ImageError, match="no photo"):
        handlers.load_photo(None)


def test_stylize_reports_size_time_and_device(shipped):
    result = handlers.stylize(random_photo(1, (40, 32)), "starry_night", "layer", strength=0.5, max_size=20)
    assert result.image.size == (20, 16)
    report = result.report("downscaled")
    assert "20x16 px" in report and " ms on CPU" in report and report.endswith("downscaled")


@pytest.fixture
def conditional_shipped(tmp_path, monkeypatch):
    """One conditional network per norm, each holding the styles starry_night and great_wave."""
    from style_app.stylizer import cached_stylizer

    torch.manual_seed(0)
    for norm in ("instance", "batch", "layer", "group"):
        net = TransformerNet(norm, "slim", num_styles=2)
        for p in net.parameters():
            torch.nn.init.normal_(p, std=0.3)
        save_model(net, tmp_path / f"zoo_{norm}.safetensors", {"styles": ["starry_night", "great_wave"],
                                                                 "arch": ZOO_ARCH})
    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(tmp_path))
    cached_stylizer.cache_clear()
    yield tmp_path
    cached_stylizer.cache_clear()


def test_stylize_blends_two_styles_of_a_conditional_network(conditional_shipped):
    photo = random_photo(1, (40, 32))
    assert [slug for _, slug in handlers.style_choices()] == ["great_wave", "starry_night"]

    def pixels(**kw) -> np.ndarray:
        return np.asarray(handlers.stylize(photo, "starry_night", "instance", **kw).image, dtype=float)

    plain, other = pixels(), np.asarray(handlers.stylize(photo, "great_wave", "instance").image, dtype=float)
    half = pixels(blend_with="great_wave", blend=0.5)
    assert np.array_equal(pixels(blend_with="great_wave", blend=0.0), plain)
    assert np.array_equal(pixels(blend_with="great_wave", blend=1.0), other)
    assert np.abs(half - plain).mean() > 1 and np.abs(half - other).mean() > 1


def test_blending_separate_networks_is_a_clear_error(shipped):
    with pytest.raises(StyleAppError, match="only styles of one conditional network"):
        handlers.stylize(random_photo(1, (40, 32)), "starry_night", "instance", blend_with="great_wave", blend=0.5)


def test_compare_labels_each_norm_and_switches_bn_statistics(shipped):
    photo = random_photo(2, (36, 28))
    running = handlers.compare(photo, "great_wave")
    batch = handlers.compare(photo, "great_wave", bn_batch_statistics=True)
    assert [r.norm for r in running] == ["instance", "batch", "layer", "group"]
    captions = [caption for _, caption in handlers.gallery(batch, bn_batch_statistics=True)]
    assert captions[1].startswith("Batch norm (BN)") and captions[1].endswith("(batch statistics)")
    assert running[1].image.tobytes() != batch[1].image.tobytes()
    assert running[0].image.tobytes() == batch[0].image.tobytes()  # only BN changes
    table = handlers.latency_table(running, "great_wave")
    assert list(table["Normalization"]) == ["Instance norm (IN)", "Batch norm (BN)", "Layer norm (LN)",
                                            "Group norm (GN)"]
    assert (table["Latency (ms)"] >= 0).all()
    assert set(table["Content loss"]) == {"not measured"}  # no scores.json in this folder


def test_compare_table_shows_the_held_out_scores(shipped):
    rows = [{"style": "great_wave", "norm": n, "arch": ZOO_ARCH, "style_ratio": r, "content_loss": 0.5,
             "palette_ratio": 0.3, "contrast_ratio": 0.9, "blobs": 0.25, "grid": 1.5}
            for n, r in (("instance", 0.4912), ("batch", 0.65))]
    (shipped / handlers.SCORES_FILE).write_text(json.dumps(rows))
    try:
        table = handlers.latency_table(handlers.compare(random_photo(2, (36, 28)), "great_wave"), "great_wave")
    finally:
        (shipped / handlers.SCORES_FILE).unlink()
    assert list(table["Gram ratio"]) == ["0.491", "0.650", "not measured", "not measured"]
    assert list(table.iloc[0])[3:] == ["0.300", "0.900", "0.250", "1.500", "0.500"]  # palette, contrast, blobs, grid, content
    (shipped / handlers.SCORES_FILE).write_text("{broken")
    try:
        assert handlers.held_out_scores() == {}
    finally:
        (shipped / handlers.SCORES_FILE).unlink()


def test_averaging_table_is_the_seed_lesson():
    table = handlers.averaging_table().set_index("Normalization")["Averages over"]
    assert table.to_dict() == {"Instance norm (IN)": "H, W", "Batch norm (BN)": "N, H, W",
                               "Layer norm (LN)": "C, H, W", "Group norm (GN)": "C/G, H, W"}


def test_seed_table_shows_the_notebook_figures():
    bn = handlers.seed_table("batch")
    assert bn.iloc[0, 2] == "[0, 1; 0, 1]"
    assert bn.iloc[0, 3] == "[-1.0945, -0.8955; -1.0945, -0.8955]"
    assert bn.iloc[3, 3] == "[0.8955, 1.0945; 0.8955, 1.0945]"
    assert handlers.seed_table("layer").iloc[0, 3] == "[-0.866, 0; -0.866, 0]"
    assert handlers.seed_table("instance").iloc[3, 3] == "[-1, 1; -1, 1]"


def test_adjusted_outputs_and_sensitivity(shipped):
    photo = random_photo(4, (32, 24))
    adjusted, tiles = handlers.adjusted_outputs(photo, "starry_night", contrast=1.5, brightness=0.6, max_size=24)
    assert adjusted.size == (24, 18) and len(tiles) == 4
    assert all(" Δ " in caption for _, caption in tiles)
    frame = handlers.sensitivity_frame(photo, "starry_night", "brightness", factors=(0.5, 1.0), max_size=16)
    assert list(frame.columns) == ["norm", "factor", "change"] and len(frame) == 8
    assert (frame[frame.factor == 1.0]["change"] == 0).all()


def test_batch_dependence_measures_the_difference(shipped):
    photo = random_photo(5, (24, 20))
    tiles, summary = handlers.batch_dependence(photo, "starry_night", [random_photo(6), random_photo(7)], max_size=24)
    assert len(tiles) == 3 and "with 2 other photo(s)" in tiles[2][1]
    assert summary.startswith("Same photo, same weights")
    with pytest.raises(StyleAppError, match="at least one"):
        handlers.batch_dependence(photo, "starry_night", [])


def test_loss_curves_come_from_the_model_metadata(shipped, tmp_path, monkeypatch):
    assert handlers.loss_curves("starry_night").empty  # the test models were never trained
    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(tmp_path))
    save_model(TransformerNet("instance"), tmp_path / "curvy_instance.safetensors",
               {"style": "curvy", "arch": ZOO_ARCH,
                "loss_curve": [[0, 9.0, 1.0, 7.0, 1.0], [10, 4.0, 1.5, 2.0, 0.5]]})
    other = next(arch for arch in ARCHS if arch != ZOO_ARCH)
    save_model(TransformerNet("instance", other), tmp_path / f"curvy_instance_{other}.safetensors",
               {"style": "curvy", "arch": other, "loss_curve": [[0, 5.0, 1.0, 3.0, 1.0]]})
    total = handlers.loss_curves("curvy")
    assert total.to_dict("list") == {"step": [0, 10], "loss": [9.0, 4.0], "norm": ["Instance norm (IN)"] * 2}
    assert list(handlers.loss_curves("curvy", "style")["loss"]) == [7.0, 2.0]
    assert list(handlers.loss_curves("curvy", arch=other)["loss"]) == [5.0]
    with pytest.raises(StyleAppError, match="unknown loss term"):
        handlers.loss_curves("curvy", "beauty")


def test_user_errors_become_visible_gradio_errors_logged_in_one_line(caplog):
    @user_errors
    def fails():
        raise ImageError("photo.jpg: corrupt")

    with caplog.at_level(logging.WARNING), pytest.raises(gr.Error, match="photo.jpg: corrupt") as info:
        fails()
    assert not info.value.print_exception  # Gradio prints no traceback for it
    assert [r.getMessage() for r in caplog.records] == [
        "user error in test_user_errors_become_visible_gradio_errors_logged_in_one_line.fails: photo.jpg: corrupt"]


def test_uploads_reach_open_image_even_when_pillow_cannot_read_them(tmp_path):
    garbage = tmp_path / "notes.jpg"
    garbage.write_text("not an image")
    upload = pass_paths_unopened(gr.Image(type="filepath"))
    assert upload.preprocess(ImageData(path=str(garbage), orig_name="notes.jpg")) == str(garbage)
    assert upload.preprocess(None) is None
    with pytest.raises(ImageError, match="notes.jpg: not an image file Pillow can read"):
        handlers.load_photo(upload.preprocess(ImageData(path=str(garbage))))


@pytest.mark.slow
def test_api_endpoints_have_the_documented_parameters(client):
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["parameter_name"] for p in api["/stylize"]["parameters"]] == \
        ["image", "style", "norm", "strength", "preserve_color", "blend_with", "blend"]
    assert [p["parameter_name"] for p in api["/compare"]["parameters"]] == ["image", "style"]


@pytest.mark.slow
def test_api_stylize_and_compare(client, photo_file, tmp_path):
    from gradio_client import handle_file
    from PIL import Image

    out = client.predict(image=handle_file(str(photo_file)), style="starry_night", norm="group", strength=0.8,
                         preserve_color=True, api_name="/stylize")
    assert Image.open(out).size == (40, 32)
    big = tmp_path / "big.png"
    random_photo(8, (200, 100)).save(big)
    tiles = client.predict(image=handle_file(str(big)), style="great_wave", api_name="/compare")
    assert [t["caption"].split("  ")[0] for t in tiles] == ["Instance norm (IN)", "Batch norm (BN)",
                                                           "Layer norm (LN)", "Group norm (GN)"]
    assert Image.open(tiles[0]["image"]).size == (96, 48)  # the test app's --max-side 96


@pytest.mark.slow
def test_api_reports_bad_input_as_a_message(client, corrupt_file, photo_file):
    from gradio_client import handle_file

    with pytest.raises(Exception, match="broken.jpg: corrupt or truncated image"):
        client.predict(image=handle_file(str(corrupt_file)), style="starry_night", api_name="/compare")
    with pytest.raises(Exception, match="nope is not in the list of choices"):
        client.predict(image=handle_file(str(photo_file)), style="nope", norm="instance", strength=1.0,
                       preserve_color=False, api_name="/stylize")


@pytest.mark.slow
def test_a_users_mistake_is_one_line_in_the_server_console(server, client, tmp_path):
    from gradio_client import handle_file

    proc, _ = server
    (tmp_path / "mistake.jpg").write_text("not a picture")
    time.sleep(1)
    earlier = len(proc.output)  # what other tests' calls printed
    with pytest.raises(Exception, match="mistake.jpg: not an image file"):
        client.predict(image=handle_file(str(tmp_path / "mistake.jpg")), style="great_wave", api_name="/compare")
    deadline = time.monotonic() + 10
    while not any("mistake.jpg" in line for line in proc.output) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a traceback would follow the line
    printed = proc.output[earlier:]
    assert len(printed) == 1 and "user error in api_endpoints.compare: mistake.jpg: not an image" in printed[0], printed


def components(demo: gr.Blocks, kind: type, label: str) -> list:
    return [b for b in demo.blocks.values() if isinstance(b, kind) and b.label == label]


def test_lab_plots_sweep_the_whole_range_of_its_sliders(shipped):
    from style_app.web.ui import build_demo

    demo = build_demo(96)
    frame = handlers.sensitivity_frame(random_photo(4, (32, 24)), "starry_night", "contrast", max_size=16)
    for label in ("Contrast", "Brightness"):
        (slider,) = components(demo, gr.Slider, label)
        assert (slider.minimum, slider.maximum) == (frame.factor.min(), frame.factor.max()), label
    (text,) = [b.value for b in demo.blocks.values() if isinstance(b, gr.Markdown) and "sweep" in (b.value or "")]
    assert f"({slider.minimum:g}x to {slider.maximum:g}x)" in text


def test_training_curves_one_plot_per_network_its_legend_in_the_apps_norm_order(tmp_path, monkeypatch):
    """A conditional network's paintings share one curve, so they get one plot, not identical copies."""
    from style_app.web.ui import build_demo

    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(tmp_path))
    for i, norm in enumerate(("group", "layer", "batch", "instance")):  # files listed in another order
        save_model(TransformerNet(norm, "slim", num_styles=2), tmp_path / f"zoo_{norm}.safetensors",
                   {"styles": ["starry_night", "great_wave"], "arch": ZOO_ARCH,
                    "loss_curve": [[0, 9.0 + i, 1.0, 7.0, 1.0], [10, 4.0 + i, 1.5, 2.0, 0.5]]})
    save_model(TransformerNet("instance", "slim"), tmp_path / "alone.safetensors",
               {"style": "the_scream", "arch": ZOO_ARCH, "loss_curve": [[0, 5.0, 1.0, 3.0, 1.0]]})
    groups = handlers.curve_groups()
    assert groups == [("The Starry Night, The Great Wave off Kanagawa", "great_wave"), ("The Scream", "the_scream")]
    norms = list(dict.fromkeys(handlers.loss_curves("starry_night")["norm"]))
    assert norms == ["Instance norm (IN)", "Batch norm (BN)", "Layer norm (LN)", "Group norm (GN)"]
    plots = [b for b in build_demo(96).blocks.values() if isinstance(b, gr.LinePlot) and b.x == "step"]
    assert [p.title for p in plots] == [title for title, _ in groups]
