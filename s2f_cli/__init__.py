"""The ``s2f-audit`` command line: a thin layer over the public API of the packages.

``run_demo`` is the main job as a function, for notebooks and scripts.
"""

from s2f_cli._main import build_parser, main
from s2f_cli._pipeline import DemoSettings, run_demo

__all__ = ["DemoSettings", "build_parser", "main", "run_demo"]
