#!/usr/bin/env bash
# Shows that the static release binary runs in an empty image: a root holding
# only the binary, a schema and a CA bundle (what a `FROM scratch` image holds).
# It validates, and launches a program (itself, as the only one there is). Without
# the CA bundle, a secret to read over HTTPS is refused before any request, saying
# what to do (exit 69).
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

# No CA bundle at all: nothing to check an HTTPS endpoint against.
rm -f "$root/etc/ssl/certs/ca-certificates.crt"
printf '[envgate]\nenvironments = ["production"]\n[vars.DB_PASSWORD]\nsecret = "db#password"\n' \
  > "$root/secrets.schema.toml"
status=0
report=$(env -i ENVIRONMENT=production USE_SECRETS_MANAGER=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_ENDPOINT_URL=https://127.0.0.1:9 \
  "$chroot" "$root" /envgate --schema /secrets.schema.toml --audit-log - --check 2>&1) || status=$?
# The report wraps its lines: compare the words.
report=$(printf '%s\n' "$report" | sed 's/│/ /g' | tr '\n' ' ' | tr -s ' ')
if [ "$status" != 69 ] || [ "${report#*no trusted CA certificates found}" = "$report" ]; then
  echo "empty-root: without a CA bundle, expected exit 69 naming the missing CAs; got $status:" >&2
  echo "$report" >&2
  exit 1
fi
echo "without a CA bundle: refused (exit 69, no trusted CA certificates found)"
echo "empty-root: ok"
