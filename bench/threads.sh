#!/usr/bin/env bash
# Per-thread CPU and context switches of a turnpike process at steady state (bench of issue #8 wake-ups).
# usage: flock /tmp/turnpike-bench.lock bench/threads.sh <bindir> <cfg> [CONNS]   (env: WARM=40 ENVS="A=1 B=2")
# Needs the e2e nginx backend dir in T (default: the lead's kept dir). Load: wrk on core 0, proxy on core 1, 127.0.0.1.
set -u
T=${T:-/tmp/turnpike-e2e.hdPIrM}
BIN=$1; CFG=$2; C=${3:-50}; WARM=${WARM:-40}
nginx -p $T/nginx -c $T/nginx/nginx.conf -e $T/nginx/logs/error.log & NG=$!
sleep 1
env ${ENVS:-} taskset -c 1 $BIN/turnpike run --config $CFG --port 29001 --admin-port 29002 > /tmp/threads-run.log 2>&1 & P=$!
sleep 3
taskset -c 0 wrk -t1 -c50 -d$((WARM/2))s http://127.0.0.1:29001/ > /dev/null
taskset -c 0 wrk -t1 -c1000 -d$((WARM/4))s http://127.0.0.1:29001/ > /dev/null
taskset -c 0 wrk -t1 -c50 -d$((WARM/4))s http://127.0.0.1:29001/ > /dev/null
snap() { for t in /proc/$P/task/*; do
  tid=${t##*/}; name=$(tr ' ' _ < $t/comm)
  read ut st < <(sed 's/^.*) //' $t/stat | awk '{print $12, $13}')
  v=$(awk '/^voluntary_ctxt/{print $2}' $t/status); n=$(awk '/^nonvoluntary_ctxt/{print $2}' $t/status)
  echo "$tid $name $ut $st $v $n"; done; }
snap > /tmp/threads-0
read a0 < <(awk '{print $14+$15}' /proc/$P/stat)
res=$(taskset -c 0 wrk -t1 -c$C -d10s http://127.0.0.1:29001/)
read a1 < <(awk '{print $14+$15}' /proc/$P/stat)
snap > /tmp/threads-1
n=$(echo "$res" | awk '/requests in/{print $1}')
echo "requests $n  process ticks $((a1-a0))  µs/req $(python3 -c "print(f'{($a1-$a0)*1e4/$n:.2f}')")"
python3 - "$n" <<'PY'
import sys
n=int(sys.argv[1])
a={l.split()[0]:l.split() for l in open('/tmp/threads-0')}
rows=[]; tv=tn=0
for l in open('/tmp/threads-1'):
    f=l.split(); b=a.get(f[0],[f[0],f[1],0,0,0,0])
    d=[int(f[i])-int(b[i]) for i in range(2,6)]
    tv+=d[2]; tn+=d[3]
    if any(d): rows.append((f[0],f[1],*d))
print(f"{'tid':>8} {'thread':<28} {'utick':>6} {'stick':>6} {'vol':>7} {'invol':>7}")
for r in sorted(rows,key=lambda r:-(r[2]+r[3]+r[4]+r[5])): print(f"{r[0]:>8} {r[1]:<28} {r[2]:>6} {r[3]:>6} {r[4]:>7} {r[5]:>7}")
print(f"ctxt sw/req: vol {tv/n:.4f} invol {tn/n:.4f} total {(tv+tn)/n:.4f}  (threads {len(a)})")
PY
kill $P; for i in $(seq 1 50); do kill -0 $P 2>/dev/null || break; sleep 0.2; done; kill -9 $P 2>/dev/null
wait $P 2>/dev/null; kill $NG; wait 2>/dev/null
