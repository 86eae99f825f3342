#!/usr/bin/env bash
# The test command (README "Run the tests"; CI calls exactly this via .ci/run).
# Installs what the tests need, builds dist/, then runs lint, unit and browser tests.
#   bash tests/run.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

# Headless browser for the Selenium suite: Debian's chromium + chromium-driver
# (Selenium must never download a browser of its own).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# A virtual environment of the project's own (.venv-test): a distribution's python3 refuses
# system-wide pip installs (PEP 668), and the test dependencies stay out of the user's way.
VENV="${SKINLENS_TEST_VENV:-.venv-test}"
if [ ! -x "$VENV/bin/python" ]; then
  if ! "${PYTHON:-python3}" -m venv "$VENV" 2>/dev/null; then
    $SUDO apt-get install -y -qq python3-venv >/dev/null
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q --disable-pip-version-check -r tests/requirements.txt
# The TF.js converter without its heavy optional dependencies (see training/tfjs_convert.py).
"$PY" -m pip install -q --disable-pip-version-check --no-deps -r training/requirements-export.txt

"$PY" -m ruff check .
"$PY" -m ruff format --check .

# Pinned, hash-verified runtime assets into dist/ (cached in .cache/ between runs).
"$PY" build.py

"$PY" -m pytest -ra "$@"
