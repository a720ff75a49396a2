"""Issue 48, classes 1 and 2: no command's output (-o, --out, --out-dir, --json, --grid) may be, or
lie inside, an input it reads, and a file output ending in a separator names a folder. Each case
ends in one line, exit 2, and nothing written (style_app/files.py)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import random_photo, save_conditional_network
from style_app.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as usage_error:
        code = usage_error.code
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` with its bytes (None for a folder): what a refused run must keep."""
    return {str(p.relative_to(folder)): (None if p.is_dir() or not p.exists() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def inputs(shipped, tmp_path, tiny_vgg_file):
    """A photo, a folder of photos, a painting, a folder of paintings, a weights file, a
    conditional network and the VGG file, all inside tmp_path."""
    (tmp_path / "photos").mkdir()
    for i in range(2):
        random_photo(i, (48, 40)).save(tmp_path / "photos" / f"p{i}.jpg")
    random_photo(7, (48, 40)).save(tmp_path / "photo.jpg")
    random_photo(8, (64, 64)).save(tmp_path / "painting.jpg")
    (tmp_path / "styles").mkdir()
    for style in ("starry_night", "great_wave"):
        random_photo(len(style), (64, 64)).save(tmp_path / "styles" / f"{style}.jpg")
    shutil.copy(shipped / "starry_night_instance.safetensors", tmp_path / "w.safetensors")
    shutil.copy(tiny_vgg_file, tmp_path / "vgg.safetensors")
    (tmp_path / "nets").mkdir()
    net = save_conditional_network(tmp_path / "nets", "batch")
    return {"photo": tmp_path / "photo.jpg", "photos": tmp_path / "photos", "painting": tmp_path / "painting.jpg",
            "styles": tmp_path / "styles", "w": tmp_path / "w.safetensors", "vgg": tmp_path / "vgg.safetensors",
            "net": net, "root": tmp_path}


#: command -> argv with OUT for the output flag; the inputs each output is pointed at.
COMMANDS = {
    "stylize -o": (lambda i, out: ["stylize", i["photo"], "--weights", i["w"], "-o", out], ["photo", "w"]),
    "stylize --out-dir": (lambda i, out: ["stylize", i["photos"], "--weights", i["w"], "--out-dir", out],
                          ["photos", "photos/sub"]),
    "compare -o": (lambda i, out: ["compare", i["photo"], "--style", "starry_night", "-o", out], ["photo"]),
    "export -o": (lambda i, out: ["export", "--weights", i["w"], "-o", out], ["w"]),
    "recalibrate --out": (lambda i, out: ["recalibrate", i["net"], "--content-dir", i["photos"], "--out", out],
                          ["net", "photos/p0.jpg", "photos/new.safetensors"]),
    "evaluate --json": (lambda i, out: ["evaluate", "--content-dir", i["photos"], "--style-dir", i["styles"],
                                        "--weights", i["w"], "--vgg-weights", i["vgg"], "--json", out],
                        ["photos/p0.jpg", "w", "vgg", "styles/starry_night.jpg"]),
    "evaluate --grid": (lambda i, out: ["evaluate", "--content-dir", i["photos"], "--style-dir", i["styles"],
                                        "--weights", i["w"], "--vgg-weights", i["vgg"], "--grid", out],
                        ["styles", "photos"]),
    "train --out": (lambda i, out: ["train", "--style-image", i["painting"], "--content-dir", i["photos"],
                                    "--vgg-weights", i["vgg"], "--steps", "2", "--image-size", "32",
                                    "--style-size", "64", "--workers", "0", "--arch", "johnson", "--out", out],
                    ["painting", "vgg", "photos/model.safetensors"]),
    "add-style --out": (lambda i, out: ["add-style", i["painting"], "--base", i["net"], "--content-dir", i["photos"],
                                        "--vgg-weights", i["vgg"], "--steps", "2", "--workers", "0", "--out", out],
                        ["net", "painting", "photos/x.safetensors"]),
    "judge make --out": (lambda i, out: ["judge", "make", i["styles"], i["photos"], "--photos", i["photo"],
                                         "--paintings", i["painting"], "--out", out, "--key", i["root"] / "k.json"],
                         ["styles", "photos", "photos/sheets"]),
    "judge make --key": (lambda i, out: ["judge", "make", i["styles"], i["photos"], "--photos", i["photo"],
                                         "--paintings", i["painting"], "--out", i["root"] / "sheets", "--key", out],
                         ["photo", "painting", "styles/key.json"]),
    "judge tally --json": (lambda i, out: ["judge", "tally", i["photos"], i["painting"], i["photo"], "--json", out],
                           ["painting", "photo", "photos/tally.json"]),
}
CASES = [(command, target) for command, (_, targets) in COMMANDS.items() for target in targets]


@pytest.mark.parametrize("command,target", CASES, ids=[f"{c}={t}" for c, t in CASES])
def test_no_output_may_be_or_lie_inside_an_input(inputs, capsys, command, target):
    argv, _ = COMMANDS[command]
    out = inputs[target] if target in inputs else inputs["root"] / target
    before = snapshot(inputs["root"])
    code, stdout, err = run(capsys, *argv(inputs, out))
    assert code == 2, err
    assert err.startswith("style-app: error: ") and err.count("\n") == 1, err
    assert "destroy an input" in err or "is NETWORK" in err or "is the input" in err, err
    assert "wrote" not in stdout
    assert snapshot(inputs["root"]) == before


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_link_to_an_input_counts_as_the_input(inputs, capsys, link):
    """`-o` names a link to the photo (a symlink, or a hard link in another folder): refused."""
    other = inputs["root"] / "elsewhere"
    other.mkdir()
    alias = other / "alias.jpg"
    (os.symlink if link == "symlink" else os.link)(inputs["photo"], alias)
    before = snapshot(inputs["root"])
    code, _, err = run(capsys, "compare", alias, "--style", "starry_night", "-o", inputs["photo"])
    assert code == 2 and "destroy an input" in err, err
    code, _, err = run(capsys, "stylize", inputs["photo"], "--weights", inputs["w"], "-o", alias)
    assert code == 2 and "destroy an input" in err, err
    assert snapshot(inputs["root"]) == before


def test_evaluate_without_weights_keeps_its_json_off_the_models_it_scores(inputs, shipped, capsys):
    """Without --weights, evaluate reads every model in the weights folders: --json may not replace one."""
    model = shipped / "great_wave_batch.safetensors"
    before = model.read_bytes()
    code, _, err = run(capsys, "evaluate", "--content-dir", inputs["photos"], "--style-dir", inputs["styles"],
                       "--vgg-weights", inputs["vgg"], "--json", model)
    assert code == 2 and "is a model it scores" in err and "destroy an input" in err, err
    assert model.read_bytes() == before


def test_every_input_of_a_stylize_run_is_checked(inputs, capsys):
    """Several photos and folders: an --out-dir inside any of them is refused, not only the last."""
    (inputs["root"] / "more").mkdir()
    random_photo(9, (48, 40)).save(inputs["root"] / "more" / "m.jpg")
    before = snapshot(inputs["root"])
    code, _, err = run(capsys, "stylize", inputs["photos"], inputs["root"] / "more", "--weights", inputs["w"],
                       "--out-dir", inputs["photos"] / "styled")
    assert code == 2 and "lies inside the input folder" in err, err
    assert snapshot(inputs["root"]) == before


#: command -> argv with a file output OUT (given as a path ending in '/').
FILE_OUTPUTS = {
    "stylize -o": lambda i, out: ["stylize", i["photo"], "--weights", i["w"], "-o", out],
    "compare -o": lambda i, out: ["compare", i["photo"], "--style", "starry_night", "-o", out],
    "export -o": lambda i, out: ["export", "--weights", i["w"], "-o", out],
    "recalibrate --out": lambda i, out: ["recalibrate", i["net"], "--content-dir", i["photos"], "--out", out],
    "evaluate --json": lambda i, out: ["evaluate", "--content-dir", i["photos"], "--style-dir", i["styles"],
                                       "--weights", i["w"], "--vgg-weights", i["vgg"], "--json", out],
    "bench --json": lambda i, out: ["bench", "--json", out, "--sizes", "16", "--arch", "johnson", "--norm",
                                    "instance", "--no-train", "--repeats", "1"],
    "train --out": COMMANDS["train --out"][0],
    "add-style --out": COMMANDS["add-style --out"][0],
    "vgg-weights --out": lambda i, out: ["vgg-weights", "--out", out],
    "judge make --key": COMMANDS["judge make --key"][0],
    "judge tally --json": COMMANDS["judge tally --json"][0],
}


@pytest.mark.parametrize("command", FILE_OUTPUTS)
def test_a_file_output_ending_in_a_separator_is_refused_as_a_folder(inputs, capsys, command):
    """`--out new/dir/` used to write a file named `dir` (and `dir.ckpt`, `dir.losses.jsonl`)."""
    before = snapshot(inputs["root"])
    code, stdout, err = run(capsys, *FILE_OUTPUTS[command](inputs, str(inputs["root"] / "new" / "dir") + os.sep))
    assert code == 2, err
    assert "ends in '/', so it names a folder" in err and err.count("\n") == 1, err
    assert not (inputs["root"] / "new").exists()
    assert snapshot(inputs["root"]) == before


def test_a_weights_dir_given_with_a_separator_stays_a_folder(inputs, capsys):
    """The same path as --weights-dir and --out: the weights folder must not become a file."""
    folder = inputs["root"] / "mine"
    code, _, err = run(capsys, "add-style", inputs["painting"], "--base", inputs["net"], "--content-dir",
                       inputs["photos"], "--vgg-weights", inputs["vgg"], "--weights-dir", f"{folder}/",
                       "--out", f"{folder}/", "--steps", "2", "--workers", "0")
    assert code == 2 and "names a folder" in err, err
    assert not folder.is_file()


def test_added_style_without_the_safetensors_suffix_is_refused(inputs, capsys):
    """`--out W/nosuffix` printed "wrote ..." but `list` never showed the style."""
    code, stdout, err = run(capsys, "add-style", inputs["painting"], "--base", inputs["net"], "--content-dir",
                            inputs["photos"], "--vgg-weights", inputs["vgg"], "--out", inputs["root"] / "nosuffix",
                            "--steps", "2", "--workers", "0")
    assert code == 2 and "must end in .safetensors" in err, err
    assert not (inputs["root"] / "nosuffix").exists()


def test_an_output_below_a_file_names_the_file(inputs, capsys):
    """`--out file.jpg/x.safetensors` said "cannot write (File exists)"."""
    code, _, err = run(capsys, "add-style", inputs["painting"], "--base", inputs["net"], "--content-dir",
                       inputs["photos"], "--vgg-weights", inputs["vgg"], "--out", inputs["photo"] / "x.safetensors",
                       "--steps", "2", "--workers", "0")
    assert code == 2, err
    assert f"{inputs['photo']} is a file, not a folder" in err and "File exists" not in err, err
