#!/usr/bin/env bash
# Creates .venv with the Python tools the tests drive (see requirements-test.txt).
# Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
  echo "setup-test-env: $python not found; install Python 3.10+ (Debian: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || ! cmp -s scripts/requirements-test.txt "$stamp"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
  cp scripts/requirements-test.txt "$stamp"
fi
