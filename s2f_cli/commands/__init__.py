"""Subcommands: each module has NAME, HELP, add_arguments(parser) and run(args) -> int."""

from s2f_cli.commands import (
    audit,
    compare,
    data,
    demo,
    face_side,
    population,
    predict,
    report,
    train,
    verify,
)

COMMANDS = (
    demo,
    population,
    train,
    predict,
    audit,
    verify,
    report,
    compare,
    data,
    face_side,
)

__all__ = ["COMMANDS"]
