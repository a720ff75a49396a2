"""Bad, odd and huge pictures through every entry point: `open_image`, `Stylizer` and the CLI.

Bad files must give one clear line naming the file (CLI: exit 2, no traceback); odd but valid
files must come out upright, of the right size and with the right colours.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import corpus
from style_app.cli import main
from style_app.errors import ImageError
from style_app.images import MAX_PIXELS, open_image
from style_app.stylizer import Stylizer

REPO = Path(__file__).resolve().parent.parent
# style_app.images silences Pillow's warnings process-wide at import; pytest resets warning
# filters for each test, so say it again here. The subprocess tests check a real stderr.
pytestmark = [pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
              pytest.mark.filterwarnings(r"ignore::UserWarning:PIL\.")]
#: The files Pillow opens lazily (header fine), so the failure comes only when pixels are read.
LAZY_BAD = ("truncated.jpg", "big.png")


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    for name in corpus.BAD:
        corpus.write_bad(folder, name)
    for name in corpus.ODD:
        corpus.write_odd(folder, name)
    return folder


@pytest.fixture(scope="module")
def stylizer(weights_folder) -> Stylizer:
    return Stylizer.from_file(weights_folder / "starry_night_instance.safetensors", "cpu")


def cli_stylize(path: Path, out: Path, *extra: str) -> int:
    return main(["stylize", str(path), "--style", "starry_night", "-o", str(out), "--device", "cpu", *extra])


# --- refused files ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", corpus.BAD)
def test_open_image_refuses_bad_file_naming_it(name, corpus_dir):
    with pytest.raises(ImageError) as error:
        open_image(corpus_dir / name)
    message = str(error.value)
    assert str(corpus_dir / name) in message and "\n" not in message


def test_bad_size_limits_are_read_from_the_header(corpus_dir):
    with Image.open(corpus_dir / "big.png") as image:
        assert image.width * image.height > MAX_PIXELS  # the file really is over the limit
    with pytest.raises(ImageError, match="100 megapixels; the limit is 64"):
        open_image(corpus_dir / "big.png")
    with pytest.raises(ImageError, match="decompression bomb"):
        open_image(corpus_dir / "bomb.png")


@pytest.mark.parametrize("name", LAZY_BAD)
def test_stylizer_refuses_lazily_opened_bad_file(name, corpus_dir, stylizer):
    image = Image.open(corpus_dir / name)  # the Python API accepts any PIL image, even a lazy one
    with pytest.raises(ImageError, match=name):
        stylizer.stylize(image)


@pytest.mark.parametrize("name", corpus.BAD)
def test_cli_refuses_bad_file_in_one_line(name, corpus_dir, shipped, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert cli_stylize(corpus_dir / name, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("style-app: error: ") and name in err
    assert "Traceback" not in err and not out.exists()


def test_cli_subprocess_refuses_huge_file_in_one_line(corpus_dir, weights_folder, tmp_path):
    """A real process: no traceback, and no Pillow bomb warning leaking onto stderr."""
    out = tmp_path / "out.png"
    env = {**os.environ, "STYLE_APP_WEIGHTS": str(weights_folder), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "style_app", "stylize", str(corpus_dir / "big.png"),
                             "--style", "starry_night", "-o", str(out)],
                            capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"style-app: error: {corpus_dir / 'big.png'}: 10000x10000 is "
                                          f"100 megapixels; the limit is 64 megapixels"]
    assert not out.exists()


# --- odd but valid files ----------------------------------------------------------------------

def test_cli_subprocess_keeps_library_warnings_off_the_terminal(corpus_dir, weights_folder, tmp_path):
    """Pillow warns about the corrupt EXIF block with its own file path and line: not our user's
    business, as the picture is read fine."""
    out = tmp_path / "out.png"
    env = {**os.environ, "STYLE_APP_WEIGHTS": str(weights_folder), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "style_app", "stylize", str(corpus_dir / "corrupt_exif.jpg"),
                             "--style", "starry_night", "-o", str(out)],
                            capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", f"wrote {out}\n")
    assert Image.open(out).size == (20, 40)


@pytest.mark.parametrize("name", corpus.ODD)
def test_open_image_reads_odd_file_upright_in_true_colours(name, corpus_dir):
    odd = corpus.ODD[name]
    image = open_image(corpus_dir / name)
    assert image.mode == "RGB" and image.size == odd.size
    corpus.assert_colours(image, odd.pixels)


@pytest.mark.parametrize("name", corpus.ODD)
def test_stylizer_takes_raw_pil_image_of_odd_file(name, corpus_dir, stylizer):
    odd = corpus.ODD[name]
    assert stylizer.stylize(Image.open(corpus_dir / name)).size == odd.size
    # strength 0 is the photo itself: the colours must survive the whole path
    corpus.assert_colours(stylizer.stylize(Image.open(corpus_dir / name), strength=0.0), odd.pixels)


@pytest.mark.parametrize("name", corpus.ODD)
def test_cli_stylizes_odd_file_upright(name, corpus_dir, shipped, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert cli_stylize(corpus_dir / name, out) == 0
    with Image.open(out) as result:
        assert result.size == corpus.ODD[name].size and result.mode == "RGB"
    assert capsys.readouterr().err == ""


# --- huge but legal ---------------------------------------------------------------------------

PEAK_RSS_SCRIPT = """
import resource, sys
from style_app.cli import main
small, big, out = sys.argv[1:4]
for src in (small, big):
    assert main(["stylize", src, "--style", "starry_night", "-o", out, "--max-size", "256", "--device", "cpu"]) == 0
    print("peak_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_huge_legal_photo_is_downscaled_in_bounded_memory(weights_folder, tmp_path):
    """A 24 MP camera photo with --max-size: decoded once (72 MB of RGB), then shrunk; the peak
    memory it adds over a small photo stays a few copies of the decoded picture."""
    small, big = tmp_path / "small.jpg", tmp_path / "big.jpg"
    corpus.gradient((64, 48)).save(small)
    photo = Image.new("RGB", (6000, 4000), (30, 90, 160))
    photo.paste(corpus.gradient((600, 400)), (100, 100))
    photo.save(big, quality=90)
    del photo
    env = {**os.environ, "STYLE_APP_WEIGHTS": str(weights_folder), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, str(small), str(big), str(tmp_path / "o.png")],
                            capture_output=True, text=True, timeout=180, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    small_peak, big_peak = (int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("peak_mb"))
    assert big_peak - small_peak < 300, (small_peak, big_peak)  # MB; measured ~150
    with Image.open(tmp_path / "o.png") as out:
        assert out.size == (256, 171)
