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

# The AWS Secrets Manager Agent, a real program the `--fetch agent` tests run in
# front of moto: built from its crate into .tools (a debug build: it is only
# driven by tests, and builds in half the time).
agent_version=2.1.0
if [ ! -x .tools/bin/aws_secretsmanager_agent ] || [ "$(cat .tools/.agent-version 2>/dev/null)" != "$agent_version" ]; then
  echo "setup-test-env: building aws_secretsmanager_agent $agent_version into .tools (once)" >&2
  cargo install --quiet --locked --debug --root .tools aws_secretsmanager_agent --version "$agent_version"
  echo "$agent_version" > .tools/.agent-version
fi
