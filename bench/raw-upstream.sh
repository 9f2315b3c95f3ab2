#!/usr/bin/env bash
# Quick same-run comparison of the two upstream engines (issue #8): one Turnpike process with a cluster on
# engine: yarp and one with engine: raw, each alone on core PROXY_CPU, in front of a private nginx (core LOAD_CPU,
# shared with wrk). Each gets WARMUP s of load, then ROUNDS alternating DURATION-s measured runs of
# `wrk -c CONNECTIONS -t 1`; prints req/s, p50/p99 and proxy CPU-µs per request (utime+stime from /proc/PID/stat).
# Loopback only; every load is bounded by wrk's -d. Not the acceptance benchmark (that is bench/e2e.sh).
#   bench/raw-upstream.sh            # WARMUP=40 DURATION=10 ROUNDS=2 CONNECTIONS=50
set -euo pipefail
cd "$(dirname "$0")/.."
WARMUP=${WARMUP:-40} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-2} CONNECTIONS=${CONNECTIONS:-50}
PROXY_CPU=${PROXY_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
DLL=src/Turnpike.Cli/bin/Release/net10.0/turnpike.dll
[[ -f $DLL ]] || { echo "build first: dotnet build -c Release src/Turnpike.Cli" >&2; exit 1; }
TMP=$(mktemp -d /tmp/raw-upstream-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
status() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; printf 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3; head -1 <&3" 2>/dev/null || true; }
wait_200() { for _ in $(seq 100); do [[ $(status "$1") == "HTTP/1.1 200"* ]] && return 0; sleep 0.2; done; echo "port $1 did not answer 200" >&2; exit 1; }

NGINX_PORT=$(free_port)
source bench/nginx-conf.sh
write_nginx_backend "$TMP/nginx" "$NGINX_PORT"
taskset -c "$LOAD_CPU" /usr/sbin/nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/logs/error.log" >"$TMP/nginx.log" 2>&1 &
PIDS+=($!)
wait_200 "$NGINX_PORT"

declare -A PORT PID
for engine in yarp raw; do
  PORT[$engine]=$(free_port)
  cat >"$TMP/$engine.yaml" <<YAML
listeners:
  public: { address: 127.0.0.1, port: ${PORT[$engine]}, protocols: http1 }
admin: { enabled: false }
routes:
  all: { match: { path: "/{**rest}" }, cluster: backend }
clusters:
  backend:
    destinations: { nginx: "http://127.0.0.1:$NGINX_PORT" }
    http: { engine: $engine }
YAML
  taskset -c "$PROXY_CPU" dotnet "$DLL" run --config "$TMP/$engine.yaml" >"$TMP/$engine.log" 2>&1 &
  PID[$engine]=$!
  PIDS+=(${PID[$engine]})
  wait_200 "${PORT[$engine]}"
done

ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
HZ=$(getconf CLK_TCK)
run() { # engine seconds -> "rps p50 p99 cpu_us_per_req"
  local engine=$1 seconds=$2 before after out requests
  before=$(ticks "${PID[$engine]}")
  out=$(taskset -c "$LOAD_CPU" wrk -c "$CONNECTIONS" -t 1 -d "${seconds}s" --latency "http://127.0.0.1:${PORT[$engine]}/" 2>&1)
  after=$(ticks "${PID[$engine]}")
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  awk -v r="$requests" -v s="$seconds" -v t=$((after - before)) -v hz="$HZ" \
    -v p50="$(awk '$1 == "50%" { print $2 }' <<<"$out")" -v p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")" \
    'BEGIN { printf "%.0f req/s  p50 %s  p99 %s  %.2f CPU-us/req\n", r / s, p50, p99, (t / hz) * 1e6 / r }'
}

echo "warm-up: ${WARMUP}s per engine ($CONNECTIONS connections)"
for engine in yarp raw; do run "$engine" "$WARMUP" >/dev/null; done
for round in $(seq "$ROUNDS"); do
  for engine in yarp raw; do
    echo "round $round $engine: $(run "$engine" "$DURATION")"
  done
done
