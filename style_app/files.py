"""Output files that are either whole or absent: every file the app writes (pictures, weights,
checkpoints, JSON, ONNX) goes to a temporary file beside its target, is fsynced, and is renamed
over the target only when complete. A full disk, a kill or a Ctrl-C leaves the previous file as
it was and no temporary file behind.

And one rule for every command's outputs, checked before any work (`check_outputs_apart`): an
output path (`-o`, `--out`, `--out-dir`, `--json`, `--grid`, and the files a training writes beside
`--out`) may not be, or lie inside, anything the command reads (photos, paintings, content and
style folders, weights, the VGG file). Paths are compared resolved (symlinks, `..`) and by inode
(hard links). A file output whose path ends in a separator names a folder, and is refused with the
real cause (`check_file_output`)."""
from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from style_app.errors import OutputError, StyleAppError

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


# --- outputs apart from inputs, and paths that mean a folder ---------------------------------

PathLike = str | os.PathLike


def ends_in_separator(path: PathLike) -> bool:
    text = os.fspath(path)
    return text.endswith(os.sep) or (os.altsep is not None and text.endswith(os.altsep))


def check_file_output(flag: str, path: PathLike, suffix: str | None = None) -> Path:
    """An output that must be a file: not a path ending in a separator, no part of its folder an
    existing file, and (with `suffix`) ending in that suffix. Returns
    it as a Path; raises StyleAppError with the real cause."""
    text = os.fspath(path)
    if ends_in_separator(text):
        raise StyleAppError(f"{flag} {text}: ends in '/', so it names a folder; give a file name "
                            f"(e.g. {text}out{suffix or ''})")
    p = Path(text)  # an existing folder is left to the writer, which says so ("cannot write (Is a directory)")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise StyleAppError(f"{flag} {text}: {parent} is a file, not a folder")
            break
    if suffix and p.suffix.lower() != suffix:
        raise StyleAppError(f"{flag} {text}: must end in {suffix}")
    return p


def check_folder_output(flag: str, path: PathLike) -> Path:
    """An output that is a folder: not an existing file, and no part of it an existing file."""
    p = Path(path)
    for part in (p, *p.parents):
        if part.exists():
            if not part.is_dir():
                raise StyleAppError(f"{flag} {os.fspath(path)}: {part} is a file, not a folder")
            break
    return p


def check_outputs_apart(outputs: Mapping[str, PathLike | Iterable[PathLike] | None],
                        inputs: Mapping[str, PathLike | Iterable[PathLike] | None]) -> None:
    """Refuse, before any work, an output that is, or lies inside, an input. `outputs` and
    `inputs` map a description (a flag, "the photo") to a path, a list of paths, or None."""
    ins = [(what, Path(p)) for what, value in inputs.items() for p in _paths(value)]
    for flag, value in outputs.items():
        for out in _paths(value):
            for what, source in ins:
                how = _overlaps(Path(out), source)
                if how:
                    raise StyleAppError(f"{flag} {os.fspath(out)}: {how} {what} ({os.fspath(source)}); writing "
                                        f"there would destroy an input, choose another output")


def _paths(value: PathLike | Iterable[PathLike] | None) -> list[PathLike]:
    if value is None or value == "":
        return []
    if isinstance(value, (str, os.PathLike)):
        return [value]
    return [v for v in value if v is not None and v != ""]


def _overlaps(out: Path, source: Path) -> str:
    """How writing `out` could replace `source` or something inside it: "is", "lies inside", or
    "" when it cannot."""
    try:
        out_r, src_r = out.resolve(), source.resolve()
    except (OSError, RuntimeError):
        return ""
    if out_r == src_r:
        return "is"
    if src_r in out_r.parents:
        return "lies inside"
    if not out.exists() or not source.exists():
        return ""
    try:
        if os.path.samefile(out, source):  # a hard link to the input
            return "is"
        target = out.stat()
        if source.is_dir() and out.is_file() and target.st_nlink > 1:  # a hard link to a file in an input folder
            return "lies inside" if any(_same_inode(entry, target) for entry in _files_under(source)) else ""
    except OSError:
        return ""
    return ""


def _same_inode(path: str, target: os.stat_result) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino)


def _files_under(folder: Path) -> Iterable[str]:
    for root, _, names in os.walk(folder, followlinks=True):
        for name in names:
            yield os.path.join(root, name)
