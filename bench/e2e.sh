#!/usr/bin/env bash
# End-to-end proxy benchmark: Turnpike (JIT and Native AOT) against bare YARP, in front of a private nginx.
#
#   bench/e2e.sh                       # steady state: WARMUP=40 ROUNDS=5 DURATION=10
#   QUICK=1 bench/e2e.sh               # smoke test of the script itself (short warm-up, NOT steady state)
#
# Layout (2 cores): every proxy runs alone on core PROXY_CPU (1); wrk and nginx share core LOAD_CPU (0).
# All proxies stay alive on their own ports for the whole run; each gets WARMUP seconds of wrk load once, then
# ROUNDS rounds measure every proxy at every connection count, round-robin, rotating the order each round.
# Per run: req/s, p50/p99 (wrk --latency), proxy CPU-µs per request (utime+stime delta from /proc/PID/stat over
# requests completed), RSS (VmRSS sampled max during the run, VmHWM after it) and context switches.
#
# Environment:
#   ROUNDS=5 DURATION=10 WARMUP=40    rounds, seconds per measured run, warm-up seconds per proxy process
#   WARMUP_CHUNKS=5                   the warm-up's 50-connection half is this many wrk runs (new connections each)
#   CONNS="50 1000"                   connection counts
#   PROXIES="turnpike-jit turnpike-aot bare-yarp bare-yarp-inline"
#                                     bare-yarp is the baseline (YARP defaults); bare-yarp-inline is bare YARP with
#                                     Turnpike's inline-scheduling settings, for attribution only. A name can
#                                     carry extra environment variables for investigation, e.g.
#                                     "turnpike-aot:DOTNET_gcConcurrent=1,DOTNET_GCgen0size=400000"; and any
#                                     turnpike-NAME whose build is in bench/out/turnpike-NAME/ can be listed
#                                     A Turnpike name ending in "+observed" (e.g. turnpike-aot+observed) runs that
#                                     build with the admin listener, metrics (GET /metrics) and a sampled access
#                                     log to a file on; plain turnpike-* runs have all three off. The report then
#                                     compares each "+observed" proxy with its plain twin (same run).
#   OBSERVED_SAMPLE_RATE=0.01         access-log sampleRate of "+observed" and "+features" proxies
#                                     A Turnpike name ending in "+features" runs with the default feature set of
#                                     issue #8's acceptance: metrics (admin /metrics), one local rate-limit policy
#                                     on the route (per client IP, a limit wrk never reaches) and the sampled access
#                                     log. "+raw" runs the listener and the cluster on the raw-socket HTTP/1.1 engines
#                                     (listeners.*.engine: raw, clusters.*.http.engine: raw). Suffixes combine, e.g.
#                                     turnpike-aot+raw+features.
#   nginx-proxy haproxy caddy         the other proxies, each alone on the proxy core like Turnpike: nginx (1 worker,
#                                     master_process off, upstream keepalive), HAProxy (nbthread 1, http-reuse
#                                     always), Caddy (reverse_proxy). Installed with apt-get when listed.
#                                     A Turnpike name ending in "+jwt" runs that build with JWT validation (HS256
#                                     secret, validated-token cache on) on the route; the report compares it with
#                                     its plain twin. wrk sends the same bearer token to every proxy, so the
#                                     requests are identical and only the validation differs.
#   QUICK=1                           WARMUP=4 DURATION=3 ROUNDS=1 unless set explicitly; results labelled as such
#   SKIP_INSTALL=1 SKIP_BUILD=1       reuse installed tools / existing builds in bench/out/
#   PROXY_CPU=1 LOAD_CPU=0            cores
#   KEEP_TMP=1                        keep the temp dir (configs, logs, raw wrk output)
#   RESULTS_DIR=bench/results         where the markdown result file goes
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
  WARMUP=${WARMUP:-4}; DURATION=${DURATION:-3}; ROUNDS=${ROUNDS:-1}
fi
WARMUP=${WARMUP:-40}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
WARMUP_CHUNKS=${WARMUP_CHUNKS:-5}
CONNS=${CONNS:-"50 1000"}
PROXIES=${PROXIES:-"turnpike-jit turnpike-aot bare-yarp bare-yarp-inline"}
OBSERVED_SAMPLE_RATE=${OBSERVED_SAMPLE_RATE:-0.01}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
OUT=${OUT:-$ROOT/bench/out}   # build outputs (override with SKIP_BUILD=1 to run binaries from elsewhere)
STEADY=yes
if [[ $QUICK == 1 || $WARMUP -lt 40 ]]; then STEADY=no; fi

