#!/usr/bin/env bash
# The whole test suite: sets up the test tools, then runs every test once.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-env.sh
export ENVGATE_TEST_PYTHON="$PWD/.venv/bin/python"

cargo test --locked "$@"
