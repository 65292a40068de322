#!/usr/bin/env bash
# Fuzzes envgate's parsers of untrusted input with cargo-fuzz (libFuzzer).
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 30 seconds, every target
# Needs the nightly toolchain and cargo-fuzz; fails on the first crash, leaving
# the input in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(schema env_file secret_json reference pattern)
fi
if ! command -v cargo-fuzz >/dev/null; then
  echo "fuzz: cargo-fuzz is not installed; run: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: the nightly toolchain is needed; run: rustup toolchain install nightly" >&2
  exit 1
fi

cd fuzz
# No sanitizer: envgate is safe Rust; libFuzzer still finds panics, aborts,
# hangs and runaway memory, and the build is several times faster.
log=$(mktemp)
if ! cargo +nightly fuzz build -s none >"$log" 2>&1; then
  tail -30 "$log" >&2
  echo "fuzz: the fuzz targets do not build" >&2
  exit 1
fi
rm -f "$log"
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  echo "==> fuzz $target for ${seconds}s"
  run_log=$(mktemp)
  set +e
  cargo +nightly fuzz run -s none "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$run_log" 2>&1
  status=$?
  set -e
  grep -E '^(Done|stat::number_of_executed_units)|panicked|SUMMARY|ERROR|deadly signal' "$run_log" | tail -8 || true
  rm -f "$run_log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
done
