#!/usr/bin/env bash
# Builds the release binary, as the README's install command does: for musl
# (static-pie: no dynamic loader, runs in distroless or scratch images), LTO,
# stripped, with musl's own allocator. Adds the Rust target when it is missing.
# Needs a C compiler for musl (Debian: apt-get install musl-tools).
# Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/musl-target.sh
target=$(musl_target)
cargo build --release --locked --quiet --target "$target"
echo "$PWD/target/$target/release/envgate"
