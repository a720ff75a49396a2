"""The names users, scripts and the docs rely on keep working wherever the code lives."""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from pathlib import Path

from models.norms import COMPARED_NORMS, NORM_KINDS, NORMS

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()


def test_python_api_names():
    from models.norms import make_norm
    from models.transformer import TransformerNet
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


def test_readme_norm_table_matches_the_norm_table():
    for kind in COMPARED_NORMS:
        short = re.search(r"\((\w+)\)", NORMS[kind].label).group(1)
        row = next(line for line in README.splitlines() if line.startswith(f"| **{short}** {kind} norm |"))
        assert f"({NORMS[kind].averages_over})" in row, row


def test_readme_layout_matches_the_tree():
    layout = README.split("\n## Layout\n")[1].split("\n## ")[0]
    rows = [line.split("|")[1:3] for line in layout.splitlines() if line.startswith("| `")]
    for where, _ in rows:
        for path in re.findall(r"`([^`]+/[^`]*)`", where):
            assert (REPO / path).exists(), path
    modules = [*REPO.glob("style_app/**/*.py"), *REPO.glob("models/*.py")]
    for module in (m for m in modules if m.name != "__init__.py"):
        path = module.relative_to(REPO).as_posix()
        folder = path.rsplit("/", 1)[0] + "/"
        assert any(f"`{path}`" in where or (f"`{folder}" in where and f"`{module.name}`" in where + what)
                   for where, what in rows), f"{path} is missing from the README's Layout table"


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


def test_networks_have_one_identity_under_both_names():
    """In a checkout, models.* and the installed name style_app.models.* are the same modules."""
    import models.norms
    import style_app.models.norms
    import style_app.models.transformer

    assert style_app.models.norms is models.norms
    assert isinstance(style_app.models.transformer.TransformerNet("group", num_styles=2).enc1[1],
                      models.norms.StyleConditional)
