#!/usr/bin/env bash
# One-time set-up of a fresh machine (Debian, Python 3.11): system packages, a virtual
# environment in .venv with the pinned versions, and the torchaudio fix. Idempotent: a second
# run checks a stamp and prints nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${S2F_VENV:-.venv}
PY=${S2F_PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.s2f-setup-stamp"
EXTRAS=${S2F_EXTRAS:-dev,parquet,judges}

say() { printf '[setup] %s\n' "$*"; }

# 1. Debian packages: espeak-ng (bias-lab voices), chromium (report tests, --pdf).
APT_PACKAGES=(espeak-ng chromium)
missing=()
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
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
: "${APT_PACKAGES[@]}"

# 2. Virtual environment with pinned versions (constraints file) and the package itself.
want=$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)-$EXTRAS
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/s2f-audit" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  "$PY" -m venv "$VENV"
fi
say "installing Python packages (first run: a few minutes)"
# torch comes from the local CPU wheel (pinned in the constraints file); --compile writes
# bytecode although this machine sets PYTHONDONTWRITEBYTECODE=1.
"$VENV/bin/pip" install -q --disable-pip-version-check --compile \
  -c requirements/constraints.txt -e ".[$EXTRAS]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
case ",$EXTRAS," in
  *,judges,*)
    "$VENV/bin/pip" install -q --disable-pip-version-check --compile --no-deps \
      -c requirements/constraints.txt mediapipe==0.10.21 2>&1 \
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
