# Sourced by the scripts that build the binary the README installs:
# `musl_target` prints this machine's musl target (x86_64-unknown-linux-musl on
# x86_64), adding it to the Rust toolchain when it is missing, and fails with what
# to install when no C compiler for musl is there (ring's C code needs one).
musl_target() {
  local target
  target="$(uname -m)-unknown-linux-musl"
  if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" >&2
  fi
  if ! command -v musl-gcc >/dev/null && ! command -v "$(uname -m)-linux-musl-gcc" >/dev/null; then
    echo "ring's C code needs a C compiler for musl: apt-get install musl-tools (Debian, Ubuntu)" >&2
    return 1
  fi
  echo "$target"
}