log() { printf '[e2e %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------------------------
# Cleanup: only the processes this script started, by PID.
declare -A PID_OF=()
NGINX_PID=""
BG_PIDS=()
TMP=""
cleanup() {
  local rc=$?
  set +e
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for name in "${!PID_OF[@]}"; do kill -TERM "${PID_OF[$name]}" 2>/dev/null; done
  if [[ -n $NGINX_PID ]]; then kill -TERM "$NGINX_PID" 2>/dev/null; fi
  # Give them up to 10 s to exit, then SIGKILL the survivors (still by PID).
  local all=("${!PID_OF[@]}") deadline=$((SECONDS + 10))
  for name in "${all[@]}"; do
    local pid=${PID_OF[$name]}
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  if [[ -n $NGINX_PID ]]; then
    while kill -0 "$NGINX_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -0 "$NGINX_PID" 2>/dev/null && kill -KILL "$NGINX_PID" 2>/dev/null
  fi
  wait 2>/dev/null
  if [[ -n $TMP && -d $TMP ]]; then
    if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------------------------
# Tools.
install_tools() {
  local missing=()
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v taskset >/dev/null || missing+=(util-linux)
  command -v getconf >/dev/null || missing+=(libc-bin)
  [[ " $PROXIES " != *" haproxy "* ]] || command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
  [[ " $PROXIES " != *" caddy "* ]] || command -v caddy >/dev/null || missing+=(caddy)
  if ((${#missing[@]} == 0)); then return; fi
  [[ ${SKIP_INSTALL:-0} == 1 ]] && die "missing tools: ${missing[*]} (SKIP_INSTALL=1)"
  local sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_all() {
  command -v dotnet >/dev/null || die "the .NET SDK (dotnet) is required"
  if [[ ${SKIP_BUILD:-0} == 1 ]]; then
    log "SKIP_BUILD=1: using existing builds in $OUT"
    return
  fi
  log "building Turnpike (JIT, Release)"
  dotnet build -c Release "$ROOT/src/Turnpike.Cli" -o "$OUT/turnpike-jit" -nologo -v q >"$TMP/build-jit.log" 2>&1 \
    || { tail -30 "$TMP/build-jit.log"; die "Turnpike JIT build failed"; }
  log "publishing Turnpike (Native AOT, linux-x64)"
  dotnet publish -c Release -r linux-x64 "$ROOT/src/Turnpike.Cli" -o "$OUT/turnpike-aot" -nologo -v q >"$TMP/build-aot.log" 2>&1 \
    || { tail -30 "$TMP/build-aot.log"; die "Turnpike AOT publish failed"; }
  log "building BareYarp (Release)"
  dotnet build -c Release "$ROOT/bench/BareYarp" -o "$OUT/bareyarp" -nologo -v q >"$TMP/build-yarp.log" 2>&1 \
    || { tail -30 "$TMP/build-yarp.log"; die "BareYarp build failed"; }
}

# ---------------------------------------------------------------------------------------------------------------
# Helpers.
USED_PORTS=" "
free_port() { # VAR: sets VAR to a port nobody listens on (from /proc/net/tcp{,6}), not handed out before
  local -n _fp_out=$1
  local _fp_listening _fp_port _fp_hex
  _fp_listening=$(awk 'NR > 1 && $4 == "0A" { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)
  for _ in $(seq 1 200); do
    _fp_port=$((20000 + RANDOM % 30000))
    _fp_hex=$(printf '%04X' "$_fp_port")
    if ! grep -qx "$_fp_hex" <<<"$_fp_listening" && [[ $USED_PORTS != *" $_fp_port "* ]]; then
      USED_PORTS+="$_fp_port "
      _fp_out=$_fp_port
      return
    fi
  done
  die "no free port found"
}

# One GET over bash's /dev/tcp; prints the status line. Bounded by a read timeout.
http_status() {
  local port=$1 line=""
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "${BENCH_TOKEN:-}" >&3
  IFS= read -r -t 3 line <&3 || true
  exec 3<&- 3>&-
  printf '%s' "${line%$'\r'}"
}

wait_ready() {
  local name=$1 port=$2 pid=$3 deadline=$((SECONDS + 60)) status
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || { tail -20 "$TMP/$(fsafe "$name").log" >&2 || true; die "$name (pid $pid) exited during start-up"; }
    status=$(http_status "$port" || true)
    if [[ $status == "HTTP/1.1 200"* ]]; then return; fi
    sleep 0.3
  done
  tail -20 "$TMP/$(fsafe "$name").log" >&2 || true
  die "$name did not answer 200 on port $port within 60 s (last status: '${status:-none}')"
}

# utime+stime of all threads, in clock ticks.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# Context switches (voluntary + involuntary) per thread id: /proc/PID/status only has the main thread's.
ctxt_by_tid() {
  local t
  for t in /proc/"$1"/task/*; do
    awk -v tid="${t##*/}" '$1 ~ /^(non)?voluntary_ctxt_switches:$/ { s += $2 } END { print tid, s + 0 }' "$t/status" 2>/dev/null || true
  done
}
# Switches between two ctxt_by_tid snapshots, over threads alive at the end (new threads count from zero; threads
# that exited during the run are missed, so this can only undercount).
ctxt_delta() { awk 'NR == FNR { before[$1] = $2; next } { d += $2 - before[$1] } END { print d + 0 }' "$1" "$2"; }
ctxt_split() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '$1 == "voluntary_ctxt_switches:" { v += $2 } $1 == "nonvoluntary_ctxt_switches:" { n += $2 } END { print v + 0 "/" n + 0 }'; }

# wrk latency ("812.00us", "1.20ms", "2.01s") in ms.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.3f", n }'
}

fsafe() { printf '%s' "${1//[^A-Za-z0-9._=,:+-]/_}"; } # a proxy name as a file name
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "nan"; exit } if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------------------------------------------
# Backend and proxies.
source "$ROOT/bench/nginx-conf.sh"   # write_nginx_conf, write_nginx_backend

start_nginx() {
  free_port NGINX_PORT
  local p=$TMP/nginx
  write_nginx_backend "$p" "$NGINX_PORT"
  taskset -c "$LOAD_CPU" "$NGINX_BIN" -p "$p" -c "$p/nginx.conf" -e "$p/logs/error.log" >"$TMP/nginx.log" 2>&1 &
  NGINX_PID=$!
  local deadline=$((SECONDS + 20))
  until [[ $(http_status "$NGINX_PORT" || true) == "HTTP/1.1 200"* ]]; do
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$TMP/nginx.log" "$p/logs/error.log" >&2; die "nginx exited"; }
    ((SECONDS < deadline)) || die "nginx did not start"
    sleep 0.2
  done
  log "nginx backend pid $NGINX_PID on 127.0.0.1:$NGINX_PORT (core $LOAD_CPU)"
}

write_turnpike_config() {
  cat >"$TMP/turnpike.yaml" <<EOF
# Generated by bench/e2e.sh. The listener port is overridden per process with --port.
server:
  drainTimeout: 2s
listeners:
  public:
    address: 127.0.0.1
    port: 8080
    protocols: http1
admin:
  enabled: false
logging:
  level: warning
routes:
  all:
    match:
      path: /{**rest}
    cluster: backend
clusters:
  backend:
    destinations:
      nginx: http://127.0.0.1:$NGINX_PORT
EOF
  "$OUT/turnpike-jit/turnpike" validate "$TMP/turnpike.yaml" >&2 || die "generated Turnpike config is invalid"
}

# Variant config editors (each edits the copied base config in place).
declare -A ADMIN_PORT_OF=()
add_observed() { # file name admin-port: admin listener with GET /metrics, and a sampled access log in the temp dir
  sed -i -e '/^admin:/,/^logging:/{/^logging:/!d}' -e '/^logging:/,/^routes:/{/^routes:/!d}' "$1"
  sed -i "s|^routes:|admin:\n  address: 127.0.0.1\n  port: $3\nmetrics:\n  enabled: true\nlogging:\n  level: warning\n  accessLog:\n    path: $TMP/access-$(fsafe "$2").log\n    sampleRate: $OBSERVED_SAMPLE_RATE\nroutes:|" "$1"
}
add_rate_limit() { # file: one local token-bucket policy per client IP on the route, far above what wrk sends
  awk '{ print } $0 == "    cluster: backend" { print "    rateLimit: per-client" }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
  printf 'rateLimits:\n  per-client: { algorithm: tokenBucket, limit: 100000000, period: 1s, burst: 100000000, key: clientIp }\n' >>"$1"
}
# "+jwt": the route requires a JWT (HS256 shared secret); BENCH_TOKEN is a valid token for it, minted here.
JWT_SECRET=bench-e2e-shared-secret-0123456789abcdef
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
BENCH_TOKEN=$(
  h=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
  p=$(printf '{"sub":"bench","iss":"bench-e2e","exp":%d}' $(( $(date +%s) + 86400 )) | b64url)
  sig=$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64url)
  printf '%s.%s.%s' "$h" "$p" "$sig"
)
add_jwt() { # file
  awk '{ print } $0 == "    cluster: backend" { print "    auth: { schemes: [bench] }" }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
  printf 'authSchemes:\n  bench: { type: jwt, issuer: bench-e2e, secret: "%s" }\n' "$JWT_SECRET" >>"$1"
}
add_raw() { # file: raw-socket listener and raw upstream client (issue #8)
  awk '{ print } $0 == "    protocols: http1" { print "    engine: raw" } $0 == "  backend:" { print "    http: { engine: raw }" }' "$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# The other proxies: each alone on the proxy core, keep-alive to the backend like Turnpike's pool.
write_nginx_proxy() { # port
  write_nginx_conf "$TMP/nginx-proxy" "master_process off;" "  upstream backend { server 127.0.0.1:$NGINX_PORT; keepalive 1024; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:$1 backlog=4096;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }"
}
write_haproxy() { # port
  cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend f
  bind 127.0.0.1:$1
  default_backend b
backend b
  server nginx 127.0.0.1:$NGINX_PORT
EOF
}
write_caddy() { # port
  cat >"$TMP/Caddyfile" <<EOF
{
  admin off
  auto_https off
}
http://127.0.0.1:$1 {
  reverse_proxy 127.0.0.1:$NGINX_PORT
}
EOF
}

declare -A PORT_OF=() START_RSS=()
banner() { grep -m1 -E 'BareYarp listening|Turnpike is running' "$TMP/$(fsafe "$1").log" 2>/dev/null || echo "(no banner)"; }
start_proxy() {
  local name=$1 port base=${1%%:*} extra=() config=$TMP/turnpike.yaml admin=()
  # "NAME:VAR=value,VAR=value" runs proxy NAME with extra environment variables (investigation variants).
  if [[ $name == *:* ]]; then IFS=, read -r -a extra <<<"${name#*:}"; fi
  free_port port
  if [[ $base == turnpike-*+* ]]; then
    # Variant suffixes, applied to the base config in the order given.
    local suffixes=${base#"${base%%+*}"} admin_port="" sfx s
    config=$TMP/turnpike-$(fsafe "$name").yaml
    cp "$TMP/turnpike.yaml" "$config"
    IFS=+ read -r -a sfx <<<"${suffixes#+}"
    for s in "${sfx[@]}"; do
      case $s in
        observed|features)
          if [[ -z $admin_port ]]; then
            free_port admin_port
            ADMIN_PORT_OF[$name]=$admin_port
            add_observed "$config" "$name" "$admin_port"
            admin=(--admin-port "$admin_port")
          fi
          [[ $s == features ]] && add_rate_limit "$config" ;;
        jwt) add_jwt "$config" ;;
        raw) add_raw "$config" ;;
        *) die "unknown variant suffix '+$s' in $name" ;;
      esac
    done
    "$OUT/${base%%+*}/turnpike" validate "$config" >&2 || die "generated config $config for $name is invalid"
    base=${base%%+*}
  fi
  local cmd=()
  case $base in
    # turnpike-jit, turnpike-aot, or any other build put in $OUT/turnpike-<something>/ (e.g. other publish options).
    turnpike-*) cmd=("$OUT/$base/turnpike" run --config "$config" --port "$port" "${admin[@]}") ;;
    bare-yarp) cmd=("$OUT/bareyarp/BareYarp" --destination "http://127.0.0.1:$NGINX_PORT" --port "$port") ;;
    bare-yarp-inline) cmd=("$OUT/bareyarp/BareYarp" --destination "http://127.0.0.1:$NGINX_PORT" --port "$port" --inline) ;;
    nginx-proxy) write_nginx_proxy "$port"; cmd=("$NGINX_BIN" -p "$TMP/nginx-proxy" -c "$TMP/nginx-proxy/nginx.conf" -e "$TMP/nginx-proxy/logs/error.log") ;;
    haproxy) write_haproxy "$port"; cmd=("$(command -v haproxy || echo /usr/sbin/haproxy)" -db -f "$TMP/haproxy.cfg") ;;
    caddy) write_caddy "$port"; extra+=(GOMAXPROCS=1); cmd=("$(command -v caddy)" run --adapter caddyfile --config "$TMP/Caddyfile") ;;
    *) die "unknown proxy '$name'" ;;
  esac
  [[ -x ${cmd[0]} ]] || die "${cmd[0]} not found (build first, or unset SKIP_BUILD)"
  if ((${#extra[@]} > 0)); then cmd=(env "${extra[@]}" "${cmd[@]}"); fi # env execs: same PID
  # taskset execs the proxy, so $! is the proxy's own PID.
  taskset -c "$PROXY_CPU" "${cmd[@]}" >"$TMP/$(fsafe "$name").log" 2>&1 &
  PID_OF[$name]=$!
  PORT_OF[$name]=$port
  wait_ready "$name" "$port" "${PID_OF[$name]}"
  sleep 1
  START_RSS[$name]=$(( $(status_kb "${PID_OF[$name]}" VmRSS) / 1024 ))
  log "$name pid ${PID_OF[$name]} on 127.0.0.1:$port (core $PROXY_CPU): $(banner "$name")"
}

# ---------------------------------------------------------------------------------------------------------------
# Load.
RAW=""   # tab-separated: round proxy conns rps requests p50 p99 cpu_us_req rss_max_kb hwm_kb non2xx sockerr ctxt_per_req
run_wrk() { # port conns seconds outfile
  taskset -c "$LOAD_CPU" wrk -t1 -c"$2" -d"$3"s --timeout 5s --latency -H "Authorization: Bearer $BENCH_TOKEN" "http://127.0.0.1:$1/" >"$4" 2>&1
}

sample_rss() { # pid seconds outfile: max VmRSS (kB) while the run lasts; bounded by the deadline
  local pid=$1 max=0 v deadline=$((SECONDS + $2 + 5))
  while ((SECONDS < deadline)) && [[ ! -e $3.stop ]]; do
    v=$(status_kb "$pid" VmRSS 2>/dev/null || echo 0)
    ((v > max)) && max=$v
    echo "$max" >"$3"
    sleep 0.25
  done
}

declare -A SCRAPE_NOTE=()
scrape_metrics() { # name: GET /metrics over bash's /dev/tcp; keeps the requests counter total for the report
  local name=$1 port=${ADMIN_PORT_OF[$1]} f total
  f=$TMP/metrics-$(fsafe "$1").txt
  { exec 4<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { log "WARNING: cannot connect to $name's admin port"; return 0; }
  printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&4
  timeout 5 cat <&4 >"$f" || true
  exec 4<&- 4>&-
  total=$(awk '/^turnpike_requests_total\{/ { s += $NF } END { printf "%.0f", s }' "$f")
  SCRAPE_NOTE[$name]="last scrape: $(wc -c <"$f") bytes, turnpike_requests_total (sum over series) = $total"
}

# The 50-connection half is WARMUP_CHUNKS shorter wrk runs, each opening and closing its connections: the tiered JIT
# compiles a method once it has been called often enough after start-up, and the accept and close paths run only once
# per connection. After one long run they were still being compiled in the first measured runs (the JIT's thread took
# 0.5 % of Turnpike's CPU in a 10 s run 30 s after the warm-up); after five shorter ones, no measurable time
# (bench/results/NOTES-20261201-e2e-noise.md).
warm_up() {
  local name=$1 port=${PORT_OF[$1]} half=$(( (WARMUP + 1) / 2 ))
  local rest=$((WARMUP - half)) chunks=$WARMUP_CHUNKS k
  ((chunks > rest)) && chunks=$rest
  ((chunks < 1 && rest > 0)) && chunks=1
  log "warm-up $name: ${half}s at 1000 connections, then ${rest}s at 50 in $chunks runs"
  run_wrk "$port" 1000 "$half" "$TMP/warmup-$(fsafe "$name")-1000.txt" || die "wrk failed during warm-up of $name"
  for ((k = 1; k <= chunks; k++)); do
    # The last run takes what the division leaves over.
    local secs=$((rest / chunks))
    ((k == chunks)) && secs=$((rest - (chunks - 1) * (rest / chunks)))
    run_wrk "$port" 50 "$secs" "$TMP/warmup-$(fsafe "$name")-50-$k.txt" || die "wrk failed during warm-up of $name"
  done
  local bad
  bad=$(cat "$TMP"/warmup-"$(fsafe "$name")"-*.txt | awk '/Non-2xx or 3xx responses:/ { s += $NF } END { print s + 0 }')
  if ((bad > 0)); then log "WARNING: $name answered $bad non-2xx responses during warm-up"; fi
}

measure() { # round proxy conns
  local round=$1 name=$2 conns=$3 pid=${PID_OF[$2]} port=${PORT_OF[$2]}
  local f
  f=$(fsafe "$name")
  local out=$TMP/run-$round-$f-$conns.txt rssf=$TMP/rss-$round-$f-$conns
  kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) is gone"
  local t0 t1
  t0=$(cpu_ticks "$pid"); ctxt_by_tid "$pid" >"$rssf.ctxt0"
  rm -f "$rssf.stop"
  sample_rss "$pid" "$DURATION" "$rssf" &
  local sampler=$!
  BG_PIDS+=("$sampler")
  run_wrk "$port" "$conns" "$DURATION" "$out" || { cat "$out" >&2; die "wrk failed against $name"; }
  if [[ -n ${ADMIN_PORT_OF[$name]:-} ]]; then scrape_metrics "$name"; fi # inside the measured CPU window
  t1=$(cpu_ticks "$pid"); ctxt_by_tid "$pid" >"$rssf.ctxt1"
  touch "$rssf.stop"; wait "$sampler" 2>/dev/null || true
  local keep=() b
  for b in "${BG_PIDS[@]}"; do [[ $b == "$sampler" ]] || keep+=("$b"); done
  BG_PIDS=("${keep[@]}")
  local hwm rssmax requests rps p50 p99 non2xx sockerr
  hwm=$(status_kb "$pid" VmHWM)
  rssmax=$(cat "$rssf" 2>/dev/null || echo 0)
  requests=$(awk '/requests in/ { print $1 }' "$out")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out"); non2xx=${non2xx:-0}
  sockerr=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out"); sockerr=${sockerr:-0}
  [[ -n $requests && $requests -gt 0 ]] || { cat "$out" >&2; die "no requests completed against $name"; }
  local cpu_us_req ctxt_req
  cpu_us_req=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
  ctxt_req=$(awk -v d="$(ctxt_delta "$rssf.ctxt0" "$rssf.ctxt1")" -v n="$requests" 'BEGIN { printf "%.3f", d / n }')
  local row="$round	$name	$conns	$rps	$requests	$p50	$p99	$cpu_us_req	$rssmax	$hwm	$non2xx	$sockerr	$ctxt_req"
  RAW+="$row"$'\n'
  echo "$row" >>"$TMP/runs.tsv"   # raw rows survive a failure in the report
  local flag=""
  ((non2xx > 0)) && flag="  <-- $non2xx NON-2xx RESPONSES (invalid run)"
  ((sockerr > 0)) && flag+="  ($sockerr socket errors)"
  log "$(printf 'round %d %-16s c=%-4d %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %6.2f CPU-us/req  RSS max %6d MiB  HWM %6d MiB  ctxt/req %s%s' \
    "$round" "$name" "$conns" "$rps" "$p50" "$p99" "$cpu_us_req" $((rssmax / 1024)) $((hwm / 1024)) "$ctxt_req" "$flag")"
}

# ---------------------------------------------------------------------------------------------------------------
# Report.
col() { # proxy conns column-number -> median
  awk -F'\t' -v p="$1" -v c="$2" -v k="$3" '$2 == p && $3 == c { print $k }' <<<"$RAW" | median
}
round_ratios() { # proxy other conns -> "r1 r2 r3 (median m)": CPU/req of proxy / other, round by round
  local r
  r=$(awk -F'\t' -v p="$1" -v o="$2" -v c="$3" '$3 == c && $2 == p { a[$1] = $8 } $3 == c && $2 == o { b[$1] = $8 }
    END { for (i = 1; i in a || i in b; i++) if ((i in a) && b[i] > 0) printf "%.2f\n", a[i] / b[i] }' <<<"$RAW")
  [[ -n $r ]] || { echo "n/a"; return; }
  echo "$(tr '\n' ' ' <<<"$r")(median $(median <<<"$r" | awk '{ printf "%.2f", $1 }'))"
}
sum_col() { awk -F'\t' -v p="$1" -v c="$2" -v k="$3" '$2 == p && $3 == c { s += $k } END { print s + 0 }' <<<"$RAW"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r + 0 <= t + 0) print "PASS"; else print "FAIL" }'; }

report() {
  local md=$1
  {
    echo "# Turnpike end-to-end benchmark"
    echo
    if [[ $STEADY == no ]]; then
      echo "> **QUICK / NOT STEADY STATE** (warm-up ${WARMUP}s < 40s): a smoke test of the script; do not quote these numbers."
      echo
    fi
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ has local changes)')$(git -C "$ROOT" diff --quiet HEAD -- bench/e2e.sh bench/BareYarp 2>/dev/null || echo ' (bench/e2e.sh or bench/BareYarp has local changes)')"
    echo "- Machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(uname -r); load average at start: $LOAD_AT_START"
    echo "- .NET SDK $(dotnet --version 2>/dev/null || echo '?'), nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*nginx\///'), $(wrk -v 2>&1 | head -1 | awk '{ print $1, $2 }')"
    echo "- Settings: WARMUP=${WARMUP}s per proxy process (half at 1000, half at 50 connections in $WARMUP_CHUNKS runs), ROUNDS=$ROUNDS, DURATION=${DURATION}s, CONNS=\"$CONNS\""
    echo "- Inherited runtime variables removed before starting the proxies: ${ENV_NOTE:-none}"
    echo "- Pinning: each proxy alone on core $PROXY_CPU (taskset); wrk (-t1) and nginx (1 worker, 12-byte body, access_log off) on core $LOAD_CPU"
    echo "- CPU-µs/req = proxy (utime+stime) delta over the run / requests wrk completed (CLK_TCK=$CLK_TCK). RSS max = highest VmRSS sampled every 0.25 s during the run; HWM = VmHWM (lifetime peak, includes warm-up) after the run."
    echo "- Medians over rounds. bare-yarp = YARP defaults (Web SDK: server GC, concurrent GC, no inline scheduling) = the baseline; bare-yarp-inline = the same plus Kestrel UnsafePreferInlineScheduling and DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 (attribution only)."
    echo
    echo "| proxy | conns | req/s | p50 ms | p99 ms | CPU-µs/req | RSS max MiB | HWM MiB | ctxt sw/req | non-2xx (sum) | socket errors (sum) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    local p c
    for c in $CONNS; do
      for p in $PROXIES; do
        printf '| %s | %s | %.0f | %.2f | %.2f | %.2f | %.1f | %.1f | %.3f | %s | %s |\n' "$p" "$c" \
          "$(col "$p" "$c" 4)" "$(col "$p" "$c" 6)" "$(col "$p" "$c" 7)" "$(col "$p" "$c" 8)" \
          "$(awk -v k="$(col "$p" "$c" 9)" 'BEGIN { print k / 1024 }')" "$(awk -v k="$(col "$p" "$c" 10)" 'BEGIN { print k / 1024 }')" \
          "$(col "$p" "$c" 13)" "$(sum_col "$p" "$c" 11)" "$(sum_col "$p" "$c" 12)"
      done
    done
    echo
    local low high
    low=$(awk '{ print $1 }' <<<"$CONNS"); high=$(awk '{ print $NF }' <<<"$CONNS")
    if [[ " $PROXIES " == *" bare-yarp "* ]]; then
      echo "## Turnpike / bare YARP (same run, ratio of medians)"
      echo
      echo "| variant | CPU-µs/req @$low (target ≤ 0.70) | | peak RSS (VmHWM) @$high (target ≤ 0.60) | | req/s @$low | req/s @$high |"
      echo "|---|---:|---|---:|---|---:|---:|"
      for p in $PROXIES; do
        [[ $p == bare-yarp ]] && continue
        local rc rm
        rc=$(ratio "$(col "$p" "$low" 8)" "$(col bare-yarp "$low" 8)")
        rm=$(ratio "$(col "$p" "$high" 10)" "$(col bare-yarp "$high" 10)")
        if [[ $p == turnpike-* ]]; then
          echo "| $p | $rc | $(verdict "$rc" 0.70) | $rm | $(verdict "$rm" 0.60) | $(ratio "$(col "$p" "$low" 4)" "$(col bare-yarp "$low" 4)") | $(ratio "$(col "$p" "$high" 4)" "$(col bare-yarp "$high" 4)") |"
        else
          echo "| $p (not a target) | $rc | | $rm | | $(ratio "$(col "$p" "$low" 4)" "$(col bare-yarp "$low" 4)") | $(ratio "$(col "$p" "$high" 4)" "$(col bare-yarp "$high" 4)") |"
        fi
      done
      echo
      local bad
      bad=$(awk -F'\t' 'NF > 1 { s += $11 } END { print s + 0 }' <<<"$RAW")
      if ((bad > 0)); then
        echo "**WARNING: $bad non-2xx responses in measured runs: runs with errors are not valid results.**"
        echo
      fi
    fi
    if [[ " $PROXIES " == *" haproxy "* || " $PROXIES " == *" nginx-proxy "* ]]; then
      echo "## Turnpike against nginx and HAProxy as proxies (issue #8's targets; same run, ratio of medians)"
      echo
      echo "Targets: CPU-µs/req @$low ≤ 1.0 × HAProxy's and ≤ 1.1 × nginx's; @$high ≤ 1.0 × HAProxy's; p99 @$low ≤ 1.3 × nginx's;"
      echo "peak RSS (VmHWM) @$high ≤ 60 MiB for a Native AOT build. The targets are meant for \"+features\" variants."
      echo
      echo "| variant | CPU/req @$low vs HAProxy (≤ 1.0) | vs nginx (≤ 1.1) | CPU/req @$high vs HAProxy (≤ 1.0) | p99 @$low vs nginx (≤ 1.3) | HWM @$high MiB (AOT ≤ 60) |"
      echo "|---|---:|---:|---:|---:|---:|"
      for p in $PROXIES; do
        [[ $p == turnpike-* ]] || continue
        local rh rn rhh rp hw
        rh=$(ratio "$(col "$p" "$low" 8)" "$(col haproxy "$low" 8)"); rn=$(ratio "$(col "$p" "$low" 8)" "$(col nginx-proxy "$low" 8)")
        rhh=$(ratio "$(col "$p" "$high" 8)" "$(col haproxy "$high" 8)"); rp=$(ratio "$(col "$p" "$low" 7)" "$(col nginx-proxy "$low" 7)")
        hw=$(awk -v k="$(col "$p" "$high" 10)" 'BEGIN { printf "%.1f", k / 1024 }')
        echo "| $p | $rh $(verdict "$rh" 1.0) | $rn $(verdict "$rn" 1.1) | $rhh $(verdict "$rhh" 1.0) | $rp $(verdict "$rp" 1.3) | $hw$([[ $p == turnpike-aot* ]] && awk -v h="$hw" 'BEGIN { print (h <= 60) ? " PASS" : " FAIL" }') |"
      done
      echo
      echo "The verdicts above compare medians over rounds. The host's speed drifts within a round, so for reference the"
      echo "CPU/req ratio of each round (both proxies measured in the same round, at most $(( $(wc -w <<<"$PROXIES") - 1 )) runs apart), and their median:"
      echo
      for p in $PROXIES; do
        [[ $p == turnpike-* ]] || continue
        echo "- $p @$low vs HAProxy: $(round_ratios "$p" haproxy "$low"); vs nginx: $(round_ratios "$p" nginx-proxy "$low"); @$high vs HAProxy: $(round_ratios "$p" haproxy "$high")"
      done
      echo
    fi
    local observed=""
    for p in $PROXIES; do [[ $p == turnpike-*+observed && " $PROXIES " == *" ${p%+observed} "* ]] && observed+="$p "; done
    if [[ -n $observed ]]; then
      echo "## Observability overhead: metrics + sampled access log on / all off (same run, ratio of medians)"
      echo
      echo "\"+observed\": admin listener on with \`metrics: {enabled: true}\` (recorded on every request; /metrics scraped"
      echo "once at the end of each measured run, inside its CPU window) and \`logging.accessLog\` to a file with"
      echo "\`sampleRate: $OBSERVED_SAMPLE_RATE\`. Plain: admin listener off (nothing listens to the instruments), no access log."
      echo
      local h="| variant |" sep="|---|"
      for c in $CONNS; do h+=" CPU-µs/req @$c on / off | |"; sep+="---:|---|"; done
      for c in $CONNS; do h+=" req/s @$c on / off |"; sep+="---:|"; done
      echo "$h"; echo "$sep"
      for p in $observed; do
        local line="| $p vs ${p%+observed} |" rr
        for c in $CONNS; do
          rr=$(ratio "$(col "$p" "$c" 8)" "$(col "${p%+observed}" "$c" 8)")
          line+=" $(col "$p" "$c" 8) / $(col "${p%+observed}" "$c" 8) = **$rr** | $(verdict "$rr" 1.05) (≤ 1.05) |"
        done
        for c in $CONNS; do line+=" $(ratio "$(col "$p" "$c" 4)" "$(col "${p%+observed}" "$c" 4)") |"; done
        echo "$line"
      done
      echo
      for p in $observed; do
        echo "- $p: ${SCRAPE_NOTE[$p]:-no scrape}; access log lines written: $(wc -l <"$TMP/access-$(fsafe "$p").log" 2>/dev/null || echo 0)"
      done
      echo
    fi
    local jwt=""
    for p in $PROXIES; do [[ $p == turnpike-*+jwt && " $PROXIES " == *" ${p%+jwt} "* ]] && jwt+="$p "; done
    if [[ -n $jwt ]]; then
      echo "## JWT validation overhead: auth on (warm token cache) − off (same run, medians)"
      echo
      echo "\"+jwt\": the route requires a JWT (\`type: jwt\`, HS256 secret, default token cache); every wrk request carries"
      echo "the same valid token, so after the first request each one is a cache hit. Plain: no \`auth\` (the header is forwarded)."
      echo
      local h="| variant |" sep="|---|"
      for c in $CONNS; do h+=" CPU-µs/req @$c on − off | |"; sep+="---:|---|"; done
      echo "$h"; echo "$sep"
      for p in $jwt; do
        local line="| $p vs ${p%+jwt} |" on off d
        for c in $CONNS; do
          on=$(col "$p" "$c" 8); off=$(col "${p%+jwt}" "$c" 8)
          d=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a - b }')
          line+=" $on − $off = **$d** | $(awk -v d="$d" 'BEGIN { print (d <= 2.0) ? "met" : "not met" }') (≤ 2 µs) |"
        done
        echo "$line"
      done
      echo
    fi
    echo "## All runs"
    echo
    echo "| round | proxy | conns | req/s | requests | p50 ms | p99 ms | CPU-µs/req | RSS max MiB | HWM MiB | non-2xx | socket errors | ctxt sw/req |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' 'NF > 1 { printf "| %s | %s | %s | %.0f | %s | %.2f | %.2f | %.2f | %.1f | %.1f | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 / 1024, $10 / 1024, $11, $12, $13 }' <<<"$RAW"
    echo
    echo "## Proxy processes"
    echo
    for p in $PROXIES; do
      local pid=${PID_OF[$p]}
      echo "- $p: $(banner "$p"); threads $(status_kb "$pid" Threads), VmHWM $(( $(status_kb "$pid" VmHWM) / 1024 )) MiB, VmRSS now $(( $(status_kb "$pid" VmRSS) / 1024 )) MiB, RSS when idle after start ${START_RSS[$p]} MiB, voluntary/involuntary context switches (all threads, lifetime) $(ctxt_split "$pid")"
    done
  } >"$md"
}

