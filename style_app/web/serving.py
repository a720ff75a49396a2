"""Process-level fixes for serving the UI to many users at once (the load behind them:
docs/security.md). `app.py` calls `harden_server()` before the server starts its threads."""
from __future__ import annotations

import ctypes
import functools
import os
import secrets
import threading
import time
from pathlib import Path

M_ARENA_MAX = -8  # glibc malloc.h


@functools.cache
def harden_server() -> None:
    """All the fixes below, once per process."""
    limit_malloc_arenas()
    if glibc() is not None:
        trim_memory_periodically()
    atomic_gradio_cache_writes()


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


def atomic_gradio_cache_writes() -> None:
    """Gradio stores each output picture at cache/<hash of its bytes>/image.<ext> and rewrites
    that file in place (truncate, then write). Two requests with the same result (same photo,
    same style) share the path, and a client downloading it mid-rewrite gets an empty file.
    Write a private temp file and rename it over instead: a reader
    sees the old complete file or the new one, never a partial one."""
    from gradio import processing_utils

    if getattr(processing_utils.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = processing_utils.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / processing_utils.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        target = (folder / f"{name}.{format}").resolve()
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return str(target)

    save_pil_to_cache.atomic = True
    processing_utils.save_pil_to_cache = save_pil_to_cache
