"""Load the simulation study (a benchmark script, not a package) for the validation tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SIMULATE_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "validation" / "simulate.py"


def load_simulate() -> ModuleType:
    """Import ``benchmarks/validation/simulate.py`` once, as ``s2f_validation_simulate``."""
    name = "s2f_validation_simulate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SIMULATE_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def sim() -> ModuleType:
    """The simulation-study module."""
    return load_simulate()


def load_planted_bias() -> ModuleType:
    """Import ``benchmarks/validation/planted_bias.py`` once, as ``s2f_validation_planted``."""
    name = "s2f_validation_planted"
    if name not in sys.modules:
        path = SIMULATE_PATH.with_name("planted_bias.py")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def planted() -> ModuleType:
    """The planted-bias module."""
    return load_planted_bias()
