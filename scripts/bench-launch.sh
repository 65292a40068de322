#!/usr/bin/env bash
# The no-AWS launch, as whole processes (hyperfine): envgate with a 100-variable
# schema (25 of them with distinct patterns) in front of /bin/true, against
# exec'ing /bin/true directly, side by side with secretspec 0.21 given the same 100
# variables from its env provider, and with another envgate build when
# ENVGATE_BASELINE names one (an older commit's installed binary, say). Prints each
# launch's overhead over the direct exec and the ratio to secretspec's overhead.
# Then `--check` of 1,000 and 10,000 variables, to show the check stays linear.
# Targets (docs/BENCHMARKS.md): at most +3.0 ms, and at most 0.4x secretspec's
# overhead.
# Needs hyperfine (Debian: apt-get install hyperfine); builds secretspec into .tools.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/bench-tools.sh
needs_commands bench-launch hyperfine
installed=$(installed_envgate)
secretspec=$(secretspec_with awssm)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. scripts/lib/bench-schema.sh
write_bench_schema "$work/schema.toml"
{
  printf '[project]\nname = "bench"\nrevision = "1.0"\n[profiles.default]\n'
  for entry in "${envs[@]}"; do
    printf '%s = { description = "a variable", required = true }\n' "${entry%%=*}"
  done
} >"$work/secretspec.toml"
program=/bin/true
rows=(--command-name "direct: $program" "$program"
  --command-name "envgate (installed) -- $program" "$installed --schema $work/schema.toml --audit-log off -- $program"
  --command-name "secretspec run --provider env -- $program" "$secretspec run --file $work/secretspec.toml --provider env -- $program")
if [ -n "${ENVGATE_BASELINE:-}" ]; then
  rows+=(--command-name "baseline envgate -- $program" "$ENVGATE_BASELINE --schema $work/schema.toml --audit-log off -- $program")
fi
# Each must launch before anything is timed.
env -i PATH=/usr/bin:/bin HOME="$work" "${envs[@]}" "$installed" --schema "$work/schema.toml" --audit-log off -- "$program"
(cd "$work" && env -i PATH=/usr/bin:/bin HOME="$work" "${envs[@]}" "$secretspec" run --file "$work/secretspec.toml" --provider env -- "$program")
cd "$work"
env -i PATH=/usr/bin:/bin HOME="$work" "${envs[@]}" hyperfine --warmup 30 --runs "${RUNS:-500}" -N \
  --export-markdown "$work/launch.md" --export-csv "$work/launch.csv" "${rows[@]}"
cat "$work/launch.md"
awk -F, 'NR == 2 { median = $4 } NR > 2 { over[NR] = ($4 - median) * 1e3; name[NR] = $1 }
  END {
    for (row = 3; row in name; row++) printf "over the direct exec (median): %s: %+.2f ms\n", name[row], over[row]
    printf "envgate / secretspec overhead: %.2f\n", over[3] / over[4]
  }' "$work/launch.csv"
echo "static binary: $(stat -c %s "$installed") bytes"

# The check stays linear in the variables: 1,000 and 10,000, each with its own
# environment.
medians=()
for count in 1000 10000; do
  write_bench_schema "$work/large.toml" "$count"
  env -i PATH=/usr/bin:/bin "${envs[@]}" hyperfine --warmup 3 --runs 30 -N --export-csv "$work/large.csv" \
    "$installed --schema $work/large.toml --check --audit-log off" >/dev/null
  medians+=("$(awk -F, 'NR == 2 { printf "%.2f", $4 * 1e3 }' "$work/large.csv")")
done
echo "--check median: 1,000 variables ${medians[0]} ms, 10,000 variables ${medians[1]} ms" \
  "(x$(awk -v a="${medians[0]}" -v b="${medians[1]}" 'BEGIN { printf "%.1f", b / a }') for 10x the variables)"
