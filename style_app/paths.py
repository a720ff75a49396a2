"""One rule for every command's outputs, checked before any work: an output path (`-o`, `--out`,
`--out-dir`, `--json`, `--grid`, and the files a training writes beside `--out`) may not be, or
lie inside, anything the command reads (photos, paintings, content and style folders, weights, the
VGG file). Paths are compared resolved (symlinks, `..`) and by inode (hard links). A file output
whose path ends in a separator names a folder, and is refused with the real cause."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from style_app.errors import StyleAppError

PathLike = str | os.PathLike


def ends_in_separator(path: PathLike) -> bool:
    text = os.fspath(path)
    return text.endswith(os.sep) or (os.altsep is not None and text.endswith(os.altsep))


def check_file_output(flag: str, path: PathLike, suffix: str | None = None) -> Path:
    """An output that must be a file: not a path ending in a separator, not an existing folder,
    no part of its folder an existing file, and (with `suffix`) ending in that suffix. Returns
    it as a Path; raises StyleAppError with the real cause."""
    text = os.fspath(path)
    if ends_in_separator(text):
        raise StyleAppError(f"{flag} {text}: ends in '/', so it names a folder; give a file name "
                            f"(e.g. {text}out{suffix or ''})")
    p = Path(text)
    if p.is_dir():
        raise StyleAppError(f"{flag} {text}: is a folder; give a file name")
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
