#!/usr/bin/env bash
# Supervisor mode, measured on the release binary as ratios in one run:
#  1. what --init adds to a launch (100 variables, hyperfine, exec and --init side by side);
#  2. what --mask costs on 1 GiB of program output with 100 sensitive values,
#     against the same stream under --init without masking (both piped into cat,
#     as a container runtime reads a program's output);
#  3. envgate's peak memory under --mask for 16 MiB and for 1 GiB of output.
# Targets: --init at most +1 ms; --mask at most 1.6x; memory flat. `--mask-only` skips part 1.
# ENVGATE_BINARY runs another build (the mimalloc one, say) instead of the release one.
# Needs hyperfine and GNU time (Debian: apt-get install hyperfine time).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v hyperfine >/dev/null || { echo "bench-supervise: install hyperfine (apt-get install hyperfine)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-supervise: install GNU time (apt-get install time)" >&2; exit 1; }
envgate=${ENVGATE_BINARY:-$(scripts/build-release.sh)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${1:-}" != --mask-only ]; then
echo "## 1. --init against exec (100 variables)"
. scripts/lib/bench-schema.sh
write_bench_schema "$work/schema.toml"
env -i PATH=/usr/bin:/bin "${envs[@]}" hyperfine --warmup 50 --runs 1000 -N \
  --export-markdown "$work/init.md" \
  --command-name "direct: /bin/true" "/bin/true" \
  --command-name "envgate -- /bin/true" "$envgate --schema $work/schema.toml -- /bin/true" \
  --command-name "envgate --init -- /bin/true" "$envgate --schema $work/schema.toml --init -- /bin/true"
cat "$work/init.md"
fi

echo "## 2. --mask on 1 GiB of output (100 sensitive values)"
masked=()
{
  echo "version = 1"
  for i in $(seq 0 99); do
    echo "[vars.TOKEN_$i]"
    echo 'sensitive = true'
    masked+=("TOKEN_$i=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9' | head -c 32)")
  done
} > "$work/mask.toml"
# The program: an access log, SIZE bytes of it (none of the values in it).
cat > "$work/produce.sh" <<'SH'
yes '10.0.3.7 - - [30/Nov/2026:09:12:44 +0000] "GET /api/v1/books?page=2&sort=title HTTP/1.1" 200 5123 "-" "Mozilla/5.0 (X11; Linux x86_64)"' | head -c "$1"
SH
run() { echo "$envgate --schema $work/mask.toml $1 -- sh $work/produce.sh 1073741824 | cat > /dev/null"; }
env -i PATH=/usr/bin:/bin "${masked[@]}" hyperfine --warmup 1 --runs 10 \
  --export-markdown "$work/mask.md" \
  --command-name "envgate --init (no masking), 1 GiB" "$(run --init)" \
  --command-name "envgate --mask, 1 GiB" "$(run --mask)"
cat "$work/mask.md"

echo "## 3. envgate's peak RSS under --mask"
for size in 16777216 1073741824; do
  rss=$(env -i PATH=/usr/bin:/bin "${masked[@]}" /usr/bin/time -f %M \
    "$envgate" --schema "$work/mask.toml" --mask -- sh "$work/produce.sh" "$size" 2>&1 >/dev/null | tail -1)
  echo "output $((size / 1048576)) MiB: peak RSS ${rss} KiB"
done
