#!/usr/bin/env bash
# Regenerates link/launch-order.txt: the functions envgate runs on a launch (and
# then those `--check` adds), hottest first, which build.rs hands to the linker
# (LLD's --symbol-ordering-file) so that they sit next to each other in the
# binary and a launch faults in fewer pages of code (docs/DECISIONS.md, "The
# launch's code is laid out together").
# Run it after updating dependencies or the toolchain: symbol names carry hashes
# that change then (and with the release profile's settings, stripping included).
# A stale list only makes the layout less compact; it never breaks a build.
# Needs valgrind (Debian: apt-get install valgrind) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "launch-order: install valgrind (apt-get install valgrind)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The release build as `cargo install` makes it (stripped), in the default layout,
# with the linker's map to name the addresses the profile sees.
target_dir=target/launch-order
ENVGATE_LINK_ORDER=off ENVGATE_LINK_MAP="$work/envgate.map" \
  cargo build --release --locked --quiet --target-dir "$target_dir"
binary=$PWD/$target_dir/release/envgate

. scripts/lib/bench-schema.sh
write_bench_schema "$work/schema.toml"
profile() {
  local name=$1
  shift
  env -i PATH=/usr/bin:/bin "${envs[@]}" valgrind --tool=callgrind \
    --dump-instr=yes --compress-pos=no --compress-strings=no \
    --callgrind-out-file="$work/$name.out" --dump-before='*execve*' \
    "$binary" --schema "$work/schema.toml" "$@" >/dev/null 2>&1
}
profile launch -- /bin/true
profile check --check
python3 - "$binary" "$work/envgate.map" "$work/launch.out.1" "$work/check.out" > link/launch-order.txt <<'PY'
"""Names the code callgrind saw run in a stripped binary, from the linker's map:
each instruction's cost goes to the function holding its address."""
import bisect, re, sys

# Each function is an input section of .text named after its symbol (a stripped
# build's map lists no local symbols, but it lists their sections).
binary = sys.argv[1]
symbols, section = [], None
for line in open(sys.argv[2]):
    fields = line.split()
    if len(fields) != 5 or not re.fullmatch(r"[0-9a-f]+", fields[0]):
        continue
    if fields[4].startswith("."):
        section = fields[4]
        continue
    function = re.search(r":\(\.text\.(?:unlikely\.|hot\.|startup\.)?(.+)\)$", fields[4])
    if section == ".text" and function:
        symbols.append((int(fields[0], 16), function.group(1)))
    elif section == ".text" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$]*", fields[4]):
        symbols.append((int(fields[0], 16), fields[4]))
symbols.sort()
starts = [start for start, _ in symbols]

print("# The functions a launch runs, then those --check adds, hottest first: the")
print("# order in which LLD lays them out (build.rs). Written by scripts/launch-order.sh;")
print("# regenerate after updating dependencies or the toolchain.")
seen = set()
for profile in sys.argv[3:]:
    cost, in_binary, call = {}, False, False
    for line in open(profile):
        if line.startswith("ob="):
            in_binary = line[3:].strip() == binary
        elif line.startswith("calls="):
            call = True  # the next line is the callee's inclusive cost
        elif call:
            call = False
        elif in_binary and line.startswith("0x"):
            fields = line.split()
            index = bisect.bisect_right(starts, int(fields[0], 16)) - 1
            if index >= 0 and len(fields) > 1:
                name = symbols[index][1]
                cost[name] = cost.get(name, 0) + int(fields[-1])
    for name in sorted(cost, key=lambda name: -cost[name]):
        if name not in seen:
            seen.add(name)
            print(name)
PY
echo "launch-order: $(grep -vc '^#' link/launch-order.txt) functions in link/launch-order.txt"
