"""A blind side-by-side judge: sheets of two programs' pictures in a balanced random order, and a
tally of the verdicts against the key.

`make_sheets` writes one sheet per (painting, photo): the painting and the photo on top, below
them two pictures labelled only A and B. Each program's folder holds one subfolder per painting
(named as the painting's file, without its suffix) with one picture per photo (named as the
photo's file, any picture suffix), e.g. what `style-app stylize PHOTOS --style S -o DIR/S` writes.
Exactly half the sheets (one more for an odd count) put the first program on the A side, the
sheets are numbered in a shuffled order, and which side is which goes to a key file kept apart
from the sheets, so a judge who gets the sheet folder alone sees pictures and nothing else.

`tally` reads verdict files (one `sheet A|B|tie` line per sheet, anything after it a reason)
and counts wins per painting and overall for each judge, the majority verdict over the judges,
and how often the judges agree.
"""
from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from style_app.errors import StyleAppError
from style_app.files import write_atomically
from style_app.images import IMAGE_SUFFIXES, fit_within, open_image, save_image, to_rgb

VERDICTS = ("A", "B", "tie")
SHEET_SIDE = 512  # the longer side of each picture on a sheet
_LINE = re.compile(r"^\s*(\S+)\s+(A|B|tie)\b", re.IGNORECASE)


class JudgeError(StyleAppError):
    """Sheets that cannot be made, or verdicts that do not match their key."""


@dataclass(frozen=True)
class Pair:
    painting: Path
    photo: Path
    first: Path  # the first program's picture
    second: Path  # the second program's


