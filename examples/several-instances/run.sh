#!/usr/bin/env bash
# Several geotoken instances on one machine: one Redis (token state, key ring, clients), three instances and HAProxy
# in front, all on loopback ports, everything in a fresh temporary directory. Prints the balancer URL and a client
# to try it with; Ctrl-C stops everything and deletes the directory. See docs/several-instances.md.
#
# Needs redis-server (6.2+) and redis-cli, haproxy, curl, and a build (`npm run build`; run here when missing).
# Ports, if the defaults are taken: GEOTOKEN_PORT (balancer, 8080), REDIS_PORT (6390), INSTANCE_PORTS ("3001 3002 3003").
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
GEOTOKEN_PORT="${GEOTOKEN_PORT:-8080}"
REDIS_PORT="${REDIS_PORT:-6390}"
read -r -a PORTS <<< "${INSTANCE_PORTS:-3001 3002 3003}"
for tool in redis-server redis-cli haproxy curl node; do
  command -v "$tool" > /dev/null || { echo "run.sh: $tool is not installed" >&2; exit 1; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/geotoken-several.XXXXXX")"
PIDS=()
stop () {
  trap - INT TERM EXIT
  echo "stopping: HAProxy, the instances, then Redis (which flushes its append-only file)"
  # In reverse order of starting: the balancer first, Redis last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${PIDS[i]}" 2> /dev/null || true; wait "${PIDS[i]}" 2> /dev/null || true; done
  rm -rf "$WORK"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop' EXIT

wait_for () { # URL-or-command, what, log
  for _ in $(seq 1 300); do
    if eval "$1" > /dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "run.sh: $2 did not come up; its log ($3):" >&2; tail -n 20 "$3" >&2; exit 1
}

cd "$ROOT"
[ -f dist/src/server.js ] || npm run build

# The key-encryption key seals the key ring's private keys in Redis; every instance needs the same one.
node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64') + '\n')" > "$WORK/kek"
chmod 600 "$WORK/kek"

# Token state must survive a Redis crash: append-only file, fsynced before every answer (docs/configuration.md).
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always \
  --save '' --daemonize no --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_for "redis-cli -p $REDIS_PORT ping | grep -q PONG" "redis-server on port $REDIS_PORT" "$WORK/redis.log"

export STATE_STORE=redis REDIS_URL="redis://127.0.0.1:$REDIS_PORT" KEY_ENCRYPTION_KEY_FILE="$WORK/kek"
# One public address for all: the balancer's. Tokens name it as their issuer whichever instance signs them.
export ISSUER="http://127.0.0.1:$GEOTOKEN_PORT" DEMO_CLIENTS=false HOST=127.0.0.1 TRUST_PROXY=loopback
export SEED_FILE="$ROOT/data/seed.geojson"

start_instance () { # n port
  mkdir -p "$WORK/i$1"
  PORT="$2" KEYS_DIR="$WORK/i$1/keys" DATA_DIR="$WORK/i$1/data" \
    node --import ./scripts/require-build.mjs dist/src/server.js > "$WORK/i$1.log" 2>&1 &
  PIDS+=($!)
}
# The first instance creates the key ring in Redis; the others load it.
start_instance 1 "${PORTS[0]}"
wait_for "curl -sf http://127.0.0.1:${PORTS[0]}/ready" "instance 1 on port ${PORTS[0]}" "$WORK/i1.log"
start_instance 2 "${PORTS[1]}"
start_instance 3 "${PORTS[2]}"
wait_for "curl -sf http://127.0.0.1:${PORTS[1]}/ready" "instance 2 on port ${PORTS[1]}" "$WORK/i2.log"
wait_for "curl -sf http://127.0.0.1:${PORTS[2]}/ready" "instance 3 on port ${PORTS[2]}" "$WORK/i3.log"

# Clients live in Redis: added once, known to every instance.
CLIENT="$(node --import ./scripts/require-build.mjs dist/scripts/clients.js add --org acme --scopes "features:read features:write" --json)"
CLIENT_ID="$(node -e "process.stdout.write(JSON.parse(process.argv[1]).client_id)" "$CLIENT")"
CLIENT_SECRET="$(node -e "process.stdout.write(JSON.parse(process.argv[1]).client_secret)" "$CLIENT")"

cat > "$WORK/haproxy.cfg" <<EOF
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  # How long a health check waits for /ready (without it: inter, 200 ms, too short for a busy instance).
  timeout check 2s
  # A request sent to an instance that just died goes to the next one instead of failing.
  retries 1
  option redispatch
  # The instances see the client's address (TRUST_PROXY=loopback): per-IP limits and lockouts stay per client.
  option forwardfor
frontend geotoken
  bind 127.0.0.1:$GEOTOKEN_PORT
  default_backend instances
backend instances
  balance roundrobin
  option httpchk GET /ready
  http-check expect status 200
  default-server inter 200ms fall 2 rise 1
  server i1 127.0.0.1:${PORTS[0]} check
  server i2 127.0.0.1:${PORTS[1]} check
  server i3 127.0.0.1:${PORTS[2]} check
EOF
haproxy -c -q -f "$WORK/haproxy.cfg"
haproxy -db -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
wait_for "curl -sf http://127.0.0.1:$GEOTOKEN_PORT/ready" "HAProxy on port $GEOTOKEN_PORT" "$WORK/haproxy.log"

cat <<EOF
geotoken: 3 instances on ports ${PORTS[*]}, Redis on $REDIS_PORT, logs and data in $WORK
balancer: http://127.0.0.1:$GEOTOKEN_PORT
client_id: $CLIENT_ID
client_secret: $CLIENT_SECRET
try:
  curl -s -u '$CLIENT_ID:$CLIENT_SECRET' -d grant_type=client_credentials http://127.0.0.1:$GEOTOKEN_PORT/oauth/token
Ctrl-C stops everything and deletes $WORK.
EOF

# Until Ctrl-C, or until one of them exits on its own (then everything stops, with a non-zero status).
set +e
wait -n "${PIDS[@]}"
echo "run.sh: a process exited on its own; see the logs above this line" >&2
for f in "$WORK"/*.log; do echo "== $f" >&2; tail -n 5 "$f" >&2; done
exit 1
