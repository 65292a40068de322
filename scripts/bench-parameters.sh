#!/usr/bin/env bash
# Parameter Store launches on the path users run: COUNT (default 40) SecureString
# parameters read over HTTPS (moto's server with a certificate made here) by the
# binary the README installs, side by side with secretspec 0.21's `awsps` provider
# in the same hyperfine runs; then envgate reading COUNT secrets alone, and COUNT
# secrets and COUNT parameters in one launch (both stores in flight at once). Three
# rounds, medians, ratios. Needs hyperfine and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-40}
rounds=${ROUNDS:-3}
runs=${RUNS:-30}

. scripts/lib/bench-tools.sh
needs_commands bench-parameters hyperfine openssl
scripts/setup-test-env.sh >&2
python=$PWD/.venv/bin/python
envgate=$(installed_envgate)
secretspec=$(secretspec_with awsps)

work=$(mktemp -d)
servers=()
cleanup() {
  [ ${#servers[@]} -eq 0 ] || kill "${servers[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
. scripts/lib/moto-https.sh
start_moto https --ssl-cert "$work/cert.pem" --ssl-key "$work/key.pem"
https=$endpoint
"$python" scripts/lib/bench_parameters_fixture.py "$https" "$count" "$work/ca.pem"

# envgate reads secretspec's own parameters by name (one store, the same values).
schema() { # schema FILE WITH_PARAMETERS WITH_SECRETS
  {
    printf '[envgate]\nenvironments = ["bench"]\nshared_prefixes = ["secretspec/bench"]\n'
    for i in $(seq 0 $((count - 1))); do
      if [ "$2" = yes ]; then
        printf '[vars.S%03d]\nparameter = "/secretspec/bench/default/S%03d"\nsensitive = true\n' "$i" "$i"
      fi
      if [ "$3" = yes ]; then
        printf '[vars.T%03d]\nsecret = "T%03d"\n' "$i" "$i"
      fi
    done
  } >"$1"
}
schema "$work/parameters.toml" yes no
schema "$work/secrets.toml" no yes
schema "$work/both.toml" yes yes
{
  printf '[project]\nname = "bench"\nrevision = "1.0"\n[profiles.default]\n'
  for i in $(seq 0 $((count - 1))); do
    printf 'S%03d = { description = "parameter %d", required = true }\n' "$i" "$i"
  done
} >"$work/secretspec.toml"

base=(env -i PATH=/usr/bin:/bin HOME="$work" SSL_CERT_FILE="$work/bundle.pem"
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
  AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="$https" ENVIRONMENT=bench
  USE_PARAMETER_STORE=true USE_SECRETS_MANAGER=true)
gate() { echo "$envgate --schema $work/$1.toml -- true"; }
spec="$secretspec run --file $work/secretspec.toml --provider awsps://us-east-1 -- true"
cd "$work"
for which in parameters secrets both; do
  "${base[@]}" $(gate $which) 2>/dev/null || { echo "bench-parameters: envgate ($which) failed" >&2; exit 1; }
done
"${base[@]}" $spec >/dev/null 2>&1 || { echo "bench-parameters: secretspec failed" >&2; exit 1; }
for round in $(seq 1 "$rounds"); do
  "${base[@]}" hyperfine -N -i --output=inherit --warmup 3 --runs "$runs" --export-json "$work/round-$round.json" \
    --command-name "envgate parameters" "$(gate parameters)" \
    --command-name "secretspec awsps" "$spec" \
    --command-name "envgate secrets" "$(gate secrets)" \
    --command-name "envgate both" "$(gate both)" \
    >"$work/round-$round.log" 2>&1 || { tail -5 "$work/round-$round.log" >&2; exit 1; }
done
"$python" - "$count" "$work"/round-*.json <<'PY'
import json, statistics, sys
count, files = sys.argv[1], sys.argv[2:]
medians, failed = {}, {}
for path in files:
    for result in json.load(open(path))["results"]:
        ok = [t for t, code in zip(result["times"], result["exit_codes"]) if code == 0]
        failed[result["command"]] = failed.get(result["command"], 0) + len(result["times"]) - len(ok)
        medians.setdefault(result["command"], []).append(statistics.median(ok) * 1000)
m = {name: statistics.median(values) for name, values in medians.items()}
p, s = m["envgate parameters"], m["secretspec awsps"]
print(f"| HTTPS, {count} SecureString parameters | envgate | secretspec 0.21 (awsps) | ratio |")
print("|:---|---:|---:|---:|")
print(f"| launch | {p:.1f} ms | {s:.1f} ms | {p / s:.2f} |")
slower = max(p, m["envgate secrets"])
print(f"\nenvgate, {count} secrets alone: {m['envgate secrets']:.1f} ms; {count} parameters alone: {p:.1f} ms;")
print(f"both in one launch: {m['envgate both']:.1f} ms = {m['envgate both'] / slower:.2f} x the slower alone.")
for name, count in failed.items():
    if count:
        print(f"{name}: {count} runs failed (left out)")
PY
