"""The names users, scripts and the docs rely on keep working wherever the code lives."""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

from style_app.models.norms import COMPARED_NORMS, NORM_KINDS

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_python_api_names():
    from style_app.models.norms import make_norm
    from style_app.models.transformer import TransformerNet
    from style_app import Stylizer
    from style_app.stylizer import Stylizer as defined

    assert Stylizer is defined
    net = TransformerNet(norm="group", arch="slim")
    assert type(net.enc1[1]) is type(make_norm("group", 16))


def test_cli_norm_choices_come_from_the_norm_table():
    from style_app.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command in ("train", "stylize", "bench", "export"):
        norm = next(a for a in commands[command]._actions if a.dest == "norm")
        assert tuple(norm.choices) == NORM_KINDS, command
    bench_norms = next(a for a in commands["bench"]._actions if a.dest == "norm")
    assert bench_norms.default == list(COMPARED_NORMS)


def test_console_script_module_and_app_launcher_start(shipped):
    script = Path(sys.executable).parent / "style-app"
    for argv in ([str(script), "list"], [sys.executable, "-m", "style_app", "list"]):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "starry_night" in done.stdout, (argv, done.stderr)
    done = subprocess.run([sys.executable, str(REPO / "app.py"), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "--max-side" in done.stdout


def test_gradio_endpoint_names(shipped):
    from style_app.web.ui import build_demo

    names = {getattr(fn, "api_name", None) for fn in build_demo(96).fns.values()}
    assert {"stylize", "compare"} <= names


def readme_commands() -> list[list[str]]:
    """Every `style-app ...` command line of the README, as argv (continuations joined)."""
    text = README.replace("\\\n", " ")
    found = re.findall(r"^\s*(?:[A-Z_]+=\S+ )*style-app (.*)$", text, flags=re.MULTILINE)
    lines = [re.sub(r"\$\{?(\w+)\}?", lambda m: {"norm": "instance"}.get(m.group(1), "X"), line.split("$(")[0])
             for line in found]  # shell variables: the loop's norm, any path
    return [shlex.split(line, comments=True) for line in lines]


def test_readme_command_lines_use_commands_and_flags_that_exist():
    from style_app.cli import build_parser

    commands = readme_commands()
    for argv in commands:
        build_parser().parse_args(argv)  # an unknown command or flag exits here
    assert {argv[0] for argv in commands} >= {"list", "stylize", "compare", "evaluate", "train", "vgg-weights",
                                             "export", "bench"}
    assert all("--vgg-weights" in argv for argv in commands if argv[0] == "evaluate")  # offline users need it
    assert not [argv for argv in commands if any("shared" in arg for arg in argv)]  # nobody else has ../shared


def test_networks_are_the_models_folder_under_one_name():
    """`style_app.models` is the checkout's models/ folder (setuptools' package-dir mapping), and
    nothing imports a generic top-level `models` package."""
    import style_app.cli  # noqa: F401  (the whole app, through its entry points)
    import style_app.models.norms
    import style_app.web.ui  # noqa: F401

    assert Path(style_app.models.norms.__file__).resolve() == REPO / "models" / "norms.py"
    assert "models" not in sys.modules
    assert isinstance(style_app.models.transformer.TransformerNet("group", num_styles=2).enc1[1],
                      style_app.models.norms.StyleConditional)
