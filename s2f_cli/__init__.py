"""The ``s2f-audit`` command line: a thin layer over the public API of the packages."""

from s2f_cli._main import build_parser, main

__all__ = ["build_parser", "main"]
