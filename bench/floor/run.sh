#!/usr/bin/env bash
# The kernel floor at 50 connections: CPU per request of a bare 1:1 TCP relay (bench/floor/relay.c: epoll + recv/send,
# and io_uring), HAProxy and Turnpike, each alone on core 1, the load interleaved among them (wrk -t1 -c50 and the
# nginx backend on core 0), CPU from /proc/PID/stat. The relay parses nothing: what it costs is the kernel's share
# (system calls, TCP over loopback, the peers' receive paths run in its sends), so proxy − relay is the proxy's own
# overhead above the floor.
#
#   bench/floor/run.sh E2E_TMP [SLICES=10] [SECS=4]
#
# E2E_TMP: a temp dir kept by bench/e2e.sh (KEEP_TMP=1) with the turnpike-jit+raw+features run: its nginx backend,
# HAProxy and Turnpike configurations are reused. Needs gcc and liburing-dev (apt-get install liburing-dev), wrk,
# nginx, haproxy, and Turnpike's JIT build in bench/out/turnpike-jit (bench/e2e.sh builds it).
set -euo pipefail
E2E=${1:?usage: bench/floor/run.sh E2E_TMP [SLICES] [SECS]}
SLICES=${2:-10} SECS=${3:-4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/turnpike-floor.XXXXXX)
gcc -O2 -o "$W/relay" "$ROOT/bench/floor/relay.c" -luring
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
NP=31000
mkdir -p "$W/nginx/logs" "$W/nginx/tmp"
sed -e "s/listen 127.0.0.1:[0-9]*/listen 127.0.0.1:$NP/" -e "s|$E2E/nginx|$W/nginx|g" "$E2E/nginx/nginx.conf" > "$W/nginx/nginx.conf"
taskset -c 0 nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/logs/error.log" > "$W/nginx.log" 2>&1 & pids+=($!)
sed -e "s/bind 127.0.0.1:[0-9]*/bind 127.0.0.1:31003/" -e "s/server nginx 127.0.0.1:[0-9]*/server nginx 127.0.0.1:$NP/" "$E2E/haproxy.cfg" > "$W/haproxy.cfg"
base=$(ls "$E2E"/turnpike-turnpike-jit+raw+features*.yaml | head -1)
sed -e "s|nginx: http://127.0.0.1:[0-9]*|nginx: http://127.0.0.1:$NP|" -e "s|path: .*access.*|path: $W/access.log|" -e "s/^  port: [0-9]*$/  port: 31504/" "$base" > "$W/turnpike.yaml"
sleep 1
names=(relay-epoll relay-uring haproxy turnpike); ports=(31001 31002 31003 31004); pp=()
taskset -c 1 "$W/relay" epoll 31001 $NP & pp+=($!); pids+=($!)
taskset -c 1 "$W/relay" uring 31002 $NP & pp+=($!); pids+=($!)
taskset -c 1 haproxy -db -f "$W/haproxy.cfg" > "$W/haproxy.log" 2>&1 & pp+=($!); pids+=($!)
taskset -c 1 "$ROOT/bench/out/turnpike-jit/turnpike" run --config "$W/turnpike.yaml" --port 31004 --admin-port 31504 > "$W/turnpike.log" 2>&1 & pp+=($!); pids+=($!)
sleep 4
for p in "${ports[@]}"; do
  curl -s -o /dev/null -w "127.0.0.1:$p %{http_code}\n" "http://127.0.0.1:$p/"
  taskset -c 0 wrk -t1 -c50 -d5s "http://127.0.0.1:$p/" > /dev/null
done
taskset -c 0 wrk -t1 -c50 -d40s http://127.0.0.1:31004/ > /dev/null # Turnpike: the JIT's tiers settle
for ((s = 0; s < SLICES; s++)); do
  line="slice $s:"
  for ((j = 0; j < 4; j++)); do
    k=$(( (j + s) % 4 ))
    read -r u0 s0 < <(awk '{print $14, $15}' "/proc/${pp[$k]}/stat")
    out=$(taskset -c 0 wrk -t1 -c50 -d"${SECS}"s "http://127.0.0.1:${ports[$k]}/" 2>&1)
    read -r u1 s1 < <(awk '{print $14, $15}' "/proc/${pp[$k]}/stat")
    req=$(awk '/requests in/ {print $1}' <<<"$out")
    us=$(awk -v c=$((u1 - u0 + s1 - s0)) -v r="$req" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c * 1e6 / hz / r }')
    sy=$(awk -v c=$((s1 - s0)) -v r="$req" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", c * 1e6 / hz / r }')
    echo "$s ${names[$k]} $us $sy" >> "$W/slices.txt"
    line+=" ${names[$k]}=$us (sys $sy)"
  done
  echo "$line"
done
python3 - "$W/slices.txt" <<'PY'
import sys, statistics as st, collections
d = collections.defaultdict(dict)
for l in open(sys.argv[1]):
    s, n, us, sy = l.split(); d[n][int(s)] = float(us)
for n in d: print(f"{n}: median {st.median(d[n].values()):.2f} CPU-µs/req")
ratio = lambda a, b: st.median([d[a][s] / d[b][s] for s in d[b]])
print(f"relay-uring / relay-epoll: {ratio('relay-uring', 'relay-epoll'):.3f}")
print(f"haproxy / relay-epoll: {ratio('haproxy', 'relay-epoll'):.3f}; turnpike / relay-epoll: {ratio('turnpike', 'relay-epoll'):.3f}")
print(f"turnpike / haproxy: {ratio('turnpike', 'haproxy'):.3f}")
over = st.median([(d['turnpike'][s] - d['relay-epoll'][s]) / (d['haproxy'][s] - d['relay-epoll'][s]) for s in d['relay-epoll']])
print(f"above the floor, turnpike / haproxy: {over:.3f}")
PY
