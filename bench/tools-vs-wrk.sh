#!/usr/bin/env bash
# Acceptance measurement of `turnpike bench` (issue #7) against wrk, on a private nginx on loopback.
#
#   bench/tools-vs-wrk.sh                 # WARMUP=40 ROUNDS=3 DURATION=10 RATE=2000 CONNS=50
#
# nginx (1 worker) and the load tool under test share ONE core (CPU=0), as the issue asks: the tool that spends
# less CPU per request leaves more of the core to nginx and so gets the higher rate. Rounds alternate the tools.
#   closed: turnpike bench -c 50 -d 10s (JIT Release build, --warmup 40s in the same process, then measured)
#           vs wrk -c 50 -d 10s -t 1 --latency; req/s and CPU-µs per request (turnpike: its own JSON, the measured
#           run only; wrk: utime+stime of the whole process from wait4).
#   open:   turnpike bench --rate 2000 -c 50 (coordinated-omission corrected latency) vs wrk with a Lua delay()
#           of 25 ms per connection (a rate-limited closed load at ~2000 req/s; Debian has no wrk2 package).
# With AOT=DIR, the Native AOT build in DIR/turnpike is measured too (WARMUP_AOT=5 s).
# Only processes started here are stopped, by PID. Results: bench/results/tools-YYYYMMDD-HHMMSS.md
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WARMUP=${WARMUP:-40} ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} RATE=${RATE:-2000} CONNS=${CONNS:-50} CPU=${CPU:-0}
WARMUP_AOT=${WARMUP_AOT:-5}
OUT=${OUT:-$ROOT/bench/out/turnpike-jit}
AOT=${AOT:-}
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { echo "needs nginx (apt-get install -y nginx wrk)"; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y nginx wrk)"; exit 1; }
if [[ ${SKIP_BUILD:-0} != 1 ]]; then dotnet build -c Release "$ROOT/src/Turnpike.Cli" -o "$OUT" -nologo -v q >/dev/null; fi

TMP=$(mktemp -d /tmp/turnpike-tools-vs-wrk.XXXXXX)
NGINX_PID=""
cleanup() { [[ -n $NGINX_PID ]] && kill -TERM "$NGINX_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $TMP/nginx/b; proxy_temp_path $TMP/nginx/p; fastcgi_temp_path $TMP/nginx/f;
  uwsgi_temp_path $TMP/nginx/u; scgi_temp_path $TMP/nginx/s;
  server { listen 127.0.0.1:$PORT; location / { default_type text/plain; return 200 "hello world\n"; } }
}
NGINX
taskset -c "$CPU" nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx/out.log" 2>&1 &
NGINX_PID=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/"
echo "function delay() return 25 end" >"$TMP/delay.lua"

# cputime CMD...: runs CMD, prints its stdout, and writes "utime+stime seconds" to $TMP/cpu
cputime() { python3 -c 'import os,sys,subprocess
p=subprocess.Popen(sys.argv[2:]); _,st,ru=os.wait4(p.pid,0)
open(sys.argv[1],"w").write(str(ru.ru_utime+ru.ru_stime))' "$TMP/cpu" "$@"; }

RAW="$TMP/raw.tsv"   # mode tool round rps p50ms p99ms cpu_us_per_req
for round in $(seq 1 "$ROUNDS"); do
  for mode in closed open; do
    tools="turnpike wrk"; (( round % 2 == 0 )) && tools="wrk turnpike"
    [[ -n $AOT ]] && tools="$tools turnpike-aot"
    for tool in $tools; do
      echo "[round $round] $mode $tool" >&2
      case $tool in
        turnpike|turnpike-aot)
          bin="$OUT/turnpike"; w=$WARMUP
          [[ $tool == turnpike-aot ]] && bin="$AOT/turnpike" && w=$WARMUP_AOT
          extra=(); [[ $mode == open ]] && extra=(--rate "$RATE")
          taskset -c "$CPU" "$bin" bench "$URL" -c "$CONNS" -d "${DURATION}s" -t 1 --warmup "${w}s" --no-progress --json "$TMP/r.json" "${extra[@]}" >"$TMP/out.txt"
          python3 - "$TMP/r.json" "$mode" "$tool" "$round" >>"$RAW" <<'PY'
