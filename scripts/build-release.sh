#!/usr/bin/env bash
# Builds the release binary: statically linked (no dynamic loader work at start,
# and it runs in distroless or scratch images), LTO, stripped.
# Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --locked --quiet --target "$target"
echo "$PWD/target/$target/release/envgate"
