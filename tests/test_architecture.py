"""Import direction between the packages, read from the source with `ast` (issue 17).

Data flows one way: s2f_data <- s2f_model <- audit <- reports <- s2f_cli. A package imports
only packages below it (`ALLOWED`; reports renders audit.json, so it imports neither audit nor
s2f_model, only s2f_data's file helpers), never another package's private module or name
(``from audit._tables import ...``, ``from s2f_model import _x`` outside that package), and
never through a string (``importlib.import_module("audit")``). Every import statement counts:
top-level, function-local and ``TYPE_CHECKING`` ones.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The packages, lowest layer first.
PACKAGES: tuple[str, ...] = ("s2f_data", "s2f_model", "audit", "reports", "s2f_cli")
#: Which project packages each package may import.
ALLOWED: dict[str, frozenset[str]] = {
    "s2f_data": frozenset(),
    "s2f_model": frozenset({"s2f_data"}),
    "audit": frozenset({"s2f_data", "s2f_model"}),
    "reports": frozenset({"s2f_data"}),
    "s2f_cli": frozenset({"s2f_data", "s2f_model", "audit", "reports"}),
}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in ``tree``, string imports included.

    ``from X import a, _b`` gives ``X`` or, when a name is private, ``X._b`` (a private
    module or name of ``X``); ``importlib.import_module("X")`` / ``__import__("X")`` with a
    constant string gives ``X``.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            hidden = [alias.name for alias in node.names if _private(alias.name)]
            name = f"{node.module}.{hidden[0]}" if hidden else node.module
            found.append((node.lineno, name))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append((node.lineno, arg.value))
    return found


def import_problems(package: str, source: str, where: str) -> list[str]:
    """Every import in ``source`` (a module of ``package``) that breaks the rules.

    Examples
    --------
    >>> import_problems("s2f_model", "from audit import run_audit_tables", "m.py")
    ["m.py:1: s2f_model imports audit (allowed: ['s2f_data'])"]
    >>> import_problems("s2f_cli", "from audit._run import audit_model", "c.py")
    ['c.py:1: private module audit._run of another package']
    """
    problems = []
    for line, module in _imported_modules(ast.parse(source)):
        parts = module.split(".")
        top = parts[0]
        if top not in PACKAGES or top == package:
            continue
        if top not in ALLOWED[package]:
            allowed = sorted(ALLOWED[package])
            problems.append(f"{where}:{line}: {package} imports {top} (allowed: {allowed})")
        elif any(_private(p) for p in parts[1:]):
            problems.append(f"{where}:{line}: private module {module} of another package")
    return problems


def _package_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_lower_layers_and_public_names(package: str) -> None:
    files = _package_files(package)
    assert len(files) >= 3, f"no sources found for {package} under {ROOT}"
    problems = []
    for file in files:
        where = str(file.relative_to(ROOT))
        problems += import_problems(package, file.read_text(encoding="utf-8"), where)
    assert not problems, "\n".join(problems)


def test_rules_cover_every_pair_of_packages() -> None:
    """Each ordered pair is decided: never upwards; downwards except reports -> audit/s2f_model."""
    not_for_reports = {"audit", "s2f_model"}
    assert set(ALLOWED) == set(PACKAGES)
    for i, package in enumerate(PACKAGES):
        for j, other in enumerate(PACKAGES):
            if other == package:
                continue
            allowed = other in ALLOWED[package]
            downward = j < i and not (package == "reports" and other in not_for_reports)
            assert allowed == downward, (package, other)


@pytest.mark.parametrize(
    ("package", "source", "expected"),
    [
        ("s2f_data", "import s2f_model", "s2f_data imports s2f_model"),
        ("s2f_model", "def f():\n    from audit import stats\n", "s2f_model imports audit"),
        ("audit", "import reports.html", "audit imports reports"),
        ("audit", "from s2f_cli import main", "audit imports s2f_cli"),
        ("reports", "import importlib\nimportlib.import_module('audit')", "reports imports audit"),
        ("reports", "from s2f_model import load_model", "reports imports s2f_model"),
        ("reports", "from s2f_data._io import atomic_write_text", "private module s2f_data._io"),
        ("s2f_cli", "from audit._run import audit_model", "private module audit._run"),
        ("s2f_cli", "from s2f_model import _train", "private module s2f_model._train"),
        (
            "s2f_model",
            "from s2f_data.biaslab.faces import _CLOTHING",
            "s2f_data.biaslab.faces._CLO",
        ),
        ("audit", "import s2f_data._manifest as m", "private module s2f_data._manifest"),
    ],
)
def test_checker_finds_each_kind_of_bad_import(package: str, source: str, expected: str) -> None:
    problems = import_problems(package, source, "x.py")
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    ("package", "source"),
    [
        ("audit", "from audit._tables import metric_tables"),  # own private module
        ("audit", "from s2f_model import load_model"),  # public name of a lower layer
        ("s2f_cli", "import audit.stats"),  # public subpackage
        ("s2f_cli", "from s2f_data.biaslab import generate_population"),
        ("reports", "import jinja2"),  # not a project package
        ("reports", "from s2f_data import atomic_write_text"),  # file helpers of the lowest layer
    ],
)
def test_checker_accepts_allowed_imports(package: str, source: str) -> None:
    assert import_problems(package, source, "x.py") == []


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_package_loads_no_higher_layer(package: str) -> None:
    """At run time too: importing a package leaves the packages it may not use unloaded."""
    forbidden = [p for p in PACKAGES if p != package and p not in ALLOWED[package]]
    code = f"import sys, {package}; print(sorted(p for p in {forbidden!r} if p in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"import {package} loaded {done.stdout.strip()}"
