#!/usr/bin/env bash
# End-to-end cost of the CORS step: one Turnpike process, one private nginx backend, and three kinds of request
# measured in the same run, round-robin:
#   plain      GET /plain/x  with an Origin header, on a route WITHOUT cors        (the baseline)
#   cors       GET /cors/x   with an allowed Origin, on a route with a cors policy (headers added, upstream's replaced)
#   preflight  OPTIONS /cors/x (Origin + Access-Control-Request-Method/-Headers): answered by the gateway, no upstream
# Per run: requests/s and the proxy's CPU-µs per request (utime+stime delta from /proc/PID/stat over the requests wrk
# completed). The proxy runs alone on core PROXY_CPU (1); wrk and nginx share LOAD_CPU (0). Load goes to 127.0.0.1
# only, every run is bounded by DURATION.
#
#   TURNPIKE=/path/to/turnpike bench/cors-e2e.sh     # a published binary (default: publish Native AOT to bench/out/turnpike-aot)
#   WARMUP=40 ROUNDS=3 DURATION=10 CONNS=50          # defaults
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WARMUP=${WARMUP:-40}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
TURNPIKE=${TURNPIKE:-}

log() { printf '[cors-e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

TMP=$(mktemp -d /tmp/turnpike-cors-e2e.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v wrk >/dev/null && command -v nginx >/dev/null || { log "needs wrk and nginx (apt-get install wrk nginx)"; exit 1; }
if [[ -z $TURNPIKE ]]; then
  log "publishing Native AOT to bench/out/turnpike-aot"
  dotnet publish "$ROOT/src/Turnpike.Cli" -c Release -r linux-x64 -o "$ROOT/bench/out/turnpike-aot" -nologo -v quiet >&2
  TURNPIKE=$ROOT/bench/out/turnpike-aot/turnpike
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(free_port)
PROXY_PORT=$(free_port)

mkdir -p "$TMP/nginx/logs"
cat > "$TMP/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path $TMP/nginx; proxy_temp_path $TMP/nginx; fastcgi_temp_path $TMP/nginx; uwsgi_temp_path $TMP/nginx; scgi_temp_path $TMP/nginx;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { return 200 "hello world\n"; }
  }
}
EOF
taskset -c "$LOAD_CPU" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
PIDS+=($!)

cat > "$TMP/turnpike.yaml" <<EOF
listeners:
  main: { address: 127.0.0.1, port: $PROXY_PORT }
admin: { enabled: false }
logging: { level: warning }
corsPolicies:
  web:
    origins: ["https://app.example.com", "https://*.example.com"]
    methods: [GET, POST, PUT]
    headers: [content-type, authorization]
    exposeHeaders: [x-request-id]
    credentials: true
    maxAge: 10m
routes:
  plain:
    match: { pathPrefix: /plain }
    cluster: nginx
  cors:
    match: { pathPrefix: /cors }
    cluster: nginx
    cors: web
clusters:
  nginx:
    destinations: { n: "http://127.0.0.1:$NGINX_PORT" }
EOF
taskset -c "$PROXY_CPU" "$TURNPIKE" run --config "$TMP/turnpike.yaml" > "$TMP/turnpike.log" 2>&1 &
PROXY_PID=$!
PIDS+=($PROXY_PID)

for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/plain/x" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$PROXY_PORT/plain/x" || { log "proxy did not start"; cat "$TMP/turnpike.log" >&2; exit 1; }

ORIGIN="https://app.example.com"
cat > "$TMP/preflight.lua" <<EOF
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "$ORIGIN"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "content-type, authorization"
EOF

