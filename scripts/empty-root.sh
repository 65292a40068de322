#!/usr/bin/env bash
# Shows that the static release binary runs in an empty image: a root holding
# only the binary, a schema and a CA bundle (what a `FROM scratch` image holds).
# It validates, and launches a program (itself, as the only one there is).
# Needs root (chroot).
set -euo pipefail
cd "$(dirname "$0")/.."

envgate=$(scripts/build-release.sh)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/ssl/certs"
cp "$envgate" "$root/envgate"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
printf '[vars.PORT]\ntype = "port"\n' > "$root/env.schema.toml"
echo "empty root holds: $(cd "$root" && find . -type f | sort | tr '\n' ' ')"

chroot=$(PATH="$PATH:/usr/sbin:/sbin" command -v chroot) || { echo "empty-root: chroot (coreutils) not found" >&2; exit 1; }
run() { env -i PORT=8000 "$chroot" "$root" /envgate --schema /env.schema.toml --audit-log - "$@"; }
run --check
out=$(run -- /envgate --version)
echo "launched in the empty root: $out"
[ "${out#envgate }" != "$out" ] || { echo "empty-root: the launch did not run the program" >&2; exit 1; }
if run -- /no-such-program 2>/dev/null; then
  echo "empty-root: a missing program was not refused" >&2
  exit 1
fi
echo "empty-root: ok"
