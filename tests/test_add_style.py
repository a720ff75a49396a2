"""Adding a painting to a conditional network: only a new row of norm parameters trains, the style
file is small and tied to its network, and added styles work everywhere shipped ones do."""
from __future__ import annotations

import fcntl
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from helpers import random_photo, save_conditional_network
from style_app.models.transformer import ZOO_ARCH, TransformerNet
from style_app.cli import main
from style_app.errors import TrainingError, WeightsError
from style_app.style_files import load_network, per_style_keys, save_style
from style_app.stylizer import Stylizer, cached_stylizer
from style_app.tools.compare import compare_norms
from style_app.training.add_style import CONTENT_DIR_ENV, add_style_config, train_style
from style_app.weights import (SHIPPED_ENV, WEIGHTS_ENV, available_models, load_model, read_metadata, save_model,
                               shipped_weights_dir, write_weights)

NORMS = ("instance", "batch", "layer", "group")


@pytest.fixture
def zoo(tmp_path, monkeypatch):
    """A weights folder with a tiny conditional network per norm (styles starry_night, great_wave)."""
    folder = tmp_path / "weights"
    folder.mkdir()
    for i, norm in enumerate(NORMS):
        save_conditional_network(folder, norm, seed=i)
    monkeypatch.setenv(WEIGHTS_ENV, str(folder))
    cached_stylizer.cache_clear()
    yield folder
    cached_stylizer.cache_clear()


@pytest.fixture
def painting(tmp_path):
    path = tmp_path / "water_lilies.jpg"
    random_photo(42, (64, 64)).transpose(Image.Transpose.ROTATE_90).save(path)
    return path


def add(painting, base, photo_dir, vgg, on_step=None, **settings):
    """A few-second add-style run on the tiny network `base`."""
    settings = {"steps": 6, "checkpoint_every": 3, "log_every": 1, "workers": 0, "vgg_weights": vgg, **settings}
    cfg = add_style_config(painting, base, content_dir=photo_dir, **settings)
    return cfg, train_style(cfg, progress=False, on_step=on_step)


@pytest.mark.parametrize("norm", NORMS)
def test_only_the_new_style_row_trains(norm, zoo, painting, photo_dir, tiny_vgg_file):
    base = zoo / f"tiny_{norm}.safetensors"
    before = base.read_bytes()
    trained = {}
    # bn_stats_size=0: BN's rows as trained (measuring them again is tests/test_bn_statistics.py's)
    cfg, path = add(painting, norm, photo_dir, tiny_vgg_file, bn_stats_size=0,
                    on_step=lambda step, model: trained.update({k: v.clone() for k, v in model.state_dict().items()}))
    assert path == zoo / f"water_lilies_tiny_{norm}.safetensors" and base.read_bytes() == before
    rows = load_file(str(path))
    net, meta = load_network(path)
    assert meta["styles"] == ["starry_night", "great_wave", "water_lilies"] and meta["default_style"] == "water_lilies"
    assert set(rows) == set(per_style_keys(net)) and all(t.dim() == 1 for t in rows.values())
    shipped, _ = load_model(base)
    for key, value in shipped.state_dict().items():  # convolutions and the network's own styles: bit for bit
        if key.endswith("num_batches_tracked"):
            continue  # BN's step counter, not a weight
        torch.testing.assert_close(trained[key][:2] if key in rows else trained[key], value, rtol=0, atol=0)
        if key in rows:
            torch.testing.assert_close(trained[key][2].half(), rows[key], rtol=0, atol=0)
            torch.testing.assert_close(net.state_dict()[key], trained[key].half().float(), rtol=0, atol=0)
    log = [json.loads(line) for line in cfg.log_path.read_text().splitlines()]
    init = log[0]
    assert init["split"] == "init" and init["init"] == min(init["init_losses"], key=init["init_losses"].get)
    assert set(init["init_losses"]) == {"starry_night", "great_wave", "mean"}
    chosen = init["init"]
    for key in [k for k in rows if k.startswith("enc1.1.")]:  # scale, shift (BN: running statistics) moved
        rows_before = shipped.state_dict()[key]
        start = rows_before.mean(0) if chosen == "mean" else rows_before[["starry_night", "great_wave"].index(chosen)]
        assert (rows[key].float() - start).abs().max() > 1e-3, key
    header = read_metadata(path)
    assert header["base"]["name"] == base.name and len(header["base"]["sha256"]) == 64
    assert header["style"] == "water_lilies" and header["title"] == "Water Lilies" and header["artist"] == "Claude Monet"
    assert header["init"] == chosen and header["steps"] == "6"


