"""The README's Command line block, run in order in an empty folder as a new user would: every file
a line needs was made by an earlier line (the add-style example included)."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from style_app.cli import main
from style_app.stylizer import cached_stylizer
from style_app.weights import SHIPPED_ENV, WEIGHTS_ENV

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
#: Lines left out here, tested elsewhere: ONNX export (test_export.py) and the benchmark (test_bench.py).
ELSEWHERE = ("export", "bench")
#: Appended to add-style: seconds, not minutes (the flags the README line gives are kept).
QUICK = ["--steps", "1", "--image-size", "64", "--batch-size", "1", "--workers", "0", "--quiet"]


def command_block() -> list[str]:
    block = README.split("### Command line\n")[1].split("```bash\n")[1].split("```")[0]
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_command_line_block_runs_in_order_in_an_empty_folder(tmp_path, monkeypatch, tiny_vgg_file, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SHIPPED_ENV)  # a fresh clone serves the shipped zoo
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user_data"))
    monkeypatch.setenv("STYLE_APP_VGG_WEIGHTS", tiny_vgg_file)  # stands in for torchvision's download (online)
    cached_stylizer.cache_clear()
    first, *commands = command_block()
    assert not first.startswith("style-app")
    done = subprocess.run(["bash", "-c", first.replace("python -c", f"{shlex.quote(sys.executable)} -c")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ran = []
    for line in commands:
        argv = shlex.split(line, comments=True)
        assert argv[0] == "style-app", line
        if argv[1] in ELSEWHERE:
            continue
        code = main(argv[1:] + (QUICK if argv[1] == "add-style" else []))
        out, err = capsys.readouterr()
        assert code == 0, (line, err)
        ran.append(argv[1])
    assert "add-style" in ran and "stylize" in ran and "compare" in ran
    added = [p.name for p in (tmp_path / "user_data" / "style_app" / "styles").glob("*.safetensors")]
    assert len(added) == 1, added
    assert main(["list", "--json"]) == 0
    style = added[0].split("_zoo4_")[0]
    assert f'"style": "{style}"' in capsys.readouterr().out  # the new style is listed
    cached_stylizer.cache_clear()


def test_each_set_up_command_has_its_cpu_only_line_beside_it():
    """A CPU user copies the line beside the command and never downloads CUDA: PyTorch's CPU build
    first, from its own index, then the same install and run as the plain line."""
    setup = README.split("\n## Set-up: two commands\n")[1].split("\n## ")[0]
    blocks = [block.split("```")[0] for block in setup.split("```bash\n")[1:]]
    plain = ["python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/python app.py",
             "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q"]
    cpu_first = ("python3 -m venv .venv && .venv/bin/pip install torch torchvision "
                 "--index-url https://download.pytorch.org/whl/cpu && ")
    for command in plain:
        block = next(b for b in blocks if command in b.splitlines())
        lines = [line for line in block.splitlines() if line and not line.startswith("#")]
        assert lines == [command, cpu_first + command.removeprefix("python3 -m venv .venv && ")], lines
