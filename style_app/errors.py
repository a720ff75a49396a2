"""Errors a user can cause and fix: the CLI prints them as one line, the UI as a visible message."""


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
