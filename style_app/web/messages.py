"""Errors as the web page says them: in words for the page, never a CLI flag, never a server path.
Every message the UI shows goes through `for_page` (style_app.web.widgets.user_errors and the
trainer's report), so one rule covers them all."""
from __future__ import annotations

import re
from pathlib import PurePath

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
