"""Outputs are whole or absent: a full disk, a bad photo in a folder or an output path that is an
input never loses a file the user had, and every failure is one line."""
from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import corpus
from helpers import FULL_DISK, random_photo
from style_app.models.transformer import TransformerNet
from style_app.cli import main
from style_app.errors import OutputError
from style_app.files import append_line, atomic_output, write_atomically
from style_app.weights import save_model


@pytest.fixture(scope="module")
def slim_weights(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_model(TransformerNet("instance", "slim"), tmp_path_factory.mktemp("slim") / "slim.safetensors",
                      {"style": "slim_test", "arch": "slim", "steps": 0})


def noise(side: int) -> Image.Image:
    """A picture no encoder can shrink much: its PNG or JPEG is large."""
    return Image.fromarray(np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8))


def stylize(*argv: str) -> list[str]:
    return [sys.executable, "-m", "style_app", "stylize", *argv]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as usage_error:
        code = usage_error.code
    out, err = capsys.readouterr()
    return code, out, err


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# --- the helper itself ------------------------------------------------------------------------

def test_atomic_output_keeps_the_old_file_and_leaves_no_temp_on_any_error(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    for error in (OSError(28, "No space left on device"), KeyboardInterrupt(), ValueError("encoder")):
        with pytest.raises((OutputError, KeyboardInterrupt, ValueError)):
            with atomic_output(target) as tmp:
                tmp.write_bytes(b"half")
                raise error
        assert target.read_bytes() == b"previous" and temp_files(tmp_path) == []


def test_outputs_get_the_umask_permissions_not_mkstemps_0600(tmp_path):
    old = os.umask(0o027)
    try:
        fresh = write_atomically(tmp_path / "fresh.png", b"x")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
        existing = tmp_path / "existing.png"
        existing.write_bytes(b"old")
        existing.chmod(0o604)
        write_atomically(existing, b"new")
        assert stat.S_IMODE(existing.stat().st_mode) == 0o604  # as cp would keep it
    finally:
        os.umask(old)


def test_log_line_on_a_full_disk_leaves_no_torn_line(small_disk):
    disk = small_disk(8192)
    log = disk.folder / "run.losses.jsonl"
    first = '{"step": 1, "total": 0.5}'
    append_line(log, first)
    if disk.mounted:  # fill the rest of the tmpfs, so the next line gets a few bytes then ENOSPC
        with pytest.raises(OSError):
            with open(disk.folder / "filler", "wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * 1024)
        with pytest.raises(OutputError, match=FULL_DISK):
            append_line(log, '{"step": 2, "total": 0.25, "padding": "' + "x" * 8000 + '"}')
        assert log.read_text() == first + "\n"
    else:
        result = disk.run([sys.executable, "-c", "import sys; from style_app.files import append_line; "
                           f"append_line({str(log)!r}, 'x' * 10000)"])
        assert "File too large" in result.stderr and log.read_text() == first + "\n"


# --- one photo --------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_full_disk_while_writing_a_picture_is_an_error_and_keeps_the_old_one(suffix, small_disk, slim_weights,
                                                                           tmp_path):
    disk = small_disk(16 * 1024)
    photo = tmp_path / "photo.png"
    noise(400).save(photo)  # its stylized picture needs far more than 16 kB (JPEG ~37 kB)
    out = disk.folder / f"out{suffix}"
    random_photo(0, (8, 8)).save(out)
    before = out.read_bytes()
    result = disk.run(stylize(str(photo), "--weights", str(slim_weights), "-o", str(out), "--device", "cpu"))
    assert result.returncode == 2, result.stderr
    assert re.fullmatch(rf"style-app: error: {re.escape(str(out))}: cannot write {FULL_DISK}; nothing was "
                        rf"written\n", result.stderr), result.stderr
    assert out.read_bytes() == before and temp_files(disk.folder) == []


def test_output_that_is_the_input_photo_is_refused(shipped, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    random_photo(0).save(photo)
    before = photo.read_bytes()
    for out in (photo, tmp_path / "." / "photo.jpg"):
        code, _, err = run(capsys, "stylize", str(photo), "--style", "starry_night", "-o", str(out))
        assert code == 2 and err.count("\n") == 1 and "is the input photo" in err
    assert photo.read_bytes() == before


# --- folder runs ------------------------------------------------------------------------------

def test_folder_run_skips_a_bad_photo_reports_it_and_counts(shipped, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "c.png"):
        random_photo(len(name), (20, 16)).save(photos / name)
    bad = corpus.write_bad(photos, "truncated.jpg")
    code, out, err = run(capsys, "stylize", str(photos), "--style", "starry_night", "--out-dir", str(tmp_path / "out"))
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith(f"style-app: error: {bad}: corrupt or truncated image")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]  # c came after the bad one
    assert out.splitlines()[-1] == "2 written, 1 failed"


def test_folder_run_keeps_names_and_subfolders_distinct(shipped, tmp_path, capsys):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for name in ("x.jpg", "x.png", "sub/x.webp", "y.png"):
        random_photo(len(name), (12, 10)).save(photos / name)
    code, out, err = run(capsys, "stylize", str(photos), "--style", "starry_night", "--out-dir", str(tmp_path / "out"))
    assert code == 0, err
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.png"))
    assert written == ["sub/x.png", "x.jpg.png", "x.png.png", "y.png"]
    assert out.splitlines()[-1] == "4 written, 0 failed"


def test_out_dir_that_is_the_input_folder_is_refused(shipped, tmp_path, capsys):
    random_photo(0).save(tmp_path / "a.png")
    before = (tmp_path / "a.png").read_bytes()
    code, _, err = run(capsys, "stylize", str(tmp_path), "--style", "starry_night", "--out-dir", str(tmp_path / "."))
    assert code == 2 and err.count("\n") == 1 and "is the input folder" in err
    assert (tmp_path / "a.png").read_bytes() == before


def test_folder_without_images_is_an_error(shipped, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no pictures here")
    code, out, err = run(capsys, "stylize", str(tmp_path / "empty"), "--style", "starry_night",
                         "--out-dir", str(tmp_path / "out"))
    assert code == 2 and out == ""
    assert err == (f"style-app: error: {tmp_path / 'empty'}: no images or videos in this folder "
                   f"(.jpg, .jpeg, .png, .webp, .mp4, .mov, .m4v, .mkv, .webm, .avi)\n")


def test_folder_run_survives_a_full_disk_and_keeps_earlier_results(small_disk, slim_weights, tmp_path):
    """Small pictures fit, a large one does not: it fails in one line, the run goes on, and the
    result of an earlier run under the large one's name is kept."""
    photos = tmp_path / "photos"
    photos.mkdir()
    random_photo(1, (10, 8)).save(photos / "a.png")
    noise(400).save(photos / "b.png")
    random_photo(2, (10, 8)).save(photos / "c.png")
    disk = small_disk(16 * 1024)
    previous = disk.folder / "b.png"
    random_photo(3, (8, 8)).save(previous)
    before = previous.read_bytes()
    result = disk.run(stylize(str(photos), "--weights", str(slim_weights), "--out-dir", str(disk.folder),
                              "--device", "cpu"))
    assert result.returncode == 2
    assert re.fullmatch(rf"style-app: error: {re.escape(str(previous))}: cannot write {FULL_DISK}; nothing was "
                        rf"written\n", result.stderr), result.stderr
    assert result.stdout.splitlines()[-1] == "2 written, 1 failed"
    assert previous.read_bytes() == before and temp_files(disk.folder) == []
    for name in ("a.png", "c.png"):
        assert Image.open(disk.folder / name).size == (10, 8)


# --- the server's output cache --------------------------------------------------------------

def test_server_output_cache_on_a_full_disk_keeps_the_previous_file(small_disk):
    disk = small_disk(16 * 1024)
    script = ("from gradio import processing_utils\n"
              "from style_app.web.serving import atomic_gradio_cache_writes\n"
              "import numpy as np\nfrom PIL import Image\n"
              "atomic_gradio_cache_writes()\n"
              "small = processing_utils.save_pil_to_cache(Image.new('RGB', (8, 8)), sys.argv[1], format='png')\n"
              "print(small, flush=True)\n"
              "big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8))\n"
              "processing_utils.save_pil_to_cache(big, sys.argv[1], format='png')\n")
    result = disk.run([sys.executable, "-c", "import sys\n" + script, str(disk.folder)])
    assert re.search(rf"OutputError: .*cannot write {FULL_DISK}", result.stderr), result.stderr[-2000:]
    small = Path(result.stdout.strip())
    assert Image.open(small).size == (8, 8) and temp_files(disk.folder) == []
