"""Size limits of the library code (issue 17): modules <= 500 lines, functions <= 80 lines.

Ruff checks complexity (C901) and argument counts (PLR0913) from pyproject.toml; it has no rule
for lengths, so this test measures them from the source with ``ast``. Tests and benchmarks are
not library code and are not measured; s2f_data and s2f_cli are outside the limit (issue 17).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("audit", "reports", "s2f_model")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """Functions (methods and nested functions included) longer than ``limit`` lines.

    The length runs from the ``def`` line (decorators excluded) to the last line of the body,
    docstring included, as an editor shows the function.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = node.end_lineno - node.lineno + 1
            if length > limit:
                found.append((node.name, length))
    return found


def test_the_limits_cover_the_library() -> None:
    modules = _modules()
    assert len(modules) > 60  # the three packages, not an empty glob
    assert all(p.suffix == ".py" for p in modules)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_function_lengths(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    n_lines = len(source.splitlines())
    assert n_lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)}: {n_lines} lines"
    assert long_functions(source) == [], f"{path.relative_to(ROOT)}: functions over the limit"


def test_the_function_measure_counts_docstrings_and_nested_functions() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(77))
    ok = f'def f():\n    """Doc."""\n{body}\n'  # 1 + 1 + 77 = 79 lines
    assert long_functions(ok) == []
    too_long = f'def f():\n    """Doc.\n\n    More.\n    """\n{body}\n'  # 82 lines
    assert long_functions(too_long) == [("f", 82)]
    nested = "class C:\n    def m(self):\n        def g():\n" + "\n".join(
        f"            y{i} = {i}" for i in range(81)
    )
    assert [name for name, _ in long_functions(nested)] == ["m", "g"]