def test_an_added_style_works_like_a_shipped_one(zoo, painting, photo_dir, tiny_vgg_file, tmp_path, capsys):
    common = ["--content-dir", str(photo_dir), "--vgg-weights", tiny_vgg_file, "--steps", "4", "--workers", "0",
              "--device", "cpu", "--quiet"]
    for norm in ("instance", "batch"):
        assert main(["add-style", str(painting), "--base", norm, *common]) == 0, capsys.readouterr().err
    assert "wrote " in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    listed = {(m["style"], m["norm"]): m for m in json.loads(capsys.readouterr().out)}
    assert listed[("water_lilies", "batch")]["added"] and listed[("water_lilies", "batch")]["title"] == "Water Lilies"
    assert not listed[("starry_night", "batch")]["added"]

    photo = random_photo(3, (40, 32))
    mine = Stylizer.from_pretrained("water_lilies", "instance", device="cpu")
    assert mine.style == "water_lilies"
    half = cached_stylizer("starry_night", "instance", ZOO_ARCH, "cpu", blend_with="water_lilies", blend=0.5)
    assert half.style == "starry_night 50% + water_lilies 50%"
    shipped = Stylizer.from_pretrained("starry_night", "instance", device="cpu")
    a, b, c = (np.asarray(s.stylize(photo), dtype=float) for s in (mine, half, shipped))
    assert np.abs(a - c).mean() > 0.5 and np.abs(b - a).mean() > 0.2 and np.abs(b - c).mean() > 0.2
    assert [r.norm for r in compare_norms(photo, "water_lilies", device="cpu")] == ["instance", "batch"]

    photo.save(tmp_path / "in.png")
    assert main(["stylize", str(tmp_path / "in.png"), "--style", "water_lilies", "--norm", "batch",
                 "-o", str(tmp_path / "out.png"), "--device", "cpu"]) == 0, capsys.readouterr().err
    by_file = Stylizer.from_file(zoo / "water_lilies_tiny_batch.safetensors", "cpu")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(by_file.stylize(photo)))


def test_a_style_file_loads_only_onto_its_own_network(zoo, painting, photo_dir, tiny_vgg_file, tmp_path):
    _, path = add(painting, "layer", photo_dir, tiny_vgg_file, steps=2)
    with pytest.raises(WeightsError, match="learned for the network tiny_layer.safetensors .* loads only onto its own"):
        load_network(path, base=zoo / "tiny_group.safetensors")
    assert load_network(path, base=zoo / "tiny_layer.safetensors")[1]["styles"][-1] == "water_lilies"
    (zoo / "tiny_layer.safetensors").rename(zoo / "renamed.safetensors")  # found by its weights, not its name
    assert load_network(path)[1]["styles"][-1] == "water_lilies"
    save_conditional_network(zoo, "layer", seed=7)  # another network under the old name
    (zoo / "renamed.safetensors").unlink()
    with pytest.raises(WeightsError, match=r"its network tiny_layer.safetensors \(weights [0-9a-f]{12}\) is not in"):
        Stylizer.from_file(path, "cpu")
    assert ("water_lilies", "layer") not in {(m.style, m.norm) for m in available_models()}  # not listed, not lost
    assert path.exists()


