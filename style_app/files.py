"""Output files that are either whole or absent: every file the app writes (pictures, weights,
checkpoints, JSON, ONNX) goes to a temporary file beside its target, is fsynced, and is renamed
over the target only when complete. A full disk, a kill or a Ctrl-C leaves the previous file as
it was and no temporary file behind."""
from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from style_app.errors import OutputError

TEMP_SUFFIX = ".tmp"


def write_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all; raises OutputError naming the file."""
    with atomic_output(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary path beside `path` for the caller to write; on success it is fsynced,
    given the permissions a plain open() would give, and renamed to `path`. On any error (or
    KeyboardInterrupt) it is removed; an OSError becomes OutputError."""
    path = Path(path)
    tmp = _new_temp(path)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise cannot_write(path, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one line to a log; on failure cut the file back, so no torn line is left."""
    path, data = Path(path), memoryview(line.rstrip("\n").encode() + b"\n")
    try:
        with open(path, "ab", buffering=0) as f:
            size = f.seek(0, os.SEEK_END)
            try:
                while data:
                    data = data[f.write(data):]
            except BaseException:
                f.truncate(size)
                raise
    except OSError as e:
        raise cannot_write(path, e) from None


def stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that an interrupted write of `path` may have left (this module's and the
    older `<name>.tmp`)."""
    path = Path(path)
    name = glob.escape(path.name)
    return sorted({*path.parent.glob(f".{name}.*{TEMP_SUFFIX}"), *path.parent.glob(name + TEMP_SUFFIX)})


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output path that is a folder or whose folder cannot take a
    new file (read-only filesystem, no permission)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    _new_temp(path).unlink()


def cannot_write(path: Path, error: OSError) -> OutputError:
    reason = error.strerror or str(error)
    return OutputError(f"{path}: cannot write ({reason}); nothing was written", reason)


def _new_temp(path: Path) -> Path:
    """An empty private file beside `path` (creating its folder); OutputError if impossible."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    except OSError as e:
        raise cannot_write(path, e) from None
    os.close(fd)
    return Path(name)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mode_for(path: Path) -> int:
    """An existing file keeps its permissions; a new one gets 0666 minus the umask, as open()
    would give it (mkstemp's temporary files are 0600)."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(path.stat().st_mode)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask reads it only
    by setting it, which races with other threads writing files)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
