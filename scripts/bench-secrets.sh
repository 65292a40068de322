#!/usr/bin/env bash
# Secrets Manager launches on the path users run: COUNT (default 40) secrets read by
# the binary the README installs (`cargo install --locked --path . --target
# x86_64-unknown-linux-musl`), over plain HTTP and over HTTPS
# (moto's server with a certificate made here), side by side with secretspec 0.21
# (awssm provider) in the same hyperfine runs, and with another envgate build when
# ENVGATE_BASELINE names one; three rounds, medians, ratios; then peak memory.
# Needs hyperfine and openssl (Debian: apt-get install hyperfine openssl).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-40}
rounds=${ROUNDS:-3}
runs=${RUNS:-30}

. scripts/lib/bench-tools.sh
needs_commands bench-secrets hyperfine openssl
scripts/setup-test-env.sh >&2
python=$PWD/.venv/bin/python
envgate=$(installed_envgate)
secretspec=$(secretspec_with awssm)

work=$(mktemp -d)
servers=()
cleanup() {
  [ ${#servers[@]} -eq 0 ] || kill "${servers[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/lib/moto-https.sh
start_moto http
http=$endpoint
start_moto https --ssl-cert "$work/cert.pem" --ssl-key "$work/key.pem"
https=$endpoint
"$python" scripts/lib/bench_secrets_fixture.py "$http" "$count"
"$python" scripts/lib/bench_secrets_fixture.py "$https" "$count" "$work/ca.pem"

{
  echo '[envgate]'
  echo 'environments = ["bench"]'
  for i in $(seq 0 $((count - 1))); do
    printf '[vars.S%03d]\nsecret = "S%03d"\n' "$i" "$i"
  done
} >"$work/schema.toml"
{
  printf '[project]\nname = "bench"\nrevision = "1.0"\n[profiles.default]\n'
  for i in $(seq 0 $((count - 1))); do
    printf 'S%03d = { description = "secret %d", required = true }\n' "$i" "$i"
  done
} >"$work/secretspec.toml"

# Both tools trust the system bundle plus the test CA through SSL_CERT_FILE (read by
# envgate's trust store, and by the native roots of secretspec's AWS SDK client), as
# on a machine with a private CA, and read from the endpoint in
# AWS_ENDPOINT_URL; everything else is the same clean environment.
base=(env -i PATH=/usr/bin:/bin HOME="$work" SSL_CERT_FILE="$work/bundle.pem"
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  AWS_EC2_METADATA_DISABLED=true)
gate="$envgate --schema $work/schema.toml -- true"
spec="$secretspec run --file $work/secretspec.toml --provider awssm://us-east-1 -- true"
cd "$work"
for scheme in http https; do
  endpoint=$([ "$scheme" = http ] && echo "$http" || echo "$https")
  # One launch each first: both must read every secret before anything is timed.
  "${base[@]}" AWS_ENDPOINT_URL="$endpoint" ENVIRONMENT=bench USE_SECRETS_MANAGER=true $gate 2>/dev/null \
    || { echo "bench-secrets: envgate failed over $scheme" >&2; exit 1; }
  "${base[@]}" AWS_ENDPOINT_URL="$endpoint" $spec 2>/dev/null \
    || { echo "bench-secrets: secretspec failed over $scheme" >&2; exit 1; }
done
# secretspec is now and then killed by a signal in these runs (whatever its output
# goes to): failed runs are kept out of the medians and counted (-i, exit codes
# in the JSON). The programs' output goes to a file.
for round in $(seq 1 "$rounds"); do
  "${base[@]}" hyperfine -N -i --output=inherit --warmup 3 --runs "$runs" --export-json "$work/round-$round.json" \
    --command-name "envgate http" "env AWS_ENDPOINT_URL=$http ENVIRONMENT=bench USE_SECRETS_MANAGER=true $gate" \
    --command-name "secretspec http" "env AWS_ENDPOINT_URL=$http $spec" \
    --command-name "envgate https" "env AWS_ENDPOINT_URL=$https ENVIRONMENT=bench USE_SECRETS_MANAGER=true $gate" \
    --command-name "secretspec https" "env AWS_ENDPOINT_URL=$https $spec" \
    --command-name "envgate https, test CA only" "env SSL_CERT_FILE=$work/ca.pem AWS_ENDPOINT_URL=$https ENVIRONMENT=bench USE_SECRETS_MANAGER=true $gate" \
    ${ENVGATE_BASELINE:+--command-name "baseline https" "env AWS_ENDPOINT_URL=$https ENVIRONMENT=bench USE_SECRETS_MANAGER=true ${gate/$envgate/$ENVGATE_BASELINE}"} \
    >"$work/round-$round.log" 2>&1 || { tail -5 "$work/round-$round.log" >&2; exit 1; }
done
"$python" - "$count" "$work"/round-*.json <<'PY'
import json, statistics, sys
count, files = sys.argv[1], sys.argv[2:]
medians, failed, total = {}, {}, {}
for path in files:
    for result in json.load(open(path))["results"]:
        name = result["command"]
        ok = [t for t, code in zip(result["times"], result["exit_codes"]) if code == 0]
        failed[name] = failed.get(name, 0) + len(result["times"]) - len(ok)
        total[name] = total.get(name, 0) + len(result["times"])
        medians.setdefault(name, []).append(statistics.median(ok) * 1000)
m = {name: statistics.median(values) for name, values in medians.items()}
print(f"| {count} secrets | envgate | secretspec 0.21 | ratio |")
print("|:---|---:|---:|---:|")
for scheme in ("http", "https"):
    e, s = m[f"envgate {scheme}"], m[f"secretspec {scheme}"]
    print(f"| {scheme.upper()} | {e:.1f} ms | {s:.1f} ms | {e / s:.2f} |")
for name in m:
    if failed[name]:
        print(f"\n{name}: {failed[name]} of {total[name]} runs failed (left out)")
if "baseline https" in m:
    b = m["baseline https"]
    print(f"| HTTPS, baseline envgate | {b:.1f} ms | | {b / m['secretspec https']:.2f} |")
alone = m["envgate https, test CA only"]
print(f"\nenvgate over HTTPS trusting only the test CA: {alone:.1f} ms, so reading the")
print(f"system bundle (plus the CA) costs {m['envgate https'] - alone:.1f} ms per launch.")
PY
# Peak memory of one launch each (GNU time's maximum resident set size), with the
# baseline build too when given.
for scheme in http https; do
  endpoint=$([ "$scheme" = http ] && echo "$http" || echo "$https")
  for tool in envgate ${ENVGATE_BASELINE:+baseline} secretspec; do
    case $tool in
      envgate) command=$gate ;;
      baseline) command=${gate/$envgate/$ENVGATE_BASELINE} ;;
      *) command=$spec ;;
    esac
    rss=$("${base[@]}" AWS_ENDPOINT_URL="$endpoint" ENVIRONMENT=bench USE_SECRETS_MANAGER=true \
      /usr/bin/time -f %M $command 2>&1 >/dev/null | tail -1)
    echo "peak RSS, $tool $scheme: $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MB"
  done
done
