"""Serving others: safe launch defaults, bad uploads as visible messages, no file access beyond
what the app serves, an upload size cap (the concurrent load is in test_load.py)."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import corpus
from style_app.web.serving import atomic_gradio_cache_writes, limit_malloc_arenas

REPO = Path(__file__).resolve().parent.parent
#: What each refused upload must say (after its file name), as the UI shows it.
UPLOAD_ERRORS = {
    "empty.png": "empty file",
    "notes.png": "not an image file Pillow can read",
    "truncated.jpg": "corrupt or truncated image",
    "garbage_chunks.png": "not an image file Pillow can read",
    "bomb.png": "refused, far over the 64 megapixel limit",
    "big.png": "10000x10000 is 100 megapixels; the limit is 64 megapixels",
}


class FakeDemo:
    """Stands in for gr.Blocks: records how it would be launched."""

    def __init__(self):
        self.launched: dict = {}

    def launch(self, **kwargs):
        self.launched = kwargs
        return None, "http://127.0.0.1:1/", None

    def block_thread(self) -> None:
        pass


def test_app_defaults_bind_loopback_without_share_link(monkeypatch):
    from style_app.web import serving, ui

    spec = importlib.util.spec_from_file_location("app_main", REPO / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    demo = FakeDemo()
    hardened = []
    monkeypatch.setattr(ui, "build_demo", lambda max_side: demo)
    monkeypatch.setattr(serving, "harden_server", lambda: hardened.append(True))  # not this test process
    app.main([])
    assert hardened == [True]
    options = demo.launched
    assert options["server_name"] == "127.0.0.1" and options["share"] is False
    assert options["max_file_size"] == ui.MAX_FILE_SIZE == "25mb"
    assert not options.get("allowed_paths")  # no folder of this machine is opened to the web


def test_app_deletes_old_uploads_and_results(shipped):
    from style_app.web import ui

    assert ui.build_demo(96).delete_cache == ui.DELETE_CACHE == (3600, 86400)


APP_MAX_SIDE = 384  # the app's --max-side for this module's `server` (tests/conftest.py)


@pytest.mark.slow
def test_server_is_on_loopback(server):
    assert httpx.URL(server[1]).host == "127.0.0.1"


@pytest.mark.slow
def test_no_file_access_outside_what_the_app_serves(server, weights_folder):
    _, url = server
    for path in ("/etc/passwd", REPO / "app.py", weights_folder / "starry_night_instance.safetensors",
                 Path.home() / ".bashrc"):
        response = httpx.get(f"{url}gradio_api/file={path}")
        assert response.status_code == 403, (path, response.status_code)


@pytest.mark.slow
def test_uploads_over_the_size_cap_are_refused(server):
    _, url = server
    too_big = b"\0" * (25 * 1024 * 1024 + 1)
    response = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.png", too_big)}, timeout=60)
    assert response.status_code == 413


@pytest.mark.slow
def test_a_request_carrying_many_large_files_is_refused(server):
    """Each file under the 25 MB cap, together over the request cap: refused while streaming."""
    _, url = server
    part = b"\0" * (20 * 2**20)
    files = [("files", (f"p{i}.png", part)) for i in range(4)]
    assert httpx.post(f"{url}gradio_api/upload", files=files, timeout=120).status_code == 413
    assert httpx.post(f"{url}gradio_api/upload", files={"files": ("p.png", part)}, timeout=60).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("name", UPLOAD_ERRORS)
def test_bad_upload_is_a_visible_message_naming_only_the_file(name, client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = corpus.write_bad(tmp_path, name)
    with pytest.raises(AppError) as error:
        client.predict(image=handle_file(str(path)), style="starry_night", norm="instance", strength=1.0,
                       preserve_color=False, api_name="/stylize")
    assert str(error.value).startswith(f"{name}: {UPLOAD_ERRORS[name]}")
    assert "/tmp" not in str(error.value) and "Traceback" not in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize("name", corpus.ODD)
def test_odd_upload_comes_back_upright_in_true_colours(name, client, tmp_path):
    from gradio_client import handle_file
    from PIL import Image

    path = corpus.write_odd(tmp_path, name)
    # strength 0 returns the photo itself (as PNG): what the app made of the upload
    out = client.predict(image=handle_file(str(path)), style="starry_night", norm="instance", strength=0.0,
                         preserve_color=False, api_name="/stylize")
    with Image.open(out) as result:
        assert result.size == corpus.ODD[name].size
        corpus.assert_colours(result.convert("RGB"), corpus.ODD[name].pixels)


def partial_reads(seconds: float) -> int:
    """Rewrite one picture into Gradio's output cache from a thread while reading it back here,
    as a download would; count the reads that saw an incomplete file."""
    import tempfile

    from gradio import processing_utils
    from PIL import Image

    picture, cache = Image.effect_noise((128, 128), 40).convert("RGB"), tempfile.mkdtemp()
    path = Path(processing_utils.save_pil_to_cache(picture, cache, format="png"))
    size, stop, bad = path.stat().st_size, time.monotonic() + seconds, 0

    def rewrite() -> None:
        while time.monotonic() < stop:
            processing_utils.save_pil_to_cache(picture, cache, format="png")

    writer = threading.Thread(target=rewrite)
    writer.start()
    while time.monotonic() < stop:
        bad += len(path.read_bytes()) != size
    writer.join()
    return bad


def test_output_cache_writes_are_atomic(monkeypatch):
    """Same photo + same style from two users = same output path; nobody may download half of it
    (the stock Gradio writer gave ~5% partial reads in this race)."""
    from gradio import processing_utils

    monkeypatch.setattr(processing_utils, "save_pil_to_cache", processing_utils.save_pil_to_cache)  # restored after
    atomic_gradio_cache_writes()
    assert processing_utils.save_pil_to_cache.atomic
    assert partial_reads(0.5) == 0


def test_malloc_arena_cap_applies_unless_set_explicitly(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas() is True  # glibc Linux, as on the servers we test
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


def test_patched_gradio_functions_keep_the_signatures_the_patches_were_written_for():
    """A Gradio release that changes a function serving.py replaces must fail here, loudly, not
    in production (a fresh process: this one may have patched them already)."""
    from style_app.web.serving import PATCHED_SIGNATURES

    code = ("import importlib, inspect, json, sys; found = {}\n"
            "for name in sys.argv[1:]:\n"
            "    module, _, attr = name.rpartition('.')\n"
            "    found[name] = list(inspect.signature(getattr(importlib.import_module(module), attr)).parameters)\n"
            "print(json.dumps(found))")
    done = subprocess.run([sys.executable, "-c", code, *PATCHED_SIGNATURES], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    for name, parameters in PATCHED_SIGNATURES.items():
        assert tuple(found[name]) == parameters, f"{name} changed: {found[name]}; review serving.py's patch"