def test_a_damaged_style_file_is_refused_and_never_hides_its_network(zoo, caplog):
    """A style file is untrusted like a network file: a bad header or NaN rows are one line naming
    the file. In the weights folder, one with a bad header is skipped when listing, one with bad rows
    when its network loads: each named once as a warning, the network and its other styles still load."""
    base = zoo / "tiny_instance.safetensors"
    model, _ = load_model(base)
    good = save_style(model, 0, zoo / "good_tiny_instance.safetensors", base, {"style": "good", "arch": "johnson"})
    rows, header = load_file(str(good)), read_metadata(good)
    damaged = {"no_style": (rows, {k: v for k, v in header.items() if k != "style"}),
               "base_a_string": (rows, {**header, "style": "base_a_string", "base": "tiny_instance.safetensors"}),
               "nan_rows": ({k: torch.full_like(v, float("nan")) for k, v in rows.items()}, {**header, "style": "nan"})}
    paths = {name: write_weights(state, zoo / f"{name}_tiny_instance.safetensors", head)
             for name, (state, head) in damaged.items()}
    messages = {"no_style": "a style file must name its style", "base_a_string": "base must hold the network's file",
                "nan_rows": "holds NaN or Inf values"}
    for name, message in messages.items():
        with pytest.raises(WeightsError, match=f"^{re.escape(str(paths[name]))}: .*{re.escape(message)}"):
            load_network(paths[name])
    with caplog.at_level("WARNING"):
        listed = {m.style for m in available_models() if m.norm == "instance"}
        assert listed == {"starry_night", "great_wave", "good", "nan"}
        _, metadata = load_network(base)
        assert metadata["styles"] == ["starry_night", "great_wave", "good"]
        load_network(base)
    skipped = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sorted(skipped) == sorted(f"skipped {paths[name]}: " + text for name, text in (
        ("no_style", "invalid style_app metadata (a style file must name its style)"),
        ("base_a_string", "invalid style_app metadata (base must hold the network's file name and weights hash)"),
        ("nan_rows", f"tensor {next(iter(sorted(rows)))} holds NaN or Inf values; the file is damaged")))


def test_add_style_resumes_exactly(zoo, painting, photo_dir, tiny_vgg_file, tmp_path):
    _, whole = add(painting, "batch", photo_dir, tiny_vgg_file, steps=6, out=tmp_path / "whole.safetensors")
    add(painting, "batch", photo_dir, tiny_vgg_file, steps=3, out=tmp_path / "split.safetensors")
    _, split = add(painting, "batch", photo_dir, tiny_vgg_file, steps=6, out=tmp_path / "split.safetensors",
                   resume="auto")
    a, b = load_file(str(whole)), load_file(str(split))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert read_metadata(split)["init"] == read_metadata(whole)["init"]  # kept across the resume