# ---------------------------------------------------------------------------------------------------------------
main() {
  [[ $(nproc) -ge 2 ]] || die "needs at least 2 cores (proxy on one, load on another)"
  TMP=$(mktemp -d /tmp/turnpike-e2e.XXXXXX)
  LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
  install_tools
  build_all
  CLK_TCK=$(getconf CLK_TCK)
  NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
  # The baseline must run with its own defaults: drop inherited runtime knobs that would change any proxy.
  ENV_NOTE=$(env | grep -E '^(DOTNET_|COMPlus_|ASPNETCORE_)' | grep -vE '^DOTNET_(ROOT|CLI_|NOLOGO|SKIP_FIRST_TIME|ROLL_FORWARD|GENERATE_ASPNET_CERTIFICATE)' | cut -d= -f1 | tr '\n' ' ' || true)
  if [[ -n $ENV_NOTE ]]; then
    log "unsetting inherited runtime variables for the proxies: $ENV_NOTE"
    for v in $ENV_NOTE; do unset "$v"; done
  fi
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  ((WARMUP >= 40)) || log "WARMUP=${WARMUP}s < 40s: results are NOT steady state"

  start_nginx
  write_turnpike_config
  local p
  for p in $PROXIES; do start_proxy "$p"; done
  for p in $PROXIES; do warm_up "$p"; done

  local names=($PROXIES) n r c i
  n=${#names[@]}
  for ((r = 1; r <= ROUNDS; r++)); do
    for c in $CONNS; do
      for ((i = 0; i < n; i++)); do
        measure "$r" "${names[$(( (i + r - 1) % n ))]}" "$c"
        sleep 1
      done
    done
  done

  mkdir -p "$RESULTS_DIR"
  local md
  md=$RESULTS_DIR/e2e-$(date -u +%Y%m%d-%H%M%S)
  if [[ $STEADY == no ]]; then md+=-quick; fi
  md+=.md
  report "$md"
  echo
  cat "$md"
  echo
  log "results written to $md"
}

main "$@"
