"""Set-up tooling: the torchaudio fix, the quiet second run, and where torch comes from."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


# ------------------------------------------------------------ where torch comes from
SETUP = ROOT / "scripts" / "setup.sh"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _pin() -> str:
    lines = (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
    return next(line.removeprefix("torch==") for line in lines if line.startswith("torch=="))


def _dry_run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``setup.sh --dry-run`` with a venv folder that does not exist unless ``env`` says."""
    full = {**os.environ, "S2F_VENV": str(tmp_path / "venv"), "S2F_KEEP_TORCH": "0", **env}
    return subprocess.run(
        ["bash", str(SETUP), "--dry-run"], capture_output=True, text=True, env=full, timeout=120
    )


def _python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def test_setup_uses_the_local_torch_wheel_when_the_folder_has_it(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / f"torch-{_pin()}-{_python_tag()}-{_python_tag()}-manylinux_2_28_x86_64.whl").touch()
    done = _dry_run(tmp_path, S2F_WHEELS=str(wheels))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[setup] torch {_pin()}: from the local wheel folder {wheels}\n" in done.stdout
    assert f"--find-links {wheels} -e" in done.stdout
    assert "--extra-index-url" not in done.stdout
    assert not (tmp_path / "venv").exists()  # a dry run changes nothing


@pytest.mark.parametrize(
    "wheel",
    [
        None,
        "torch-2.0.0+cpu-{tag}-{tag}-linux_x86_64.whl",
        "torch-{pin}-cp30-cp30-linux_x86_64.whl",
    ],
)
def test_setup_uses_pytorch_cpu_index_without_a_matching_wheel(tmp_path: Path, wheel) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    if wheel is not None:  # another version, or the pinned one for another Python
        (wheels / wheel.format(pin=_pin(), tag=_python_tag())).touch()
    done = _dry_run(tmp_path, S2F_WHEELS=str(wheels))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"[setup] torch {_pin()}: from PyTorch's CPU wheel index {CPU_INDEX}" in done.stdout
    assert f"--extra-index-url {CPU_INDEX} -e" in done.stdout
    assert "--find-links" not in done.stdout


def test_setup_keeps_an_installed_torch_build_when_asked(tmp_path: Path) -> None:
    # A venv whose torch is a CUDA build: its interpreter is a stand-in that reports one
    # (a real CUDA wheel is several GB and this machine has no GPU).
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text("#!/bin/sh\necho 2.13.0+cu128\n")
    python.chmod(0o755)
    done = _dry_run(tmp_path, S2F_KEEP_TORCH="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"torch 2.13.0+cu128: keeping the build installed in {venv} (S2F_KEEP_TORCH=1)" in (
        done.stdout
    )
    keep = venv / ".s2f-constraints-keep-torch.txt"
    assert f"would write {keep}: requirements/constraints.txt with torch==2.13.0+cu128" in (
        done.stdout
    )
    assert f"-c {keep} -e" in done.stdout and "--extra-index-url" not in done.stdout
    assert not keep.exists()
    # without a torch to keep, the set-up stops and says what to do
    python.write_text("#!/bin/sh\nexit 1\n")
    refused = _dry_run(tmp_path, S2F_KEEP_TORCH="1")
    assert refused.returncode == 2
    assert f"S2F_KEEP_TORCH=1 but {venv} has no importable torch" in refused.stdout
    bad = _dry_run(tmp_path, S2F_KEEP_TORCH="yes")
    assert bad.returncode == 2 and "S2F_KEEP_TORCH must be 0 or 1, got 'yes'" in bad.stdout


def test_setup_reads_the_torch_of_a_real_venv(tmp_path: Path) -> None:
    # this project's own environment (read only: a dry run installs nothing); one run, as
    # each imports torch (about 2 s of CPU)
    venv = Path(sys.prefix)
    import torch

    kept = _dry_run(tmp_path, S2F_VENV=str(venv), S2F_KEEP_TORCH="1")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert f"torch {torch.__version__}: keeping the build installed in {venv}" in kept.stdout


def test_local_wheel_folder_alone_resolves_the_pinned_torch() -> None:
    """pip, with no configuration of this machine (--isolated), finds torch with the flag."""
    wheels = Path(os.environ.get("S2F_WHEELS", "/opt/wheels"))
    if not list(wheels.glob(f"torch-{_pin()}-{_python_tag()}-*.whl")):
        pytest.skip(f"no torch-{_pin()} wheel in {wheels}: the set-up uses PyTorch's index")
    args = ["install", "--isolated", "--dry-run", "--ignore-installed", "--no-deps"]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        *args,
        "--no-index",
        "--find-links",
        str(wheels),
        f"torch=={_pin()}",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Would install torch-{_pin()}" in done.stdout
