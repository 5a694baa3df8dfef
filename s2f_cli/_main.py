"""Entry point: build the parser from the subcommand modules and dispatch."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from s2f_cli import _version
from s2f_cli._common import common_parent, configure_logging, seed_everything
from s2f_cli.commands import COMMANDS
from s2f_cli.exceptions import CLIError

__all__ = ["build_parser", "main"]

log = logging.getLogger("s2f_cli")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``s2f-audit`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="s2f-audit",
        description=(
            "Speech2Face model and fairness audit. Typical flow: population -> train -> "
            "audit -> report; `s2f-audit demo` runs all of it on the built-in population."
        ),
    )
    parser.add_argument("--version", action="version", version=_version.version_string())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parent = common_parent()
    for module in COMMANDS:
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            parents=[parent],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status.

    Bad input (``CLIError``, ``ValueError``, ``OSError``) prints ``s2f-audit: error: ...`` and
    returns 2; anything else is a bug and propagates with its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        seed_everything(args.seed)
        return int(args._run(args) or 0)
    except (CLIError, ValueError, OSError) as err:
        print(f"s2f-audit {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("s2f-audit: interrupted", file=sys.stderr)
        return 130
