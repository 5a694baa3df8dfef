"""Make the PyPI torchaudio wheel importable beside the CPU build of torch.

Every torchaudio wheel on PyPI is a CUDA build whose compiled extensions
(``torchaudio/lib/*.so``) fail to load against CPU torch, which makes ``import torchaudio``
fail. Without them the pure-PyTorch parts we use still work: ``transforms``,
``functional.resample`` and ``compliance.kaldi``. This script moves the ``.so`` files aside
(into ``lib/disabled-cuda-ops/``), so it is idempotent and reversible. Run by
``scripts/setup.sh``; s2f-audit itself never needs torchaudio's compiled ops.

Usage: ``python scripts/fix_torchaudio.py [--check]``
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


def torchaudio_lib() -> Path | None:
    """Return the ``torchaudio/lib`` folder of the installed package, or ``None``."""
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def compiled_ops(lib: Path) -> list[Path]:
    """Return the compiled extension files still active in ``lib``."""
    return sorted(lib.glob("*.so")) if lib.is_dir() else []


def fix(lib: Path) -> list[Path]:
    """Move the compiled extensions of ``lib`` aside; return what was moved."""
    moved = []
    aside = lib / "disabled-cuda-ops"
    for so in compiled_ops(lib):
        aside.mkdir(exist_ok=True)
        so.rename(aside / so.name)
        moved.append(so)
    return moved


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if needed")
    args = parser.parse_args()
    lib = torchaudio_lib()
    if lib is None:
        print("torchaudio is not installed", file=sys.stderr)
        return 1
    if args.check:
        left = compiled_ops(lib)
        for so in left:
            print(f"still present: {so}")
        return 1 if left else 0
    for so in fix(lib):
        print(f"moved aside: {so.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
