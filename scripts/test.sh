#!/usr/bin/env bash
# The whole test suite: sets up the test tools (Django, moto, the aws CLI in .venv),
# starts moto's server on 127.0.0.1, runs every test once, stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-env.sh
started_here=0
if [ -z "${ENVGATE_TEST_AWS_ENDPOINT:-}" ]; then
  eval "$(scripts/moto-server.sh start)"
  started_here=1
fi
trap '[ "$started_here" = 1 ] && scripts/moto-server.sh stop' EXIT
export ENVGATE_TEST_PYTHON="${ENVGATE_TEST_PYTHON:-$PWD/.venv/bin/python}"

# envgate into the test venv, as Python projects install it: pip builds the wheel
# from this clone (maturin's `bin` bindings; a debug build into target/, which the
# tests reuse). tests/cli/wheel.rs runs the venv's envgate.
CARGO_TARGET_DIR="$PWD/target" MATURIN_PEP517_ARGS="--profile dev --locked" \
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps .

cargo test --locked "$@"
