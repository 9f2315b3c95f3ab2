#!/usr/bin/env bash
# `turnpike bench` and `turnpike probe` against the gateway on its embedded default config (demo upstream
# in-process on 8081, gateway on 8080). Loopback only; every run is bounded; stops only the gateway it started.
#   samples/bench/try-it.sh            (from the repository root; builds the CLI once)
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build src/Turnpike.Cli -c Release -nologo -v q >/dev/null
tp=src/Turnpike.Cli/bin/Release/net10.0/turnpike
"$tp" run & gw=$!
trap 'kill -TERM "$gw" 2>/dev/null; wait "$gw" 2>/dev/null' EXIT
for _ in $(seq 1 50); do "$tp" probe 127.0.0.1:8080 -n 1 --timeout 200ms >/dev/null 2>&1 && break; sleep 0.2; done

"$tp" probe 127.0.0.1:8080 -n 5 -i 200ms                                   # TCP connect latency, jitter, loss
"$tp" probe 127.0.0.1:8080 -n 3 -i 200ms --http                            # time to first byte of GET /
"$tp" bench --urls samples/bench/urls.txt -c 20 -d 5s                      # closed model, round robin over URLs
"$tp" bench http://127.0.0.1:8080/api/orders -X POST -H "Content-Type: application/json" \
  --body samples/bench/order.json -c 10 -n 20000                           # POST with a body, bounded by count
"$tp" bench http://127.0.0.1:8080/api/hello --rate 1000 -c 20 -d 5s --json /tmp/turnpike-bench.json   # open model
# The gateway's overhead: the same load through the gateway and straight at the demo upstream, alternating rounds.
"$tp" bench http://127.0.0.1:8081/hello --compare http://127.0.0.1:8080/api/hello -c 20 -d 6s --rounds 3
