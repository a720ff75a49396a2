"""`style-app judge make|tally`: the blind side-by-side judge's commands (style_app.tools.judge)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from style_app.arguments import Parser, number_in


def add_judge(p: argparse.ArgumentParser) -> None:
    """`style-app judge make|tally`: blind A/B sheets of two programs' pictures, and their tally."""
    steps = p.add_subparsers(dest="step", required=True, parser_class=Parser)
    make = steps.add_parser("make", help="one sheet per (painting, photo): painting, photo, A and B in a "
                            "balanced random order; which is which goes to --key")
    make.add_argument("first", metavar="A_DIR", help="the first program's pictures: DIR/<painting>/<photo>.*")
    make.add_argument("second", metavar="B_DIR", help="the second program's, laid out the same way")
    make.add_argument("--photos", nargs="+", required=True, help="the photos (files named as in the folders)")
    make.add_argument("--paintings", nargs="+", required=True, help="the paintings (files)")
    make.add_argument("--out", required=True, help="folder for the sheets: give the judges this folder only")
    make.add_argument("--key", help="where the key goes, outside --out (default: <out>.key.json)")
    make.add_argument("--seed", type=number_in(int, 0, 2**63 - 1), default=0, help="shuffle seed")
    make.set_defaults(run=run_judge_make)
    tally = steps.add_parser("tally", help="count verdict files (one 'sheet A|B|tie' line each) against the key")
    tally.add_argument("sheets", metavar="SHEETS", help="the sheet folder")
    tally.add_argument("key", metavar="KEY", help="the key `judge make` wrote")
    tally.add_argument("verdicts", metavar="VERDICTS", nargs="+", help="one file per judge")
    tally.add_argument("--json", metavar="OUT", help="also write the tally as JSON")
    tally.set_defaults(run=run_judge_tally)


def run_judge_make(args: argparse.Namespace) -> None:
    from style_app.files import check_file_output, check_folder_output, check_outputs_apart
    from style_app.tools import judge
    out = check_folder_output("--out", args.out)
    key = check_file_output("--key", args.key or f"{out}.key.json")
    for path in [*args.photos, *args.paintings]:
        if not Path(path).is_file():
            raise judge.JudgeError(f"{path}: no such file")
    for folder in (args.first, args.second):
        if not Path(folder).is_dir():
            raise judge.JudgeError(f"{folder}: no such folder")
    check_outputs_apart({"--out": out, "--key": key}, {"A_DIR": args.first, "B_DIR": args.second,
                                                       "--photos": args.photos, "--paintings": args.paintings})
    rows = judge.make_sheets(Path(args.first), Path(args.second), [Path(p) for p in args.photos],
                             [Path(p) for p in args.paintings], out, key, args.seed)
    print(f"wrote {len(rows)} sheets to {out} (first program on side A of {sum(r['A'] == 'first' for r in rows)}); "
          f"key: {key}")


def run_judge_tally(args: argparse.Namespace) -> None:
    from style_app.files import check_file_output, check_outputs_apart, write_atomically
    from style_app.tools import judge
    for path in (args.key, *args.verdicts):
        if not Path(path).is_file():
            raise judge.JudgeError(f"{path}: no such file")
    if args.json:
        check_file_output("--json", args.json)
        check_outputs_apart({"--json": args.json}, {"SHEETS": args.sheets, "KEY": args.key, "VERDICTS": args.verdicts})
    files = [Path(v) for v in args.verdicts]
    result = judge.tally(Path(args.key), files, Path(args.sheets))
    print(judge.format_tally(result, files))
    if args.json:
        write_atomically(args.json, (json.dumps(result, indent=1) + "\n").encode())
