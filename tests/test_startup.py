"""The CLI answers at once: `style-app --help` and `list` load neither torch nor gradio (a command
imports them only when it needs them), and `style-app serve` is app.py with the same flags."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "gradio", "pandas")


def loaded_after(argv: list[str], env: dict | None = None) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run `style-app argv` in a fresh interpreter; the heavy modules it had loaded by the end."""
    probe = ("import json, sys\nfrom style_app.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
             "except SystemExit as e:\n    code = e.code\n"
             f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\nsys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, cwd=REPO,
                          timeout=120, env=env)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["list", "--json"], []])
def test_help_and_list_load_no_torch_nor_gradio(argv, shipped):
    done, heavy = loaded_after(argv)
    assert heavy == [], (argv, heavy)
    assert done.returncode == (2 if not argv else 0), done.stderr


def test_list_without_torch_still_shows_the_models_and_skips_broken_files(shipped, tmp_path, monkeypatch):
    import shutil

    for name in ("starry_night_instance", "great_wave_batch"):
        shutil.copy(shipped / f"{name}.safetensors", tmp_path)
    (tmp_path / "truncated.safetensors").write_bytes((shipped / "great_wave_layer.safetensors").read_bytes()[:3000])
    done, heavy = loaded_after(["list", "--json", "--weights-dir", str(tmp_path)])
    assert heavy == [] and done.returncode == 0, done.stderr
    assert {(m["style"], m["norm"]) for m in json.loads(done.stdout)} == {("starry_night", "instance"),
                                                                          ("great_wave", "batch")}
    assert "skipped" in done.stderr and "truncated.safetensors" in done.stderr


def test_stylize_loads_torch_but_not_gradio(shipped, tmp_path):
    from helpers import random_photo

    random_photo(0, (40, 30)).save(tmp_path / "in.png")
    done, heavy = loaded_after(["stylize", str(tmp_path / "in.png"), "--style", "starry_night", "-o",
                                str(tmp_path / "out.png")])
    assert done.returncode == 0, done.stderr
    assert "torch" in heavy and "gradio" not in heavy and "torchvision" not in heavy


def test_serve_has_app_py_flags_from_one_function():
    from style_app.cli import build_parser
    from style_app.web.launcher import add_serve_flags

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    app = argparse.ArgumentParser()
    add_serve_flags(app)
    flags = {tuple(a.option_strings): a.default for a in app._actions}
    serve_flags = {tuple(a.option_strings): a.default for a in commands["serve"]._actions}
    assert flags == serve_flags
    assert {("--host",), ("--port",), ("--share",), ("--max-side",), ("--weights-dir",), ("--content-dir",)} <= set(flags)


def test_style_app_serve_starts_the_ui(monkeypatch, capsys):
    """`style-app serve --port P` builds and launches the same app as app.py (a stand-in server)."""
    from style_app.cli import main
    from style_app.web import serving, ui

    launched = {}

    class Demo:
        def block_thread(self):
            launched["blocked"] = True

    monkeypatch.setattr(ui, "build_demo", lambda max_side: launched.setdefault("max_side", max_side) and Demo())
    monkeypatch.setattr(ui, "launch", lambda demo, host, port, share: f"http://{host}:{port}/")
    monkeypatch.setattr(serving, "harden_server", lambda: None)  # not this test process
    assert main(["serve", "--port", "7999", "--max-side", "640"]) == 0
    assert launched == {"max_side": 640, "blocked": True}
    assert "style_app UI running at http://127.0.0.1:7999/" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--port", "0"], "argument --port: must be at least 1 and at most 65535, got 0"),
    (["--max-side", "10"], "argument --max-side: must be at least 96"),
])
def test_bad_serve_flags_are_one_line_exit_2(argv, message):
    for command in ([sys.executable, "-m", "style_app", "serve"], [sys.executable, str(REPO / "app.py")]):
        done = subprocess.run([*command, *argv], capture_output=True, text=True, cwd=REPO, timeout=120)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


def test_a_port_in_use_is_one_line_not_a_traceback(monkeypatch, capsys):
    from style_app.cli import main
    from style_app.web import serving, ui

    def taken(*_):
        raise OSError("Cannot find empty port in range: 7860-7860.")

    monkeypatch.setattr(ui, "build_demo", lambda max_side: object())
    monkeypatch.setattr(ui, "launch", taken)
    monkeypatch.setattr(serving, "harden_server", lambda: None)
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == ("style-app: error: cannot serve on 127.0.0.1:7860: Cannot find empty port in "
                                       "range: 7860-7860.\n")


def test_output_into_a_closed_pipe_ends_quietly():
    """`style-app list | true`: the reader is gone before the first line; no BrokenPipeError traceback."""
    done = subprocess.run(["bash", "-c", f"'{sys.executable}' -m style_app list | true"],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
