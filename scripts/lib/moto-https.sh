# Sourced by the benchmarks that read moto over HTTP and HTTPS: a throwaway CA, a
# certificate for 127.0.0.1 signed by it, a bundle trusting both, and start_moto.
# Needs $work (a scratch directory), $python (the test venv's) and a `servers`
# array the caller kills on exit.

# A throwaway CA and a certificate for 127.0.0.1 signed by it (webpki refuses a CA
# certificate as a server's own).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=envgate bench CA" -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -CAcreateserial -days 1 -extfile "$work/ext.cnf" -out "$work/cert.pem" 2>/dev/null
# What a machine trusts: the system bundle, with the test CA added.
cat /etc/ssl/certs/ca-certificates.crt "$work/ca.pem" >"$work/bundle.pem"

free_port() { "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# start_moto SCHEME [moto_server.py options]: starts a server, prints its endpoint.
start_moto() {
  local scheme=$1 port
  shift
  port=$(free_port)
  "$python" tests/moto_server.py --port "$port" "$@" >"$work/moto-$scheme.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 100); do
    if curl -sf --cacert "$work/ca.pem" "$scheme://127.0.0.1:$port/moto-api/data.json" >/dev/null; then
      endpoint="$scheme://127.0.0.1:$port"
      return
    fi
    sleep 0.1
  done
  echo "bench: moto's $scheme server did not start; see $work/moto-$scheme.log" >&2
  exit 1
}
