#!/usr/bin/env bash
# scripts/run.sh — set up, build, install, and start a local dynamo cluster on
# 127.0.0.1 with the WiredTiger engine, its data and logs under var/ (or
# $DYNAMO_HOME), then show it working with dynamo-cli.
#
#   bash scripts/run.sh          (re)start the cluster and show a put and a get
#   bash scripts/run.sh stop     stop it
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR=${DYNAMO_HOME:-$PWD/var}
NODES=(n1)
BASE_PORT=${DYNAMO_PORT:-7401}

stop_nodes() {
  for id in "${NODES[@]}"; do
    pidfile="$HOME_DIR/$id.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill -TERM "$(cat "$pidfile")"
      for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = "stop" ]; then
  stop_nodes
  echo "cluster stopped (data kept in $HOME_DIR)"
  exit 0
fi

bash scripts/setup.sh
make -s -j"$(nproc)"
make -s install >/dev/null

mkdir -p "$HOME_DIR"
stop_nodes
i=0
for id in "${NODES[@]}"; do
  port=$((BASE_PORT + i))
  dynamod --id "$id" --listen "127.0.0.1:$port" --data "$HOME_DIR/$id" \
          --engine wiredtiger --durability flush --insecure \
          >>"$HOME_DIR/$id.log" 2>&1 &
  echo $! >"$HOME_DIR/$id.pid"
  for _ in $(seq 100); do
    dynamo-cli --insecure --node "127.0.0.1:$port" status >/dev/null 2>&1 && break
    sleep 0.1
  done
  dynamo-cli --insecure --node "127.0.0.1:$port" status >/dev/null ||
    { echo "node $id did not start; its log:"; tail -20 "$HOME_DIR/$id.log"; exit 1; }
  i=$((i + 1))
done

node=127.0.0.1:$BASE_PORT
echo "cluster: ${#NODES[@]} node(s) on 127.0.0.1:$BASE_PORT, data and logs in $HOME_DIR"
echo
echo "\$ dynamo-cli --insecure put carts alice '{\"items\":[\"apple\"]}'"
ctx=$(dynamo-cli --insecure --node "$node" put carts alice '{"items":["apple"]}')
echo "$ctx"
echo "\$ dynamo-cli --insecure put carts alice '{\"items\":[\"apple\",\"pear\"]}' --context $ctx"
dynamo-cli --insecure --node "$node" put carts alice '{"items":["apple","pear"]}' --context "$ctx"
echo "\$ dynamo-cli --insecure get carts alice"
dynamo-cli --insecure --node "$node" get carts alice
echo "\$ dynamo-cli --insecure status"
dynamo-cli --insecure --node "$node" status
echo
echo "stop the cluster with: bash scripts/run.sh stop"
