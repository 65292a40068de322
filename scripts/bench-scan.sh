#!/usr/bin/env bash
# `envgate scan` on Django's own source tree (the `django` package the test venv
# installs, about 900 Python files), side by side with a `python -m ast` script doing
# the same walk (scripts/lib/scan_ast.py), in one hyperfine run; then peak memory.
# Uses the release build, or the binary ENVGATE_BINARY names (an installed one).
# Needs hyperfine.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench-scan: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
scripts/setup-test-env.sh >&2
python=$PWD/.venv/bin/python
if [ -n "${ENVGATE_BINARY:-}" ]; then
  envgate=$ENVGATE_BINARY
else
  cargo build --release --quiet
  envgate=$PWD/target/release/envgate
fi
tree=$("$python" -c 'import django, os; print(os.path.dirname(django.__file__))')
files=$(find "$tree" -name '*.py' | wc -l)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[vars.DJANGO_SETTINGS_MODULE]\nrequired = false\n' >"$work/schema.toml"
echo "Django's source: $files Python files" >&2
gate="$envgate --schema $work/schema.toml scan --format json $tree"
ast_scan="$python scripts/lib/scan_ast.py $tree"
hyperfine -N -i --warmup 2 --runs "${RUNS:-10}" --export-json "$work/scan.json" \
  --command-name "envgate scan" "$gate" \
  --command-name "python ast" "$ast_scan" >&2
"$python" - "$work/scan.json" "$files" <<'PY'
import json, statistics, sys
results = {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(sys.argv[1]))["results"]}
e, p = results["envgate scan"], results["python ast"]
print(f"| Django's source ({sys.argv[2]} files) | envgate scan | python ast script | speed-up |")
print("|:---|---:|---:|---:|")
print(f"| median of the runs | {e:.0f} ms | {p:.0f} ms | {p / e:.1f}x |")
PY
for tool in envgate python; do
  case $tool in envgate) command=$gate ;; *) command=$ast_scan ;; esac
  # envgate exits 1 on Django's tree (it reads variables no schema declares).
  rss=$( (/usr/bin/time -f %M $command 2>&1 >/dev/null || true) | tail -1)
  echo "peak RSS, $tool: $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MB"
done
