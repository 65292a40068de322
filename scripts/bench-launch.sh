#!/usr/bin/env bash
# Launch overhead, as whole processes (hyperfine): envgate with a 100-variable schema
# (25 of them with distinct patterns) in front of /bin/true, against exec'ing
# /bin/true directly; the binary the README installs (`cargo install --locked --path .
# --target x86_64-unknown-linux-musl`) and the glibc one plain `cargo install
# --locked --path .` builds, side by side;
# then `--check` of a 10,000-variable schema (the same hundred, a hundred times).
# Targets: at most +1.0 ms per launch; 10,000 variables in at most 20 ms (the
# whole process: perf stat's elapsed time; hyperfine's includes its own copying
# of the 10,000-variable environment, which the control row shows).
# Needs hyperfine (Debian: apt-get install hyperfine); perf and valgrind add
# the whole-process timing and the instruction count when installed.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { echo "bench-launch: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
. scripts/lib/musl-target.sh
target=$(musl_target)
cargo install --locked --quiet --path . --target "$target" --root target/installed
installed=$PWD/target/installed/bin/envgate
cargo install --locked --quiet --path . --root target/installed-glibc
glibc=$PWD/target/installed-glibc/bin/envgate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. scripts/lib/bench-schema.sh
write_bench_schema "$work/schema.toml"
program=/bin/true
for binary in "$installed" "$glibc"; do
  env -i PATH=/usr/bin:/bin "${envs[@]}" "$binary" --schema "$work/schema.toml" --audit-log off -- "$program"
done
env -i PATH=/usr/bin:/bin "${envs[@]}" hyperfine --warmup 50 --runs 1000 -N \
  --export-markdown "$work/launch.md" --export-csv "$work/launch.csv" \
  --command-name "direct: $program" "$program" \
  --command-name "floor: env $program (a glibc program that only execs)" "/usr/bin/env $program" \
  --command-name "installed (cargo install --target $target) -- $program" "$installed --schema $work/schema.toml -- $program" \
  --command-name "glibc (cargo install) -- $program" "$glibc --schema $work/schema.toml -- $program"
cat "$work/launch.md"
# The markdown rounds to 0.1 ms; the target is a difference of 1.0 ms, so each
# launch's mean and median over the direct exec, in microseconds. The floor row
# is what any launcher linked to glibc pays on this machine before doing anything
# (glibc's start-up: on a virtual machine, its CPUID probing traps to the
# hypervisor; docs/DECISIONS.md, "The launch's floor on a virtual machine").
awk -F, 'NR == 2 { mean = $2; median = $4 }
  NR > 2 { printf "over the direct exec: %s: mean %+.0f µs, median %+.0f µs\n", $1, ($2 - mean) * 1e6, ($4 - median) * 1e6 }' \
  "$work/launch.csv"

for binary in "$installed" "$glibc"; do
  faults=""
  if command -v perf >/dev/null; then
    # Page faults of a 100-variable check: the code laid out in launch order
    # (link/launch-order.txt) shows here.
    env -i PATH=/usr/bin:/bin "${envs[@]}" perf stat -r 20 -e page-faults -o "$work/faults.txt" \
      "$binary" --schema "$work/schema.toml" --check --audit-log off >/dev/null 2>&1
    faults=", $(awk '/page-faults/ { print $1 }' "$work/faults.txt") page faults (100-variable --check)"
  fi
  echo "$(basename "$(dirname "$(dirname "$binary")")")/bin/envgate: $(stat -c %s "$binary") bytes, $(readelf -r "$binary" | grep -c R_X86_64 || true) relocations$faults"
done

write_bench_schema "$work/large.toml" 10000
env -i PATH=/usr/bin:/bin "${envs[@]}" "$installed" --schema "$work/large.toml" --check >/dev/null
# The control row: hyperfine adds a variable to each command's environment, so it
# copies all 10,000 for every run, before the exec it times; /bin/true with the
# same environment shows that part.
env -i PATH=/usr/bin:/bin "${envs[@]}" hyperfine --warmup 5 --runs 100 -N \
  --export-markdown "$work/large.md" \
  --command-name "direct: $program, same environment" "$program" \
  --command-name "installed --check, 10,000 variables" "$installed --schema $work/large.toml --check" \
  --command-name "glibc --check, 10,000 variables" "$glibc --schema $work/large.toml --check"
cat "$work/large.md"
# The whole process as the kernel runs it, without a benchmark harness's own
# copying: perf stat (Debian: apt-get install linux-perf), when it is installed.
if command -v perf >/dev/null; then
  for command in "$program" "$installed --schema $work/large.toml --check" "$glibc --schema $work/large.toml --check"; do
    env -i PATH=/usr/bin:/bin "${envs[@]}" perf stat -r 100 -o "$work/perf.txt" $command >/dev/null 2>&1
    echo "perf stat, 100 runs: $command: $(grep 'time elapsed' "$work/perf.txt" | sed 's/^ *//')"
  done
else
  echo "perf is not installed: the whole-process timing without hyperfine's copying was not measured (apt-get install linux-perf)"
fi
# The same check in instructions (valgrind's callgrind, when installed): the
# figure that does not move with the machine's hour, where the timings above
# move by a third (docs/BENCHMARKS.md, "Eleventh pass").
if command -v valgrind >/dev/null; then
  for binary in "$installed" "$glibc"; do
    env -i PATH=/usr/bin:/bin "${envs[@]}" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
      "$binary" --schema "$work/large.toml" --check >/dev/null 2>"$work/callgrind.txt" || true
    echo "instructions, --check of 10,000 variables: $(basename "$(dirname "$(dirname "$binary")")"): $(awk '/Collected/ { print $4 }' "$work/callgrind.txt")"
  done
else
  echo "valgrind is not installed: the instruction count was not measured (apt-get install valgrind)"
fi
