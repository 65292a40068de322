#!/usr/bin/env bash
# Launch overhead: envgate with a 100-variable schema in front of a program,
# against exec'ing the same program directly, as whole processes (hyperfine).
# Target: at most 1.5 ms added per launch. Needs hyperfine (Debian: apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { echo "bench-launch: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
envgate=$(scripts/build-release.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

schema="$work/schema.toml"
. scripts/lib/bench-schema.sh
write_bench_schema "$schema"

program=/bin/true
env -i PATH=/usr/bin:/bin "${envs[@]}" "$envgate" --schema "$schema" -- "$program"

env -i PATH=/usr/bin:/bin "${envs[@]}" hyperfine --warmup 50 --runs 1000 -N \
  --export-markdown "$work/launch.md" \
  --command-name "direct: $program" "$program" \
  --command-name "envgate (100 vars) -- $program" "$envgate --schema $schema -- $program"
cat "$work/launch.md"
ls -l "$envgate" | awk '{print "release binary: " $5 " bytes"}'
