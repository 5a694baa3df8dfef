#!/usr/bin/env bash
# One-time set-up of a fresh machine (Debian, Python 3.11): system packages, a virtual
# environment in .venv with the pinned versions, and the torchaudio fix. Idempotent: a second
# run checks a stamp and prints nothing.
#
# Usage: scripts/setup.sh [--dry-run]
#   --dry-run  say where torch would come from and which commands would run; change nothing.
# Environment:
#   S2F_KEEP_TORCH=1  keep the torch already installed in the venv (e.g. a CUDA build) instead
#                     of installing the pinned CPU build (default 0).
#   S2F_WHEELS=DIR    local wheel folder searched for the pinned torch (default /opt/wheels);
#                     without the wheel there, torch comes from PyTorch's CPU wheel index.
#   S2F_VENV, S2F_PYTHON, S2F_EXTRAS: venv folder, Python to create it, extras to install.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${S2F_VENV:-.venv}
PY=${S2F_PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.s2f-setup-stamp"
EXTRAS=${S2F_EXTRAS:-dev,parquet,judges}
WHEELS=${S2F_WHEELS:-/opt/wheels}
KEEP_TORCH=${S2F_KEEP_TORCH:-0}
CPU_INDEX=https://download.pytorch.org/whl/cpu  # PyTorch's CPU wheel index
CONSTRAINTS=requirements/constraints.txt

say() { printf '[setup] %s\n' "$*"; }

DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown argument '$arg' (expected --dry-run or --help)"; exit 2 ;;
  esac
done
case "$KEEP_TORCH" in
  0|1) ;;
  *) say "S2F_KEEP_TORCH must be 0 or 1, got '$KEEP_TORCH'"; exit 2 ;;
esac

# The torch build to install and where it comes from. Sets PIP_SOURCE (extra pip options),
# PIP_CONSTRAINTS (the constraints file to use) and TORCH_NOTE (what is said out loud).
choose_torch_source() {
  local pin installed tag
  pin=$(sed -n 's/^torch==//p' "$CONSTRAINTS")
  installed=""
  if [ -x "$VENV/bin/python" ]; then
    installed=$("$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null) \
      || installed=""
  fi
  PIP_SOURCE=()
  PIP_CONSTRAINTS=$CONSTRAINTS
  if [ "$KEEP_TORCH" = 1 ]; then
    if [ -z "$installed" ]; then
      say "S2F_KEEP_TORCH=1 but $VENV has no importable torch: install your build into $VENV" \
        "first (e.g. $VENV/bin/pip install torch), or unset S2F_KEEP_TORCH"
      exit 2
    fi
    # the same constraints with the installed build pinned instead, so pip leaves it alone
    PIP_CONSTRAINTS="$VENV/.s2f-constraints-keep-torch.txt"
    KEEP_LINE="torch==$installed"
    TORCH_NOTE="torch $installed: keeping the build installed in $VENV (S2F_KEEP_TORCH=1)"
    return
  fi
  tag=$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  if [ "$installed" = "$pin" ]; then
    TORCH_NOTE="torch $pin: already installed in $VENV"
  elif compgen -G "$WHEELS/torch-${pin}-${tag}-*.whl" >/dev/null; then
    PIP_SOURCE=(--find-links "$WHEELS")
    TORCH_NOTE="torch $pin: from the local wheel folder $WHEELS"
  else
    PIP_SOURCE=(--extra-index-url "$CPU_INDEX")
    TORCH_NOTE="torch $pin: from PyTorch's CPU wheel index $CPU_INDEX (no torch-${pin}-${tag}"
    TORCH_NOTE+=" wheel in $WHEELS)"
  fi
}

# 1. Debian packages: espeak-ng (bias-lab voices), chromium (report tests, --pdf).
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ] && [ "$DRY_RUN" = 1 ]; then
  say "would install Debian packages: ${missing[*]}"
elif [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
      say "need root to install ${missing[*]} (apt-get); install them and run again"; exit 1
    fi
  fi
  say "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# 1b. axe-core, the accessibility checker the report browser tests inject, into the cache
#     folder they read (tests/reports/axe_core.py; same pinned version). Skipped without npm.
AXE_VERSION=4.14.1
AXE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/s2f-audit/axe-core-$AXE_VERSION"
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] && command -v npm >/dev/null 2>&1; then
  if [ "$DRY_RUN" = 1 ]; then
    say "would install axe-core $AXE_VERSION into $AXE_DIR"
  else
    say "installing axe-core $AXE_VERSION into $AXE_DIR (report accessibility test)"
    npm install --no-audit --no-fund --prefix "$AXE_DIR" "axe-core@$AXE_VERSION" >/dev/null 2>&1 \
      || say "could not install axe-core; the accessibility test will be skipped"
  fi
fi

# 2. Virtual environment with pinned versions (constraints file) and the package itself.
want=$(cat pyproject.toml "$CONSTRAINTS" | sha256sum | cut -c1-16)-$EXTRAS
[ "$KEEP_TORCH" = 1 ] && want+="-keep-torch"
if [ "$DRY_RUN" = 0 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && [ -x "$VENV/bin/s2f-audit" ]; then
  exit 0
fi
choose_torch_source
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check --compile -c "$PIP_CONSTRAINTS")
PIP+=(${PIP_SOURCE[@]+"${PIP_SOURCE[@]}"})
if [ "$DRY_RUN" = 1 ]; then
  say "dry run: nothing is installed"
  say "$TORCH_NOTE"
  [ -x "$VENV/bin/python" ] || say "would create $VENV with $PY"
  [ "$PIP_CONSTRAINTS" = "$CONSTRAINTS" ] \
    || say "would write $PIP_CONSTRAINTS: $CONSTRAINTS with ${KEEP_LINE:-}"
  say "would run: ${PIP[*]} -e .[$EXTRAS]"
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
if [ "$PIP_CONSTRAINTS" != "$CONSTRAINTS" ]; then
  { grep -v '^torch==' "$CONSTRAINTS"; echo "$KEEP_LINE"; } > "$PIP_CONSTRAINTS"
fi
say "installing Python packages (first run: a few minutes)"
say "$TORCH_NOTE"
# --compile writes bytecode although this machine sets PYTHONDONTWRITEBYTECODE=1.
"${PIP[@]}" -e ".[$EXTRAS]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
case ",$EXTRAS," in
  *,judges,*)
    "${PIP[@]}" --no-deps mediapipe==0.10.21 2>&1 \
      | grep -v "is ignored: it is neither a file nor a directory" || true ;;
esac
"$VENV/bin/python" -c "import torch, soundfile, fairlearn" \
  || { say "Python packages did not install; see the messages above"; exit 1; }

# 3. torchaudio: move the CUDA-only compiled ops aside so it imports beside CPU torch.
"$VENV/bin/python" scripts/fix_torchaudio.py >/dev/null
"$VENV/bin/python" -c "import torchaudio.functional" \
  || { say "torchaudio still fails to import"; exit 1; }

echo "$want" > "$STAMP"
say "done: activate with 'source $VENV/bin/activate' or call $VENV/bin/s2f-audit"
