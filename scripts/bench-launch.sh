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
envs=()
{
  echo "version = 1"
  for i in $(seq 0 99); do
    echo "[vars.VAR_$i]"
    case $((i % 5)) in
      0) echo 'min_length = 8'; echo 'forbid = ["example"]'; echo 'sensitive = true'; envs+=("VAR_$i=s3cr3t-value-$i") ;;
      1) echo 'type = "port"'; envs+=("VAR_$i=5432") ;;
      2) echo 'type = "int"'; echo 'min = 0'; envs+=("VAR_$i=$i") ;;
      3) echo 'type = "url"'; echo 'schemes = ["https"]'; envs+=("VAR_$i=https://svc$i.example.com/x") ;;
      4) echo 'type = "bool"'; envs+=("VAR_$i=false") ;;
    esac
  done
} > "$schema"

program=/bin/true
env -i PATH=/usr/bin:/bin "${envs[@]}" "$envgate" --schema "$schema" -- "$program"

env -i PATH=/usr/bin:/bin "${envs[@]}" hyperfine --warmup 50 --runs 1000 -N \
  --export-markdown "$work/launch.md" \
  --command-name "direct: $program" "$program" \
  --command-name "envgate (100 vars) -- $program" "$envgate --schema $schema -- $program"
cat "$work/launch.md"
ls -l "$envgate" | awk '{print "release binary: " $5 " bytes"}'
