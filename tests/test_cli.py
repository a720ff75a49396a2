import json
import subprocess
import sys

import pytest
from PIL import Image

from helpers import random_photo
from style_app.models.transformer import ZOO_ARCH
from style_app.cli import main
from style_app.tools.evaluate import GRID_TILE
from style_app.weights import load_model, save_model


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as usage_error:  # argparse refuses the arguments themselves
        code = usage_error.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_describes_every_model(shipped, capsys):
    code, out, _ = run(capsys, "list", "--json")
    models = json.loads(out)
    assert code == 0 and len(models) == 8
    assert {"style", "norm", "arch", "path", "title", "artist"} <= set(models[0])
    assert {(m["style"], m["norm"]) for m in models} >= {("starry_night", "instance"), ("great_wave", "group")}
    starry = next(m for m in models if m["style"] == "starry_night")
    assert starry["title"] == "The Starry Night" and starry["artist"] == "Vincent van Gogh"


def test_stylize_one_file(shipped, tmp_path, capsys):
    random_photo(0, (45, 33)).save(tmp_path / "in.jpg")
    code, out, err = run(capsys, "stylize", str(tmp_path / "in.jpg"), "--style", "starry_night", "--norm", "layer",
                         "-o", str(tmp_path / "out.png"), "--device", "cpu")
    assert code == 0, err
    assert Image.open(tmp_path / "out.png").size == (45, 33)


def test_stylize_folder_with_weights_file(shipped, photo_dir, tmp_path, capsys):
    code, out, err = run(capsys, "stylize", str(photo_dir), "--weights", str(shipped / "great_wave_group.safetensors"),
                         "--out-dir", str(tmp_path / "out"), "--max-size", "32", "--preserve-color", "--strength", "0.7")
    assert code == 0, err
    outputs = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert outputs == sorted(f"{'nested/' if i % 2 else ''}photo{i}.png" for i in range(6))  # as photo_dir lays them out
    assert max(Image.open(tmp_path / "out" / "nested" / "photo5.png").size) == 32
    assert out.splitlines()[-1] == "6 written, 0 failed"


def test_compare_writes_a_tile_per_norm(shipped, tmp_path, capsys):
    random_photo(0, (40, 30)).save(tmp_path / "in.png")
    code, out, err = run(capsys, "compare", str(tmp_path / "in.png"), "--style", "great_wave", "-o",
                         str(tmp_path / "grid.png"), "--device", "cpu")
    assert code == 0, err
    grid = Image.open(tmp_path / "grid.png")
    assert grid.width == 4 * 40 and grid.height > 30
    for norm in ("instance", "batch", "layer", "group"):
        assert norm in out


