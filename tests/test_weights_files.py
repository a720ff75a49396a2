"""Untrusted weights files and model names: a clear WeightsError naming the file, never code run
from a file, never a path built from a name a user typed."""
from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import corpus
from style_app.cli import main
from style_app.errors import WeightsError
from style_app.stylizer import Stylizer
from style_app.weights import available_models, find_model, load_model

REPO = Path(__file__).resolve().parent.parent


def rewrite(source: Path, target: Path, edit_tensors=None, edit_metadata=None) -> Path:
    """Copy a model file, changing its tensors and/or header on the way."""
    with safe_open(str(source), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    save_file((edit_tensors or dict)(tensors), str(target), metadata=(edit_metadata or dict)(metadata))
    return target


def with_tensor(name: str, value: torch.Tensor | None):
    def edit(tensors: dict) -> dict:
        tensors = dict(tensors)
        if value is None:
            del tensors[name]
        else:
            tensors[name] = value
        return tensors
    return edit


def with_header(**changes: str):
    return lambda metadata: {**metadata, **changes}


@pytest.fixture(scope="module")
def bad_weights(weights_folder, tmp_path_factory) -> dict[str, Path]:
    """Every kind of broken or hostile weights file, built from a good one."""
    folder = tmp_path_factory.mktemp("bad_weights")
    good = weights_folder / "starry_night_instance.safetensors"
    real = good.read_bytes()
    raw = {
        "empty": b"",
        "truncated_half": real[: len(real) // 2],
        "truncated_header": real[:20],
        "random_bytes": os.urandom(4096),
        "header_lie": corpus.safetensors_header_lie(real),
        "pickle": corpus.pickle_bytes(folder / "MARKER"),
    }
    files = {}
    for name, data in raw.items():
        files[name] = folder / f"{name}.safetensors"
        files[name].write_bytes(data)
    files["not_style_app"] = folder / "not_style_app.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, str(files["not_style_app"]), metadata={"format": "pt"})
    huge_arch = '{"channels": [100000, 100000, 100000], "res_blocks": 5, "edge_kernel": 9}'
    edits = {
        "wrong_shape": dict(edit_tensors=with_tensor("enc1.0.weight", torch.zeros(16, 3, 9, 9, dtype=torch.float16))),
        "missing_tensor": dict(edit_tensors=with_tensor("out.weight", None)),
        "extra_tensor": dict(edit_tensors=with_tensor("backdoor", torch.zeros(1))),
        "arch_lie": dict(edit_metadata=with_header(arch_config=huge_arch)),
        "arch_incomplete": dict(edit_metadata=with_header(arch_config='{"channels": [32, 64, 128]}')),
        "arch_not_json": dict(edit_metadata=with_header(arch_config="{oops")),
        "unknown_norm": dict(edit_metadata=with_header(norm="../../etc/passwd")),
        "nan_weights": dict(edit_tensors=with_tensor("enc1.0.weight", torch.full((32, 3, 9, 9), float("nan"),
                                                                                   dtype=torch.float16))),
        "inf_weights": dict(edit_tensors=with_tensor("out.bias", torch.tensor([1.0, float("inf"), 0.0],
                                                                              dtype=torch.float16))),
        **{name: dict(edit_metadata=with_header(**header)) for name, header in corpus.HOSTILE_HEADERS.items()},
    }
    for name, edit in edits.items():
        files[name] = rewrite(good, folder / f"{name}.safetensors", **edit)
    return files


BAD_NAMES = ("empty", "truncated_half", "truncated_header", "random_bytes", "header_lie", "pickle",
             "not_style_app", "wrong_shape", "missing_tensor", "extra_tensor", "arch_lie", "arch_incomplete",
             "arch_not_json", "unknown_norm", "nan_weights", "inf_weights", *corpus.HOSTILE_HEADERS)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_weights_file_is_a_weights_error_naming_it(name, bad_weights):
    with pytest.raises(WeightsError) as error:
        load_model(bad_weights[name])
    assert str(bad_weights[name]) in str(error.value) and "\n" not in str(error.value)


def test_shape_errors_say_which_tensor(bad_weights):
    with pytest.raises(WeightsError, match=r"enc1\.0\.weight has shape \[16, 3, 9, 9\], the network needs \[32"):
        load_model(bad_weights["wrong_shape"])
    with pytest.raises(WeightsError, match=r"out\.weight is missing"):
        load_model(bad_weights["missing_tensor"])
    with pytest.raises(WeightsError, match="unexpected tensor backdoor"):
        load_model(bad_weights["extra_tensor"])
    # the header asks for a ~3 GB network: refused from its bounds, nothing built
    with pytest.raises(WeightsError, match=r"channels must be 3 whole numbers from 1 to 1024"):
        load_model(bad_weights["arch_lie"])


def test_header_and_number_errors_say_what_is_wrong(bad_weights):
    expected = {
        "arch_deep": r"res_blocks must be a whole number from 0 to 64",
        "arch_wide_within_bounds": r"weights do not fit the network they describe \(tensor res\.10\.body.* is missing",
        "deeply_nested": r"nested too deeply",
        "styles_a_string": r"styles must be a list of 1 to 1024 distinct names",
        "steps_not_a_number": r"steps must be a whole number",
        "nan_weights": r"tensor enc1\.0\.weight holds NaN or Inf values",
        "inf_weights": r"tensor out\.bias holds NaN or Inf values",
    }
    for name, message in expected.items():
        with pytest.raises(WeightsError, match=message):
            load_model(bad_weights[name])


def test_pickle_payload_is_never_executed(bad_weights, tmp_path, shipped, capsys):
    marker = bad_weights["pickle"].parent / "MARKER"
    # the payload is live: unpickling it really would create its marker file
    probe = tmp_path / "probe"
    pickle.loads(corpus.pickle_bytes(probe))
    assert probe.exists()
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        Stylizer.from_file(bad_weights["pickle"])
    assert main(["stylize", "x.png", "--weights", str(bad_weights["pickle"]), "-o", str(tmp_path / "o.png")]) == 2
    assert not marker.exists()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_cli_weights_bad_file_exits_2_in_one_line(name, bad_weights, shipped, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    corpus.gradient((24, 16)).save(photo)
    assert main(["stylize", str(photo), "--weights", str(bad_weights[name]), "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad_weights[name]) in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_cli_subprocess_with_pickle_weights_runs_nothing(bad_weights, tmp_path):
    photo = tmp_path / "photo.png"
    corpus.gradient((24, 16)).save(photo)
    result = subprocess.run([sys.executable, "-m", "style_app", "stylize", str(photo), "--weights",
                             str(bad_weights["pickle"]), "-o", str(tmp_path / "o.png")],
                            capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and str(bad_weights["pickle"]) in result.stderr
    assert not (bad_weights["pickle"].parent / "MARKER").exists()


def test_broken_files_in_the_weights_folder_do_not_hide_good_ones(weights_folder, bad_weights, tmp_path, caplog):
    shutil.copy(weights_folder / "great_wave_batch.safetensors", tmp_path)
    # every hostile header but the one that lies only about its tensors (refused at load)
    broken = ("pickle", "truncated_half", "not_style_app", "random_bytes",
              *(name for name in corpus.HOSTILE_HEADERS if name != "arch_wide_within_bounds"))
    for name in broken:
        shutil.copy(bad_weights[name], tmp_path)
    assert [(m.style, m.norm) for m in available_models(tmp_path)] == [("great_wave", "batch")]
    for name in broken:  # each named once, as a warning
        assert sum(f"{name}.safetensors" in r.getMessage() for r in caplog.records if r.levelname == "WARNING") == 1
    available_models(tmp_path)
    assert len(caplog.records) == len(broken)


def test_list_and_app_start_with_an_odd_file_in_the_weights_folder(weights_folder, bad_weights, tmp_path,
                                                                   monkeypatch):
    for model in ("great_wave_batch", "starry_night_instance"):
        shutil.copy(weights_folder / f"{model}.safetensors", tmp_path)
    for name in ("steps_not_a_number", "styles_a_string", "deeply_nested", "random_bytes"):
        shutil.copy(bad_weights[name], tmp_path)
    env = {**os.environ, "STYLE_APP_WEIGHTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "style_app", "list"], capture_output=True, text=True, cwd=REPO,
                            env=env, timeout=120)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 3  # the header and the two models
    assert sorted(line.split(": ")[2] for line in result.stderr.splitlines()) == sorted(
        f"skipped {tmp_path / name}.safetensors" for name in ("deeply_nested", "random_bytes", "steps_not_a_number",
                                                               "styles_a_string"))
    from style_app.web import handlers
    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(tmp_path))
    assert [slug for _, slug in handlers.style_choices()] == ["great_wave", "starry_night"]


HOSTILE_NAMES = ("../../etc/passwd", "/etc/passwd", "starry_night/../great_wave", "..", "", "starry_night\0")


@pytest.mark.parametrize("style", HOSTILE_NAMES)
def test_hostile_style_name_is_unknown_not_a_path(style, shipped):
    with pytest.raises(WeightsError, match=r"unknown style .*; available: great_wave, starry_night$"):
        Stylizer.from_pretrained(style, "instance")


@pytest.mark.parametrize("norm", HOSTILE_NAMES)
def test_hostile_norm_name_is_unknown_not_a_path(norm, shipped):
    with pytest.raises(WeightsError, match="available norms: batch, group, instance, layer$"):
        find_model("starry_night", norm)


def test_name_cannot_reach_a_model_outside_the_weights_folder(weights_folder, tmp_path, monkeypatch):
    """A valid model one level above the weights folder is still not reachable by name."""
    inside = tmp_path / "weights"
    inside.mkdir()
    shutil.copy(weights_folder / "starry_night_instance.safetensors", inside)
    shutil.copy(weights_folder / "great_wave_instance.safetensors", tmp_path / "outside.safetensors")
    monkeypatch.setenv("STYLE_APP_WEIGHTS", str(inside))
    for name in ("../outside", "../great_wave", str(tmp_path / "outside")):
        with pytest.raises(WeightsError, match="unknown style"):
            find_model(name, "instance")


def test_cli_hostile_style_exits_2_in_one_line(shipped, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    corpus.gradient((24, 16)).save(photo)
    assert main(["stylize", str(photo), "--style", "../../etc/passwd", "-o", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert err == "style-app: error: unknown style '../../etc/passwd'; available: great_wave, starry_night\n"