def cli_error(capsys, *argv) -> str:
    """The one line `style-app` prints for bad input (exit code 2)."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_bad_input_is_one_clear_line_and_loses_nothing(zoo, painting, photo_dir, tiny_vgg_file, tmp_path, capsys,
                                                       monkeypatch):
    common = ["--content-dir", str(photo_dir), "--vgg-weights", tiny_vgg_file, "--steps", "2", "--workers", "0",
              "--quiet"]
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a painting")
    assert "notes.jpg: not an image file Pillow can read" in cli_error(capsys, "add-style", str(notes), "--base",
                                                                       "instance", *common)
    single = save_model(TransformerNet("instance", "slim"), tmp_path / "one.safetensors", {"style": "one"})
    assert "holds one style (one), not a conditional network" in cli_error(capsys, "add-style", str(painting),
                                                                           "--base", str(single), *common)
    assert "taken by a shipped style" in cli_error(capsys, "add-style", str(painting), "--base", "group",
                                                   "--name", "great_wave", *common)
    assert "style name 'Bad Name'" in cli_error(capsys, "add-style", str(painting), "--base", "group",
                                                "--name", "Bad Name", *common)
    assert main(["add-style", str(painting), "--base", "instance", *common]) == 0
    done = zoo / "water_lilies_tiny_instance.safetensors"
    saved = done.read_bytes()
    assert "an added style, not a network" in cli_error(capsys, "add-style", str(painting), "--base", str(done),
                                                        *common)
    assert "exists; --resume continues" in cli_error(capsys, "add-style", str(painting), "--base", "instance",
                                                     *common)
    assert "was already added to tiny_instance.safetensors" in cli_error(
        capsys, "add-style", str(painting), "--base", "instance", "--out", str(tmp_path / "again.safetensors"),
        *common)
    wrong_base = cli_error(capsys, "add-style", str(painting), "--base", "layer", "--out", str(done), "--resume",
                           str(done.with_suffix(".ckpt")), *common)
    assert "checkpoint was trained with different" in wrong_base and ", base (" in wrong_base
    assert done.read_bytes() == saved
    other = zoo / "water_lilies_tiny_batch.safetensors"
    with open(other.with_suffix(".lock"), "w") as lock:  # another process trains this style right now
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert "another training is writing this file" in cli_error(capsys, "add-style", str(painting), "--base",
                                                                    "batch", *common)
    assert not other.exists()
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    monkeypatch.setenv(WEIGHTS_ENV, str(blocked / "styles"))  # a folder that cannot be made
    assert "cannot make the folder for your styles" in cli_error(
        capsys, "add-style", str(painting), "--base", str(zoo / "tiny_batch.safetensors"), *common)


def test_added_styles_go_to_the_per_user_data_folder_by_default(zoo, painting, photo_dir, tiny_vgg_file, tmp_path,
                                                                capsys, monkeypatch):
    """No --weights-dir, no STYLE_APP_WEIGHTS: the style lands in platformdirs' user data folder
    (XDG_DATA_HOME here) and is listed from there."""
    monkeypatch.delenv(WEIGHTS_ENV)
    monkeypatch.delenv(SHIPPED_ENV)  # the base is the shipped IN network
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["add-style", str(painting), "--base", "instance", "--content-dir", str(photo_dir), "--vgg-weights",
                 tiny_vgg_file, "--steps", "2", "--image-size", "64", "--style-size", "64", "--batch-size", "1",
                 "--workers", "0", "--quiet"]) == 0
    written = tmp_path / "data" / "style_app" / "styles" / "water_lilies_zoo4_instance.safetensors"
    assert str(written) in capsys.readouterr().out and written.is_file()
    assert ("water_lilies", "instance") in {(m.style, m.norm) for m in available_models()}


def test_weights_dir_flag_keeps_styles_out_of_the_package(zoo, painting, photo_dir, tiny_vgg_file, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV)
    monkeypatch.delenv(SHIPPED_ENV)  # the shipped zoo in view: nothing may be written into it
    shipped_before = sorted(shipped_weights_dir().iterdir())
    mine = tmp_path / "my_styles"
    mine.mkdir()
    base = save_conditional_network(mine, "group")  # the user's own conditional network
    assert main(["add-style", str(painting), "--base", str(base), "--weights-dir", str(mine), "--content-dir",
                 str(photo_dir), "--vgg-weights", tiny_vgg_file, "--steps", "2", "--workers", "0", "--quiet"]) == 0
    assert "water_lilies_tiny_group.safetensors" in capsys.readouterr().out
    assert (mine / "water_lilies_tiny_group.safetensors").is_file()
    assert sorted(shipped_weights_dir().iterdir()) == shipped_before
    assert main(["list", "--weights-dir", str(mine), "--json"]) == 0
    listed = {(m["style"], m["norm"]) for m in json.loads(capsys.readouterr().out)}
    assert ("water_lilies", "group") in listed
    assert main(["list", "--json"]) == 0  # without the folder, neither it nor its network
    assert ("water_lilies", "group") not in {(m["style"], m["norm"]) for m in json.loads(capsys.readouterr().out)}


def test_add_style_checks_its_arguments_before_loading_anything(zoo, painting, photo_dir, monkeypatch):
    monkeypatch.delenv(CONTENT_DIR_ENV, raising=False)
    with pytest.raises(TrainingError, match="--base nope: neither a network file nor a norm"):
        add_style_config(painting, "nope", content_dir=photo_dir)
    with pytest.raises(TrainingError, match="--init 'starry': choose auto, mean or one of the network's styles "
                                            r"\(starry_night, great_wave\)"):
        add_style_config(painting, "instance", content_dir=photo_dir, init="starry")
    with pytest.raises(TrainingError, match="add-style needs training photos: --content-dir"):
        add_style_config(painting, "instance")
    cfg = add_style_config(painting, "instance", content_dir=photo_dir, init="great_wave", steps=0)
    assert (cfg.image_size, cfg.style_size, cfg.batch_size, cfg.lr) == (32, 64, 2, 1e-2)  # the network's, and ours
