"""Errors a user can cause and fix: the CLI prints them as one line, the UI as a visible message
in the page's words (`for_page`: no CLI flag, no server path)."""
from __future__ import annotations

import re
from pathlib import PurePath


class StyleAppError(Exception):
    """Base class: the message names the file or value at fault and, where possible, the fix."""


class ImageError(StyleAppError):
    """An input image is missing, unreadable, corrupt or too large."""


class WeightsError(StyleAppError):
    """A weights file is missing, malformed, or names a style/norm we do not have."""


class TrainingError(StyleAppError):
    """Training cannot start or had to stop (bad data, non-finite loss, interrupted)."""


class OutputError(StyleAppError):
    """An output file could not be written (full disk, read-only folder...); nothing half-written
    was left behind and any previous file of that name is unchanged. `reason` is the cause alone
    (e.g. "No space left on device"), for callers that say more about what was being written."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


class Interrupted(TrainingError):
    """Training stopped on Ctrl-C or SIGTERM; the message says where the checkpoint is (exit 130)."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (or its type name): our errors print as one line."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- the web page's wording: every message the UI shows goes through for_page ------------------

#: (pattern, words for the page), applied in order, after server paths became file names.
REWORDED = (
    (re.compile(r"(\S+) exists; --resume continues its training, or choose another --name or --out"),
     "a style file named \\1 is already in the weights folder; type another name"),
    (re.compile(r"no folder for your styles: give --weights-dir DIR \(or set STYLE_APP_WEIGHTS\), or --out FILE"),
     "this server has no folder for added styles; whoever runs it can start it with one"),
    (re.compile(r"add-style needs training photos: --content-dir DIR \(or set \w+\)"),
     "this server has no training photos set up; whoever runs it can start it with a folder of them"),
    (re.compile(r"; give --base FILE"), ""),
    (re.compile(r"choose another --name"), "type another name"),
    (re.compile(r"continue with --resume"), "start it again"),
    (re.compile(r"then run again with --resume"), "then start it again"),
)
#: An absolute path (or ~/...) as it appears in a message: replaced by its last part.
SERVER_PATH = re.compile(r"(?<![\w.])(?:~|/)[^\s:;,()'\"]*")


def for_page(message: str) -> str:
    """`message` with every server path cut to its file name and every CLI flag put in words."""
    text = SERVER_PATH.sub(lambda m: PurePath(m.group(0)).name or m.group(0), message)
    for pattern, words in REWORDED:
        text = pattern.sub(words, text)
    return text
