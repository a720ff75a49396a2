"""What keeps a training run safe to stop and alone in its files: one writer per output (a file
lock), Ctrl-C / SIGTERM / a stop event honoured between steps, DataLoader workers that leave
signals to the main process, and their errors reported in one line."""
from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from style_app.errors import TrainingError


@contextlib.contextmanager
def only_writer(out: str) -> Iterator[None]:
    """Refuse to start while another process trains into the same output (its checkpoint and log
    would be overwritten): an exclusive lock on <out>.lock, released when this run ends or dies.
    Only the lead process (rank 0) writes, so only it locks."""
    if int(os.environ.get("RANK", 0)) != 0:
        yield
        return
    path = Path(out).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise TrainingError(f"{out}: another training is writing this file (pid {lock.read().strip() or '?'}); "
                                f"wait for it to finish") from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


class StopRequests:
    """Ctrl-C (SIGINT), `kill` (SIGTERM) or the `event` (set by another thread) ask the loop to
    stop after the current step, so the checkpoint it then writes never catches an optimizer update
    halfway. A second signal interrupts at once (KeyboardInterrupt), without saving."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, event: threading.Event | None = None):
        self.signal: int | None = None
        self.event = event
        self.previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None or (self.event is not None and self.event.is_set())

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self) -> "StopRequests":
        try:
            self.previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        except ValueError:  # not the main thread: signals cannot reach us here anyway
            self.previous = {}
        return self

    def __exit__(self, *exc: object) -> bool:
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        return False


def ignore_interrupts(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C (sent to the whole process group by a terminal) to the main
    process, which stops them. SIGTERM, from the main process shutting them down or sent to the
    group, ends a worker at once and with success: dying of the signal would make the main
    process raise a traceback mid-step, and ignoring it would hang the main process at exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))


def until_stopped(loader: DataLoader, stop: "StopRequests") -> Iterator[torch.Tensor]:
    """The loader's batches until a stop is requested. Checked before each fetch, so a stop never
    waits for data. A worker that ended on the same signal while we waited for or received a
    batch is no error (torch reports it as RuntimeError, a reset connection, EOF...)."""
    batches = iter(loader)
    while not stop.requested:
        try:
            yield next(batches)
        except StopIteration:
            return
        except Exception:
            if not stop.requested:
                raise
            return


def without_worker_traceback(error: TrainingError) -> TrainingError:
    """torch re-raises an error from a DataLoader worker with the worker's traceback pasted into
    its message; keep the original one-line message, as the CLI prints errors in one line."""
    text = str(error).strip()
    if not (text.startswith("Caught ") and "Original Traceback" in text):
        return error
    last = text.splitlines()[-1]  # "style_app.errors.TrainingError: <the original message>"
    return type(error)(last.split(": ", 1)[1] if ": " in last else last)