@pytest.mark.parametrize("argv, message", [
    (["--style", "mona_lisa"], "unknown style 'mona_lisa'"),
    (["--style", "starry_night", "--norm", "weight"], "--norm: invalid choice: 'weight'"),
    (["--style", "../../etc/passwd"], "unknown style"),
    ([], "either --style"),
])
def test_model_choice_errors_are_one_line(shipped, tmp_path, capsys, argv, message):
    random_photo(0).save(tmp_path / "in.png")
    code, _, err = run(capsys, "stylize", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), *argv)
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stylize"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_module_entry_point_reports_errors_without_traceback(shipped, tmp_path):
    result = subprocess.run([sys.executable, "-m", "style_app", "stylize", str(tmp_path / "missing.jpg"),
                             "--style", "starry_night", "-o", str(tmp_path / "o.png")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"style-app: error: {tmp_path / 'missing.jpg'}: no such file"


def test_evaluate_scores_every_model(shipped, photo_dir, style_file, tiny_vgg_file, tmp_path, capsys):
    style_dir = tmp_path / "styles"
    style_dir.mkdir()
    for style in ("starry_night", "great_wave"):
        Image.open(style_file).save(style_dir / f"{style}.jpg")
    code, out, err = run(capsys, "evaluate", "--content-dir", str(photo_dir), "--style-dir", str(style_dir),
                         "--vgg-weights", tiny_vgg_file, "--limit", "2", "--size", "24", "--json", str(tmp_path / "scores.json"))
    assert code == 0, err
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert len(scores) == 8 and len(out.strip().splitlines()) == 2 + 8
    for s in scores:
        assert s["baseline_style_loss"] > 0 and s["ms_per_image"] > 0
        assert abs(s["style_ratio"] - s["style_loss"] / s["baseline_style_loss"]) < 1e-9
        assert s["palette_ratio"] > 0 and s["contrast_ratio"] > 0 and s["blobs"] >= 0 and s["grid"] > 0
    assert "palette ratio" in out and "contrast ratio" in out and "blobs" in out and "| grid |" in out


def test_evaluate_scores_given_files_and_another_tools_pictures(shipped, photo_dir, style_file, tiny_vgg_file,
                                                                  tmp_path, capsys):
    """--weights scores files outside the weights folder; --stylized-dir scores pictures made
    elsewhere: the photos themselves score a palette and contrast ratio of exactly 1. Both are
    scored against the same painting, whatever size the model was trained with."""
    model_file = tmp_path / "small_painting.safetensors"
    network, meta = load_model(shipped / "great_wave_layer.safetensors")
    save_model(network, model_file, {"style": "great_wave", "arch": "johnson", "train_config": {"style_size": 16}})
    style_dir = tmp_path / "styles"
    style_dir.mkdir()
    Image.open(style_file).save(style_dir / "great_wave.jpg")
    peer = tmp_path / "peer" / "great_wave"
    peer.mkdir(parents=True)
    photos = sorted(photo_dir.rglob("*.*"))[:2]
    for photo in photos:
        Image.open(photo).save(peer / f"{photo.stem}.png")
    code, out, err = run(capsys, "evaluate", "--content-dir", str(photo_dir), "--style-dir", str(style_dir),
                         "--weights", str(model_file), "--stylized-dir",
                         str(tmp_path / "peer"), "--vgg-weights", tiny_vgg_file, "--limit", "2", "--size", "24",
                         "--json", str(tmp_path / "scores.json"), "--grid", str(tmp_path / "grids"))
    assert code == 0, err
    grid = Image.open(tmp_path / "grids" / "great_wave.jpg")  # photo, painting, model, peer; a row per photo
    assert grid.width == 4 * GRID_TILE and 2 * GRID_TILE < grid.height < 3 * GRID_TILE
    model, folder = json.loads((tmp_path / "scores.json").read_text())
    assert (model["style"], model["norm"], model["source"]) == ("great_wave", "layer", model_file.name)
    code, _, err = run(capsys, "evaluate", "--content-dir", str(photo_dir), "--style-dir", str(style_dir),
                       "--stylized-dir", str(tmp_path / "peer"), "--vgg-weights", tiny_vgg_file, "--limit", "2",
                       "--size", "24", "--json", str(tmp_path / "alone.json"))
    alone, = json.loads((tmp_path / "alone.json").read_text())
    assert code == 0, err
    assert alone["style_ratio"] == folder["style_ratio"]  # one reference painting, whoever is scored first
    assert (folder["style"], folder["arch"], folder["ms_per_image"]) == ("great_wave", "peer", None)
    assert abs(folder["palette_ratio"] - 1) < 0.02 and abs(folder["contrast_ratio"] - 1) < 0.02
    assert folder["blobs"] == 0


def test_evaluate_without_paintings_is_a_clear_error(shipped, photo_dir, tiny_vgg_file, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", "--content-dir", str(photo_dir), "--style-dir", str(tmp_path),
                       "--vgg-weights", tiny_vgg_file, "--limit", "1", "--size", "24")
    assert code == 2 and "--style-dir" in err and err.count("\n") == 1


def test_list_prints_a_header_and_one_aligned_row_per_model(shipped, capsys):
    code, out, _ = run(capsys, "list")
    header, *rows = out.splitlines()
    assert code == 0 and header.split() == ["STYLE", "NORM", "ARCH", "PAINTING", "FILE"] and len(rows) == 8
    assert rows[0].split()[:3] == ["great_wave", "batch", ZOO_ARCH] and "Hokusai" in rows[0]
    assert {row.index(str(shipped)) for row in rows} == {header.index("FILE")}  # one column for the paths


#: The fewest arguments each command needs, so that only the flag under test is wrong.
BASE_ARGV = {
    "train": ["train", "--style-image", "s.jpg", "--content-dir", "photos", "--out", "m.safetensors"],
    "add-style": ["add-style", "p.jpg", "--base", "instance"],
    "evaluate": ["evaluate", "--content-dir", "photos"],
    "bench": ["bench"],
    "export": ["export", "--style", "starry_night", "-o", "m.onnx"],
    "stylize": ["stylize", "in.png", "--style", "starry_night", "-o", "out.png"],
    "compare": ["compare", "in.png", "--style", "starry_night", "-o", "grid.png"],
}
BAD_FLAGS = [
    ("train", "--steps", "0"), ("train", "--steps", "1.5"), ("train", "--batch-size", "0"),
    ("train", "--image-size", "100000"), ("train", "--style-size", "8"), ("train", "--lr", "nan"),
    ("train", "--lr", "0"), ("train", "--lr", "inf"), ("train", "--lr", "-1e-3"), ("train", "--checkpoint-every", "0"),
    ("train", "--log-every", "0"), ("train", "--workers", "-1"), ("train", "--style-weight", "-1"),
    ("train", "--tv-weight", "nan"), ("train", "--seed", "-1"),
    ("train", "--zoom", "0.5"), ("train", "--zoom", "nan"), ("train", "--zoom", "inf"),
    ("train", "--norm", "weight"), ("train", "--arch", "huge"), ("train", "--content-layer", "relu9_9"),
    ("train", "--laplacian-mode", "weaker"), ("train", "--palette-weight", "-1"), ("add-style", "--laplacian-mode", "x"),
    ("add-style", "--steps", "0"), ("add-style", "--image-size", "100000"), ("add-style", "--batch-size", "0"),
    ("add-style", "--zoom", "0.5"), ("add-style", "--lr", "nan"), ("add-style", "--style-weight", "-1"),
    ("add-style", "--content-layer", "relu9_9"),
    ("evaluate", "--size", "0"), ("evaluate", "--limit", "0"),
    ("bench", "--sizes", "0"), ("bench", "--repeats", "0"), ("bench", "--arch", "huge"), ("bench", "--rss", "-1"),
    ("export", "--arch", "huge"), ("export", "--norm", "weight"),
    ("stylize", "--strength", "nan"), ("stylize", "--strength", "2"), ("stylize", "--max-size", "0"),
    ("stylize", "--max-size", "1e9"), ("stylize", "--arch", "huge"),
    ("compare", "--max-size", "-3"), ("compare", "--arch", "huge"),
]


@pytest.mark.parametrize("command, flag, value", BAD_FLAGS)
def test_out_of_range_flags_are_one_line_usage_errors(command, flag, value, capsys):
    code, out, err = run(capsys, *BASE_ARGV[command], f"{flag}={value}")  # "=": -1 is a value, not a flag
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"argument {flag}: " in err and "Traceback" not in err


def test_flag_range_errors_say_the_range(capsys):
    _, _, err = run(capsys, *BASE_ARGV["train"], "--image-size", "100000")
    assert err.endswith("argument --image-size: must be at least 16 and at most 4096, got 100000\n")
    _, _, err = run(capsys, *BASE_ARGV["train"], "--lr", "0")
    assert err.endswith("argument --lr: must be above 0.0 and at most 10.0, got 0\n")
