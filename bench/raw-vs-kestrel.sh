#!/usr/bin/env bash
# Quick check of the raw-socket listener (#8) against a Kestrel listener in ONE gateway process (same route, same
# upstream: a private nginx on loopback). Not the final benchmark (bench/e2e.sh is).
#   bench/raw-vs-kestrel.sh            # WARMUP=40 DURATION=10 ROUNDS=2 CONNECTIONS=50
# The gateway runs alone on core PROXY_CPU (1); wrk and nginx share LOAD_CPU (0). Per run: req/s (wrk) and gateway
# CPU-µs per request (utime+stime delta of /proc/PID/stat over the run / requests). Loopback only, every run bounded.
set -euo pipefail
WARMUP=${WARMUP:-40} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-2} CONNECTIONS=${CONNECTIONS:-50}
PROXY_CPU=${PROXY_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DLL=${DLL:-$ROOT/src/Turnpike.Cli/bin/Release/net10.0/turnpike.dll}
TMP=$(mktemp -d /tmp/raw-vs-kestrel.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(port) RAW_PORT=$(port) KESTREL_PORT=$(port)
source "$ROOT/bench/nginx-conf.sh"
write_nginx_backend "$TMP/nginx" "$NGINX_PORT"
taskset -c "$LOAD_CPU" /usr/sbin/nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" &
PIDS+=($!)
cat >"$TMP/turnpike.yaml" <<EOF
server: { drainTimeout: 2s }
listeners:
  raw: { address: 127.0.0.1, port: $RAW_PORT, engine: raw }
  kestrel: { address: 127.0.0.1, port: $KESTREL_PORT, engine: kestrel }
admin: { enabled: false }
logging: { level: warning }
routes:
  all: { match: { path: "/{**rest}" }, cluster: backend }
clusters:
  backend: { destinations: { nginx: "http://127.0.0.1:$NGINX_PORT" } }
EOF
taskset -c "$PROXY_CPU" dotnet "$DLL" run --config "$TMP/turnpike.yaml" >"$TMP/turnpike.log" 2>&1 &
GW=$!
PIDS+=($GW)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$RAW_PORT/" >/dev/null && curl -sf "http://127.0.0.1:$KESTREL_PORT/" >/dev/null && break; sleep 0.2; done
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK)
run() { # name port seconds -> "req/s cpu-us/req"
  local before after out reqs
  before=$(ticks "$GW")
  out=$(taskset -c "$LOAD_CPU" timeout $(($3 + 15)) wrk -t1 -c"$CONNECTIONS" -d"$3"s --timeout 5s "http://127.0.0.1:$2/" || true)
  after=$(ticks "$GW")
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  local rps; rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
  local errors; errors=$(awk '/Non-2xx|Socket errors/' <<<"$out" | tr '\n' ' ')
  awk -v n="$1" -v r="$rps" -v t=$((after - before)) -v q="$reqs" -v hz="$HZ" -v e="$errors" \
    'BEGIN { printf "%-8s %10.0f req/s %8.2f CPU-us/req %s\n", n, r, t * 1e6 / hz / q, e }'
}
echo "warm-up ${WARMUP}s (half on each listener)" >&2
run raw "$RAW_PORT" $((WARMUP / 2)) >/dev/null
run kestrel "$KESTREL_PORT" $((WARMUP / 2)) >/dev/null
for r in $(seq "$ROUNDS"); do
  run raw "$RAW_PORT" "$DURATION"
  run kestrel "$KESTREL_PORT" "$DURATION"
done
