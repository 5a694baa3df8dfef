"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import sys
from collections.abc import Callable

# CLIError lives in s2f_cli.exceptions; re-exported for the subcommands that still import it
# from here
from s2f_cli.exceptions import CLIError

__all__ = [
    "CLIError",
    "common_parent",
    "configure_logging",
    "float_at_least",
    "int_at_least",
    "seed_everything",
]


def int_at_least(low: int) -> Callable[[str], int]:
    """Return an argparse ``type`` that accepts integers ``>= low`` at parse time.

    A bad value then stops the command before any work, with argparse's one-line error
    (exit status 2) naming the option.

    Examples
    --------
    >>> int_at_least(2)("5")
    5
    >>> int_at_least(2)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 2, got '0'
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def float_at_least(low: float) -> Callable[[str], float]:
    """Return an argparse ``type`` that accepts finite numbers ``>= low`` at parse time.

    ``nan`` and ``inf`` are refused: they parse as floats but are no amount of anything.

    Examples
    --------
    >>> float_at_least(0)("1.5")
    1.5
    >>> float_at_least(0)("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number >= 0, got 'nan'
    """

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= low):
            raise argparse.ArgumentTypeError(f"must be a finite number >= {low:g}, got {text!r}")
        return value

    parse.__name__ = f"number >= {low:g}"
    return parse


def common_parent(nested: bool = False) -> argparse.ArgumentParser:
    """Return a parent parser with the options every subcommand takes.

    Parameters
    ----------
    nested : bool
        For a second-level subcommand (``data check``): defaults are suppressed so that a
        value given before the nested name is not overwritten.
    """
    parent = argparse.ArgumentParser(add_help=False)

    def default(value: object) -> object:
        return argparse.SUPPRESS if nested else value

    group = parent.add_argument_group("common options")
    group.add_argument("--seed", type=int, default=default(0), help="random seed (default: 0)")
    group.add_argument(
        "--device",
        default=default("cpu"),
        help="torch device for model work, e.g. cpu or cuda:0 (default: cpu)",
    )
    group.add_argument(
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress bars, warnings and errors only",
    )
    group.add_argument(
        "--verbose", action="store_true", default=default(False), help="debug logging"
    )
    return parent


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Configure the root logger for the command line (the only place that does)."""
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and (if imported) torch global RNGs. Only the CLI calls this."""
    if not 0 <= seed < 2**63:
        raise CLIError(f"--seed must be an integer in [0, 2**63), got {seed}")
    random.seed(seed)
    import numpy as np

    np.random.seed(seed % 2**32)  # noqa: NPY002 - global seed for third-party code
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars on unless ``--quiet`` or stderr is not a terminal and CI is set."""
    if getattr(args, "quiet", False):
        return False
    return not (os.environ.get("CI") and not sys.stderr.isatty())
