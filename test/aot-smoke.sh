#!/usr/bin/env bash
# Smoke test of the Native AOT build: publish, start with a config, proxy a request, an API-key route, hot-reload (file and
# admin API), stop with SIGTERM and expect exit 0. Loopback only; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/turnpike-aot-smoke.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== publish (Native AOT)"
dotnet publish src/Turnpike.Cli -c Release -r linux-x64 -o "$work/bin" -nologo -v quiet
bin="$work/bin/turnpike"
test -x "$bin"
file_size=$(stat -c %s "$bin")
echo "binary: $bin ($((file_size / 1024 / 1024)) MiB)"

base=$(( 20000 + (RANDOM % 20000) ))
port=$base admin=$((base + 1)) demo=$((base + 2))
write_config() {
  cat > "$work/turnpike.yaml" <<YAML
listeners:
  main: { address: 127.0.0.1, port: $port, protocols: http1, connectionLimits: { perIp: 50, newPerIpPerSecond: 100 } }
admin: { address: 127.0.0.1, port: $admin }
demo: { address: 127.0.0.1, port: $demo }
authSchemes:
  partners: { type: apiKey, header: x-api-key, keys: { acme: aot-smoke-key-0123456789 } }
routes:
  secure:
    match: { pathPrefix: /secure }
    cluster: demo
    auth: { schemes: [partners], forwardClaims: { x-consumer: sub } }
  demo:
    match: { pathPrefix: /api }
    cluster: demo
    transforms:
      - pathRemovePrefix: /api
      - responseHeader: x-generation
        set: "$1"
clusters:
  demo:
    destinations:
      d1: http://127.0.0.1:$demo
YAML
}

wait_for() { # url expected-substring seconds
  local deadline=$((SECONDS + $3))
  while [ $SECONDS -lt $deadline ]; do
    if curl -s -i --max-time 2 "$1" 2>/dev/null | grep -qi -- "$2"; then return 0; fi
    sleep 0.2
  done
  echo "FAIL: $1 did not show '$2' within $3 s"; return 1
}

write_config one
"$bin" validate "$work/turnpike.yaml"
"$bin" run --config "$work/turnpike.yaml" > "$work/out.log" 2>&1 &
pid=$!

echo "== proxy"
wait_for "http://127.0.0.1:$port/api/hello" "turnpike-demo-upstream" 20
wait_for "http://127.0.0.1:$port/api/hello" "x-generation: one" 5
wait_for "http://127.0.0.1:$admin/readyz" "ready" 5
wait_for "http://127.0.0.1:$admin/admin/connections" '"perIpLimit": 0' 5
wait_for "http://127.0.0.1:$admin/metrics" 'turnpike_requests_total{.*route="demo",status_class="2xx"}' 5

echo "== auth (API key)"
wait_for "http://127.0.0.1:$port/secure/x" "x-turnpike-error: unauthorized" 5
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'x-api-key: aot-smoke-key-0123456789' "http://127.0.0.1:$port/secure/x")
[ "$status" = 200 ] || { echo "FAIL: a valid API key answered $status"; exit 1; }
wait_for "http://127.0.0.1:$admin/admin/auth" '"successes": 1' 5
echo "== dashboard and admin API"
wait_for "http://127.0.0.1:$admin/" "dashboard.js" 5
wait_for "http://127.0.0.1:$admin/admin/routes" '"id": "demo"' 5
# The stream's first event (the history and the destination table), then curl gives up after 3 s.
{ curl -s -N --max-time 3 "http://127.0.0.1:$admin/admin/stream" 2>/dev/null || true; } | grep -q '"destinations":\[{"id":"d1"' \
  || { echo "FAIL: /admin/stream sent no event with destination d1"; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$admin/admin/destinations/demo/d1/drain")
[ "$status" = 200 ] || { echo "FAIL: drain answered $status"; exit 1; }
wait_for "http://127.0.0.1:$port/api/hello" "no_healthy_destination" 5
wait_for "http://127.0.0.1:$admin/admin/errors" '"reason": "no_healthy_destination"' 5
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$admin/admin/destinations/demo/d1/enable")
[ "$status" = 200 ] || { echo "FAIL: enable answered $status"; exit 1; }
wait_for "http://127.0.0.1:$port/api/hello" "turnpike-demo-upstream" 5

echo "== reload (file watch)"
write_config two
wait_for "http://127.0.0.1:$port/api/hello" "x-generation: two" 10

echo "== reload (admin API)"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$admin/admin/reload")
[ "$status" = 200 ] || { echo "FAIL: POST /admin/reload answered $status"; exit 1; }
echo "routes: [" > "$work/turnpike.yaml.bad" && cp "$work/turnpike.yaml.bad" "$work/turnpike.yaml"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$admin/admin/reload")
[ "$status" = 422 ] || { echo "FAIL: invalid reload answered $status, expected 422"; exit 1; }
wait_for "http://127.0.0.1:$port/api/hello" "x-generation: two" 5

echo "== SIGTERM"
kill -TERM "$pid"
deadline=$((SECONDS + 30))
while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: still running 30 s after SIGTERM"; cat "$work/out.log"; exit 1; fi
set +e; wait "$pid"; code=$?; set -e
pid=""
[ "$code" = 0 ] || { echo "FAIL: exit code $code after SIGTERM"; cat "$work/out.log"; exit 1; }
echo "AOT smoke test: 1 passed, 0 failed"
