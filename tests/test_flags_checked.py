"""Issue 48, class 7: every flag of app.py and bench is checked before work starts; sizes whose
memory can be estimated are refused when they cannot fit; an allocation failure that still
happens is one line, never a traceback."""
from __future__ import annotations

import resource
import socket
import subprocess
import sys

import pytest

from helpers import REPO
from style_app.cli import main
from style_app.errors import StyleAppError


def app(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "app.py"), *argv], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def one_line_error(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert expected in done.stderr, done.stderr


@pytest.mark.parametrize("argv,expected", [
    (["--port", "0"], "argument --port: must be at least 1 and at most 65535, got 0"),
    (["--port", "99999"], "argument --port: must be at least 1 and at most 65535, got 99999"),
    (["--port", "-1"], "argument --port: must be at least 1 and at most 65535, got -1"),
    (["--max-side", "0"], "argument --max-side: must be at least 96"),
    (["--max-side", "-5"], "argument --max-side: must be at least 96"),
    (["--max-side", "63"], "argument --max-side: must be at least 96"),
    (["--host", "bogus.invalid"], "--host bogus.invalid: no such host name or address"),
])
def test_app_flags_are_checked_before_the_server_starts(argv, expected):
    one_line_error(app(*argv), expected)


def test_a_port_in_use_is_named_as_the_cause():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(app("--port", str(port)), f"--port {port}: already in use on 127.0.0.1; choose another --port")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))


@pytest.mark.parametrize("size", ["16384", "6000", "4096"])
def test_bench_refuses_a_size_that_cannot_fit_with_the_estimate_and_the_limit(size):
    """Under a 6 GiB address-space cap: 4096 px needs about 7 GiB (it reached 7 GB RSS), refused
    before anything is allocated, naming both numbers."""
    done = subprocess.run([sys.executable, "-m", "style_app", "bench", "--sizes", size, "--arch", "johnson",
                           "--norm", "instance", "--no-train", "--repeats", "1", "--device", "cpu"],
                          capture_output=True, text=True, timeout=120, cwd=REPO, preexec_fn=_cap_memory)
    one_line_error(done, f"--sizes {size}: a {size}x{size} johnson inference needs about ")
    assert "GiB of memory is available on cpu; choose a smaller size" in done.stderr
    assert "| task |" not in done.stdout  # refused before the table's header


def test_bench_rss_beyond_the_photo_limit_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["bench", "--rss", "9000"])
    assert usage.value.code == 2
    assert "argument --rss: must be at least 16 and at most 8000, got 9000" in capsys.readouterr().err


def test_a_failed_rss_measurement_is_one_line_not_the_script():
    from style_app.tools.bench import stylize_peak_rss

    with pytest.raises(StyleAppError) as failed:
        stylize_peak_rss(64, arch="no-such-arch")
    message = str(failed.value)
    assert message.startswith("--rss 64: the measuring process failed (") and "\n" not in message
    assert "import json" not in message  # the script is not dumped


def test_an_allocation_failure_is_one_line(monkeypatch, capsys):
    from style_app.tools import bench

    def out_of_memory(*_, **__):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
                           "you tried to allocate 68719476736 bytes.")
        yield

    monkeypatch.setattr(bench, "run_bench", out_of_memory)
    assert main(["bench", "--sizes", "16", "--arch", "johnson", "--norm", "instance", "--no-train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("style-app: error: out of memory (") and err.count("\n") == 1, err
