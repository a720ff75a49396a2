"""Process-level fixes for serving the UI to many users at once (the load behind them:
docs/security.md). `serve` (style_app/web/launcher.py: app.py and `style-app serve`) calls `harden_server()`
before the server starts its threads."""
from __future__ import annotations

import ctypes
import functools
import os
import threading
import time
from pathlib import Path

from style_app.files import write_atomically

M_ARENA_MAX = -8  # glibc malloc.h
#: Most bytes one upload request may carry, all its files together (Gradio caps each file alone).
MAX_UPLOAD_REQUEST_BYTES = 64 * 2**20


@functools.cache
def harden_server() -> None:
    """All the fixes below, once per process."""
    limit_malloc_arenas()
    if glibc() is not None:
        trim_memory_periodically()
    atomic_gradio_cache_writes()
    bound_upload_requests()


@functools.cache
def glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (its malloc is the one tuned here), else None."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # macOS, Windows, musl
        return None


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas. Gradio runs each request on a pool thread, glibc gives threads
    their own arenas and keeps freed blocks in them, so RSS climbs with each new thread that runs
    the network; capped, it stays near its post-warm-up level. An explicit MALLOC_ARENA_MAX wins. Returns whether the cap was applied (not off glibc)."""
    libc = glibc()
    if os.environ.get("MALLOC_ARENA_MAX") or libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def trim_memory_periodically(interval_s: float = 2.0) -> threading.Thread:
    """Hand freed heap memory back to the OS every `interval_s` (glibc malloc_trim), so the
    server's RSS falls back after a burst of requests instead of staying at its peak."""
    def trim() -> None:
        while True:
            time.sleep(interval_s)
            glibc().malloc_trim(0)

    thread = threading.Thread(target=trim, name="malloc-trim", daemon=True)
    thread.start()
    return thread


#: The Gradio functions replaced here, with the parameters they had when the replacements were
#: written (gradio 6.x, pinned below 7 in pyproject.toml); tests/test_serving.py fails if one changes.
PATCHED_SIGNATURES = {
    "gradio.processing_utils.save_pil_to_cache": ("img", "cache_dir", "name", "format"),
    "gradio.routes.upload_fn": ("request", "upload_dir", "max_file_size", "upload_id", "force_move",
                                "upload_progress"),
}


def atomic_gradio_cache_writes() -> None:
    """Gradio stores each output picture at cache/<hash of its bytes>/image.<ext> and rewrites
    that file in place (truncate, then write). Two requests with the same result (same photo,
    same style) share the path, and a client downloading it mid-rewrite gets an empty file.
    Write it atomically instead (style_app.files): a reader sees the old complete file or the new
    one, never a partial one, and a full disk leaves neither a truncated file nor a temp file."""
    from gradio import processing_utils

    if getattr(processing_utils.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        return str(write_atomically((folder / f"{name}.{format}").resolve(), data))

    save_pil_to_cache.atomic = True
    processing_utils.save_pil_to_cache = save_pil_to_cache


def bound_upload_requests(max_bytes: int = MAX_UPLOAD_REQUEST_BYTES) -> None:
    """Gradio caps each uploaded file (`max_file_size`) but lets one request carry up to 1000 of
    them. Refuse a request once its body passes `max_bytes`, while it streams in (HTTP 413, and
    Gradio removes the files it had begun), so no request can fill the disk."""
    from gradio import routes

    if getattr(routes.upload_fn, "bounded", False):
        return
    unbounded = routes.upload_fn

    async def upload_fn(request, *args, **kwargs):
        return await unbounded(_bounded_request(request, max_bytes), *args, **kwargs)

    upload_fn.bounded = True
    routes.upload_fn = upload_fn


def _bounded_request(request, max_bytes: int):
    """The same request, whose body stops with Gradio's size error past `max_bytes`."""
    from starlette.formparsers import MultiPartException
    from starlette.requests import Request

    received = 0

    async def receive() -> dict:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > max_bytes:  # Gradio answers 413 to this wording
            raise MultiPartException(f"Request exceeded maximum allowed size of {max_bytes} bytes for all "
                                     f"its files together.")
        return message

    return Request(request.scope, receive)


def check_address(host: str, port: int) -> None:
    """Refuse, before anything is built, a --host that does not resolve or is not this machine's,
    and a --port already in use: one line that names the real cause (StyleAppError)."""
    import errno
    import socket

    from style_app.errors import StyleAppError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise StyleAppError(f"--host {host}: no such host name or address ({getattr(e, 'strerror', None) or e})") \
            from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise StyleAppError(f"--port {port}: already in use on {host}; choose another --port") from None
            if e.errno == errno.EADDRNOTAVAIL:
                raise StyleAppError(f"--host {host}: not an address of this machine; use 127.0.0.1 or 0.0.0.0") \
                    from None
            if e.errno == errno.EACCES:
                raise StyleAppError(f"--port {port}: not allowed for this user (ports below 1024 need root); "
                                    f"choose another --port") from None
            raise StyleAppError(f"cannot serve on {host}:{port} ({e.strerror or e})") from None
