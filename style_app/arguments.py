"""The argparse pieces the `style-app` commands and app.py share: usage errors in one line, numbers
range-checked before anything runs, the user's weights folder."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

EXIT_USAGE = 2
#: Largest side `bench` measures or `--max-size` accepts (the 64 MP input limit is 8000 x 8000).
MAX_SIDE = 16384


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line on stderr (exit 2)."""

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def number_in(kind: type, low: float, high: float | None = None, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite `kind` (int or float) from `low` (excluded when `above`) to `high`,
    so a bad value is a one-line usage error (exit 2) before anything runs."""
    bound = f"above {low}" if above else f"at least {low}"
    wanted = f"{bound} and at most {high}" if high is not None else bound

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'} "
                                             f"{wanted}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def add_weights_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights-dir", help="your own models and added styles (default: env STYLE_APP_WEIGHTS)")
