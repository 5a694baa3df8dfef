"""Set-up tooling: the torchaudio fix is idempotent and leaves torchaudio importable."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "scripts" / "fix_torchaudio.py"


def _load_fix():
    spec = importlib.util.spec_from_file_location("fix_torchaudio", FIX)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fix_moves_compiled_ops_aside_and_is_idempotent(tmp_path: Path) -> None:
    fix = _load_fix()
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("libtorchaudio.so", "_torchaudio.abi3.so"):
        (lib / name).write_bytes(b"\x7fELF")
    (lib / "keep.txt").write_text("x")
    moved = fix.fix(lib)
    assert sorted(p.name for p in moved) == ["_torchaudio.abi3.so", "libtorchaudio.so"]
    assert fix.compiled_ops(lib) == []
    assert (lib / "disabled-cuda-ops" / "libtorchaudio.so").exists()
    assert (lib / "keep.txt").exists()
    assert fix.fix(lib) == []  # second run changes nothing


def test_installed_torchaudio_is_fixed_and_imports() -> None:
    check = subprocess.run([sys.executable, str(FIX), "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    code = (
        "import torch, torchaudio.functional as F; "
        "x = torch.sin(torch.arange(800) * 0.1); "
        "print(F.resample(x, 8000, 16000).shape[0])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1600"


def test_setup_script_second_run_is_quiet() -> None:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup.sh")], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
