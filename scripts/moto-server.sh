#!/usr/bin/env bash
# moto's standalone server on 127.0.0.1, on a free port, for the Secrets Manager tests.
#
#   eval "$(scripts/moto-server.sh start)"   # starts it (or reuses a running one) and
#                                            # exports ENVGATE_TEST_AWS_ENDPOINT
#   scripts/moto-server.sh stop
#
# scripts/test.sh does both around the test run.
set -euo pipefail
cd "$(dirname "$0")/.."
state=target/moto

running() { [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; }

case "${1:-}" in
start)
  scripts/setup-test-env.sh >&2
  mkdir -p "$state"
  if ! running; then
    port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    nohup .venv/bin/python tests/moto_server.py --port "$port" >"$state/server.log" 2>&1 &
    echo $! >"$state/pid"
    echo "http://127.0.0.1:$port" >"$state/endpoint"
    for _ in $(seq 1 150); do
      if .venv/bin/python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + '/moto-api/data.json', timeout=1)" "$(cat "$state/endpoint")" 2>/dev/null; then
        break
      fi
      sleep 0.1
    done
  fi
  running || { echo "moto-server: the server did not start; see $state/server.log" >&2; exit 1; }
  echo "export ENVGATE_TEST_AWS_ENDPOINT=$(cat "$state/endpoint")"
  echo "export ENVGATE_TEST_PYTHON=$PWD/.venv/bin/python"
  ;;
stop)
  if running; then kill "$(cat "$state/pid")"; fi
  rm -f "$state/pid" "$state/endpoint"
  ;;
*)
  echo "usage: scripts/moto-server.sh start|stop" >&2
  exit 2
  ;;
esac