# One wrk run of a kind; prints "requests cpu_ticks".
run() {
  local kind=$1 seconds=$2 args=()
  case $kind in
    plain) args=(-H "Origin: $ORIGIN" "http://127.0.0.1:$PROXY_PORT/plain/x") ;;
    cors) args=(-H "Origin: $ORIGIN" "http://127.0.0.1:$PROXY_PORT/cors/x") ;;
    preflight) args=(-s "$TMP/preflight.lua" "http://127.0.0.1:$PROXY_PORT/cors/x") ;;
  esac
  local before after out requests
  before=$(awk '{print $14 + $15}' "/proc/$PROXY_PID/stat")
  out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${seconds}s" "${args[@]}")
  after=$(awk '{print $14 + $15}' "/proc/$PROXY_PID/stat")
  requests=$(awk '/requests in/ {print $1}' <<< "$out")
  if grep -q "Non-2xx" <<< "$out"; then log "$kind: non-2xx answers: $(grep Non-2xx <<< "$out")"; exit 1; fi
  echo "$requests $((after - before))"
}

# The headers the runs rely on, checked once.
curl -si -H "Origin: $ORIGIN" "http://127.0.0.1:$PROXY_PORT/cors/x" | grep -qi "^access-control-allow-origin: $ORIGIN" || { log "no CORS header on /cors"; exit 1; }
curl -si -X OPTIONS -H "Origin: $ORIGIN" -H "Access-Control-Request-Method: PUT" "http://127.0.0.1:$PROXY_PORT/cors/x" | grep -q "^HTTP/1.1 204" || { log "preflight not 204"; exit 1; }

log "warm-up ${WARMUP}s (all three kinds)"
third=$(( (WARMUP + 2) / 3 ))
for kind in plain cors preflight; do run "$kind" "$third" > /dev/null; done

TICK=$(getconf CLK_TCK)
declare -A REQ=() CPU=()
ROUND_LINES=()
kinds=(plain cors preflight)
for round in $(seq "$ROUNDS"); do
  order=("${kinds[@]:$(( (round - 1) % 3 ))}" "${kinds[@]:0:$(( (round - 1) % 3 ))}")
  for kind in "${order[@]}"; do
    read -r requests ticks < <(run "$kind" "$DURATION")
    REQ[$kind]=$(( ${REQ[$kind]:-0} + requests ))
    CPU[$kind]=$(( ${CPU[$kind]:-0} + ticks ))
    line="round $round $kind: $requests requests, $(awk -v t="$ticks" -v r="$requests" -v k="$TICK" 'BEGIN {printf "%.2f", t / k * 1e6 / r}') CPU-µs/request"
    ROUND_LINES+=("$line")
    log "$line"
  done
done

stamp=$(date -u +%Y%m%d-%H%M%S)
file="$RESULTS_DIR/e2e-cors-$stamp.md"
mkdir -p "$RESULTS_DIR"
{
  echo "# End-to-end: the CORS step ($stamp UTC)"
  echo
  echo "\`bench/cors-e2e.sh\` (WARMUP=$WARMUP ROUNDS=$ROUNDS DURATION=$DURATION CONNS=$CONNS), proxy: \`$TURNPIKE\` on core $PROXY_CPU;"
  echo "wrk -t1 -c$CONNS and nginx on core $LOAD_CPU. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
  echo
  echo "| kind | requests | req/s | proxy CPU-µs/request | ratio to plain |"
  echo "|---|---:|---:|---:|---:|"
  base=$(awk -v t="${CPU[plain]}" -v r="${REQ[plain]}" -v k="$TICK" 'BEGIN {print t / k * 1e6 / r}')
  for kind in "${kinds[@]}"; do
    awk -v kind="$kind" -v t="${CPU[$kind]}" -v r="${REQ[$kind]}" -v k="$TICK" -v s=$((ROUNDS * DURATION)) -v b="$base" \
      'BEGIN {us = t / k * 1e6 / r; printf "| %s | %d | %.0f | %.2f | %.3f |\n", kind, r, r / s, us, us / b}'
  done
  echo
  echo "Every run (the spread between rounds of one kind is the noise floor of this machine at the time):"
  echo
  echo '```'
  printf '%s\n' "${ROUND_LINES[@]}"
  echo '```'
} > "$file"
cat "$file"
log "written $file"