import json,sys
r=json.load(open(sys.argv[1])); l=r["latency"]
print("\t".join(map(str,[sys.argv[2],sys.argv[3],sys.argv[4],r["throughput"],l["p50"],l["p99"],r["process"]["cpuMicrosPerOperation"]])))
PY
          ;;
        wrk)
          extra=(); [[ $mode == open ]] && extra=(-s "$TMP/delay.lua")
          cputime taskset -c "$CPU" wrk -c "$CONNS" -d "${DURATION}s" -t 1 --latency "${extra[@]}" "$URL" >"$TMP/out.txt"
          python3 - "$TMP/out.txt" "$(cat "$TMP/cpu")" "$mode" "$round" >>"$RAW" <<'PY'
import re,sys
t=open(sys.argv[1]).read(); cpu=float(sys.argv[2])
def ms(v):
    n,u=re.match(r"([\d.]+)(us|ms|s)",v).groups(); return float(n)*{"us":0.001,"ms":1,"s":1000}[u]
p50=ms(re.search(r"\s50%\s+(\S+)",t).group(1)); p99=ms(re.search(r"\s99%\s+(\S+)",t).group(1))
n=int(re.search(r"(\d+) requests in",t).group(1)); rps=float(re.search(r"Requests/sec:\s+([\d.]+)",t).group(1))
print("\t".join(map(str,[sys.argv[3],"wrk",sys.argv[4],rps,p50,p99,round(cpu*1e6/n,2)])))
PY
          ;;
      esac
      tail -1 "$RAW" >&2
    done
  done
done

mkdir -p "$ROOT/bench/results"
RESULT="$ROOT/bench/results/tools-$(date -u +%Y%m%d-%H%M%S).md"
python3 - "$RAW" "$ROUNDS" "$WARMUP" "$DURATION" "$RATE" "$CONNS" "$(nproc)" "$(uname -r)" >"$RESULT" <<'PY'
import sys,statistics as st,collections
raw,rounds,warm,dur,rate,conns,cpus,kernel=sys.argv[1:]
rows=collections.defaultdict(list)
for line in open(raw):
    mode,tool,rnd,rps,p50,p99,cpu=line.split("\t"); rows[(mode,tool)].append((float(rps),float(p50),float(p99),float(cpu)))
med=lambda xs:st.median(xs)
print(f"# turnpike bench vs wrk: {rounds} alternating rounds, medians\n")
print(f"nginx (1 worker, 12-byte body) and the load tool pinned to the same core; {conns} connections, {dur} s per run;")
print(f"turnpike (JIT) with --warmup {warm}s in the same process before each measured run. {cpus} cores, kernel {kernel}.")
print("Generated by `bench/tools-vs-wrk.sh`. CPU-µs/req: turnpike from its JSON (measured run only), wrk from wait4 (whole process).\n")
for mode,title in (("closed",f"Closed model: -c {conns} -d {dur}s"),("open",f"Fixed rate: turnpike --rate {rate} (CO-corrected) vs wrk with a 25 ms Lua delay() per connection")):
    print(f"## {title}\n")
    print("| tool | req/s | p50 ms | p99 ms | CPU-µs/req | rounds (req/s) |"); print("|---|---:|---:|---:|---:|---|")
    for (m,tool),v in sorted(rows.items()):
        if m!=mode: continue
        print(f"| {tool} | {med([x[0] for x in v]):,.0f} | {med([x[1] for x in v]):.3f} | {med([x[2] for x in v]):.3f} | {med([x[3] for x in v]):.2f} | {', '.join(f'{x[0]:,.0f}' for x in v)} |")
    if (mode,"turnpike") in rows and (mode,"wrk") in rows:
        t=rows[(mode,"turnpike")]; w=rows[(mode,"wrk")]
        r=lambda i:med([x[i] for x in t])/med([x[i] for x in w])
        print(f"\nturnpike / wrk: req/s **{r(0):.3f}×**, p50 {r(1):.3f}×, p99 {r(2):.3f}×, CPU-µs/req {r(3):.3f}×\n")
PY
cat "$RESULT"
echo "written: $RESULT" >&2