def find_picture(folder: Path, stem: str) -> Path | None:
    """The picture in `folder` named `stem` with any picture suffix, or None."""
    for path in sorted(folder.glob(f"{stem}.*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return path
    return None


def pairs(first: Path, second: Path, photos: list[Path], paintings: list[Path]) -> list[Pair]:
    """Every (painting, photo) with both programs' pictures; a missing one is an error naming it."""
    found = []
    for painting in paintings:
        for photo in photos:
            pictures = [find_picture(folder / painting.stem, photo.stem) for folder in (first, second)]
            for folder, picture in zip((first, second), pictures):
                if picture is None:
                    raise JudgeError(f"{folder / painting.stem}: no picture named {photo.stem}.* "
                                     f"(one per photo, in one folder per painting)")
            found.append(Pair(painting, photo, *pictures))
    if not found:
        raise JudgeError("no sheets to make: give at least one photo and one painting")
    return found


def sheet(painting: Image.Image, photo: Image.Image, a: Image.Image, b: Image.Image) -> Image.Image:
    """Painting and photo on top (half size), A and B below at full size, each labelled."""
    a, b = (fit_within(to_rgb(im), SHEET_SIDE) for im in (a, b))
    top = [fit_within(to_rgb(im), SHEET_SIDE // 2) for im in (painting, photo)]
    font = ImageFont.load_default(size=24)
    band = 36
    width = a.width + b.width + 30
    top_h = max(im.height for im in top) + band
    canvas = Image.new("RGB", (width, top_h + max(a.height, b.height) + band + 10), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for label, im in zip(("painting", "photo"), top):
        draw.text((x + 4, 4), label, fill="black", font=font)
        canvas.paste(im, (x, band))
        x += im.width + 30
    x = 0
    for label, im in zip("AB", (a, b)):
        draw.text((x + 4, top_h + 4), label, fill="black", font=font)
        canvas.paste(im, (x, top_h + band))
        x += im.width + 30
    return canvas


def make_sheets(first: Path, second: Path, photos: list[Path], paintings: list[Path], out: Path,
                key: Path, seed: int = 0) -> list[dict]:
    """Write the sheets into `out` and the key (which program is A on each sheet) to `key`."""
    if key.resolve().is_relative_to(out.resolve()):
        raise JudgeError(f"{key}: the key must lie outside the sheet folder the judges get")
    todo = pairs(first, second, photos, paintings)
    rng = random.Random(seed)
    first_is_a = [i < (len(todo) + 1) // 2 for i in range(len(todo))]
    rng.shuffle(first_is_a)
    rng.shuffle(todo)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for number, (pair, a_first) in enumerate(zip(todo, first_is_a), 1):
        name = f"sheet_{number:02d}"
        a, b = (pair.first, pair.second) if a_first else (pair.second, pair.first)
        save_image(sheet(*(open_image(p) for p in (pair.painting, pair.photo, a, b))), out / f"{name}.png")
        rows.append({"sheet": name, "painting": pair.painting.stem, "photo": pair.photo.stem,
                     "A": "first" if a_first else "second", "first": str(first), "second": str(second)})
    write_atomically(key, (json.dumps(rows, indent=1) + "\n").encode())
    return rows


def read_verdicts(path: Path, sheets: set[str]) -> dict[str, str]:
    """One judge's verdicts: sheet -> 'A', 'B' or 'tie'; every sheet exactly once."""
    try:
        text = path.read_text()
    except ValueError:  # not text (UnicodeDecodeError)
        raise JudgeError(f"{path}: not a verdicts file (one 'sheet A|B|tie' line per sheet)") from None
    verdicts: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise JudgeError(f"{path}:{number}: expected 'sheet A|B|tie', got {line.strip()[:60]!r}")
        name, verdict = Path(match[1]).stem, match[2]
        if name not in sheets or name in verdicts:
            raise JudgeError(f"{path}:{number}: {name} is {'given twice' if name in verdicts else 'not a sheet'}")
        verdicts[name] = "tie" if verdict.lower() == "tie" else verdict.upper()
    if missing := sorted(sheets - set(verdicts)):
        raise JudgeError(f"{path}: no verdict for {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    return verdicts


def winner(row: dict, verdict: str) -> str:
    """'first', 'second' or 'tie': the program a verdict on a sheet prefers."""
    if verdict == "tie":
        return "tie"
    return row["A"] if verdict == "A" else ("second" if row["A"] == "first" else "first")


def majority(votes: list[str]) -> str:
    """The program most judges prefer on a sheet; 'tie' when no program has more votes."""
    counts = Counter(v for v in votes if v != "tie")
    if counts["first"] == counts["second"]:
        return "tie"
    return "first" if counts["first"] > counts["second"] else "second"


def count(rows: list[dict], outcomes: dict[str, str]) -> dict[str, Counter]:
    """Wins per painting and overall ('all')."""
    counts: dict[str, Counter] = {"all": Counter()}
    for row in rows:
        outcome = outcomes[row["sheet"]]
        counts.setdefault(row["painting"], Counter())[outcome] += 1
        counts["all"][outcome] += 1
    return counts


def tally(key: Path, verdict_files: list[Path], sheets: Path | None = None) -> dict:
    """Every judge's counts, the majority's counts and the judges' agreement."""
    try:
        rows = json.loads(key.read_text())
        names = {row["sheet"] for row in rows}
    except (ValueError, TypeError, KeyError) as e:  # UnicodeDecodeError is a ValueError
        raise JudgeError(f"{key}: not a key that `judge make` wrote ({type(e).__name__})") from None
    if sheets is not None and (missing := sorted(n for n in names if not (sheets / f"{n}.png").exists())):
        raise JudgeError(f"{sheets}: these sheets of the key are missing: {', '.join(missing[:5])}")
    judged = [{row["sheet"]: winner(row, v[row["sheet"]]) for row in rows}
              for v in (read_verdicts(path, names) for path in verdict_files)]
    result = {"sheets": len(rows), "first": rows[0]["first"], "second": rows[0]["second"],
              "judges": [count(rows, j) for j in judged],
              "majority": count(rows, {n: majority([j[n] for j in judged]) for n in names})}
    if len(judged) > 1:
        result["all_agree"] = sum(len({j[n] for j in judged}) == 1 for n in names)
    return result


def format_tally(result: dict, verdict_files: list[Path]) -> str:
    """The tally as a table: per painting, each judge's and the majority's first-second-tie counts."""
    paintings = [p for p in result["majority"] if p != "all"] + ["all"]
    columns = [f.stem for f in verdict_files] + (["majority"] if len(verdict_files) > 1 else [])
    tables = result["judges"] + ([result["majority"]] if len(verdict_files) > 1 else [])
    lines = [f"first: {result['first']}   second: {result['second']}   sheets: {result['sheets']}",
             "wins as first-second-tie", "painting".ljust(20) + "".join(c[:16].ljust(18) for c in columns)]
    for painting in paintings:
        cells = [f"{t[painting]['first']}-{t[painting]['second']}-{t[painting]['tie']}" for t in tables]
        lines.append(painting[:19].ljust(20) + "".join(c.ljust(18) for c in cells))
    if "all_agree" in result:
        lines.append(f"all judges agree on {result['all_agree']} of {result['sheets']} sheets")
    return "\n".join(lines)
