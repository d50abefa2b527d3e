#!/usr/bin/env bash
# scripts/run.sh — set up, build, install, and start a local dynamo cluster of
# three nodes on 127.0.0.1 with the WiredTiger engine, its data and logs under
# var/ (or $DYNAMO_HOME), show it working with dynamo-cli, then start a
# PostgreSQL with dynamo_fdw on it and show it from SQL (scripts/fdw-demo.sh).
#
# Connections are authenticated and encrypted from the first run: the keys
# it needs are made under $HOME_DIR/keys (mode 700) the first time and kept
# after -- a key per node, an admin client key, and the trust file listing
# them, which dynamo-cli finds beside its key:
#   dynamo-cli --key var/keys/admin.key status
#
#   bash scripts/run.sh          (re)start the cluster and show a put and a get
#   bash scripts/run.sh stop     stop it
set -euo pipefail
cd "$(dirname "$0")/.."

HOME_DIR=${DYNAMO_HOME:-$PWD/var}
NODES=(n1 n2 n3)
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
  [ -d "$HOME_DIR/pg" ] && bash scripts/fdw-demo.sh stop
  stop_nodes
  echo "cluster stopped (data kept in $HOME_DIR)"
  exit 0
fi

bash scripts/setup.sh
make -s -j"$(nproc)"
make -s install >/dev/null

mkdir -p "$HOME_DIR"
stop_nodes

# Keys: made once, kept across runs (a new key would be a new identity).
KEYS="$HOME_DIR/keys"
mkdir -p "$KEYS"
chmod 700 "$KEYS"
pubkey_of() { sed -n 's/^# public key //p' "$1"; }
for who in "${NODES[@]}" admin; do
  [ -f "$KEYS/$who.key" ] || dynamod keygen --out "$KEYS/$who.key" >/dev/null
done
if [ ! -f "$KEYS/trust" ]; then
  {
    echo "# who may connect to the nodes, and as what: PUBKEY ROLE NAME"
    echo "# (roles: node, admin, write, read; make a key with: dynamo-cli keygen --out FILE)"
    for id in "${NODES[@]}"; do echo "$(pubkey_of "$KEYS/$id.key") node $id"; done
    echo "$(pubkey_of "$KEYS/admin.key") admin admin"
  } >"$KEYS/trust"
  chmod 644 "$KEYS/trust"
fi
CLI=(dynamo-cli --key "$KEYS/admin.key")
# n1 founds the cluster; the others join through it (a restarted node finds
# its peers in the ring it stored, so --seeds only matters the first time).
i=0
for id in "${NODES[@]}"; do
  port=$((BASE_PORT + i))
  seeds=()
  [ "$i" -gt 0 ] && seeds=(--seeds "127.0.0.1:$BASE_PORT")
  dynamod --id "$id" --listen "127.0.0.1:$port" --data "$HOME_DIR/$id" \
          --engine wiredtiger --durability flush "${seeds[@]}" \
          --key "$KEYS/$id.key" --trust "$KEYS/trust" \
          >>"$HOME_DIR/$id.log" 2>&1 &
  echo $! >"$HOME_DIR/$id.pid"
  for _ in $(seq 100); do
    "${CLI[@]}" --node "127.0.0.1:$port" status >/dev/null 2>&1 && break
    sleep 0.1
  done
  "${CLI[@]}" --node "127.0.0.1:$port" status >/dev/null ||
    { echo "node $id did not start; its log:"; tail -20 "$HOME_DIR/$id.log"; exit 1; }
  i=$((i + 1))
done

# Until every node has the three-member ring and sees the others up.
for _ in $(seq 300); do
  "${CLI[@]}" --node "127.0.0.1:$BASE_PORT" --json status 2>/dev/null |
    perl -MJSON::PP -e 'my $s = decode_json(join "", <STDIN>);
      my $up = grep { $_->{status} eq "up" } @{ $s->{members} // [] };
      exit(($s->{ring_members} // 0) == $ARGV[0] && $up == $ARGV[0] ? 0 : 1)' "${#NODES[@]}" && break
  sleep 0.1
done

node=127.0.0.1:$BASE_PORT
K="--key $KEYS/admin.key"
echo "cluster: ${#NODES[@]} nodes on 127.0.0.1:$BASE_PORT-$((BASE_PORT + ${#NODES[@]} - 1)), data and logs in $HOME_DIR"
echo "connections are authenticated and encrypted; keys and the trust file are in $KEYS"
echo
echo "\$ dynamo-cli $K put carts alice '{\"items\":[\"apple\"]}'"
ctx=$("${CLI[@]}" --node "$node" put carts alice '{"items":["apple"]}')
echo "$ctx"
echo "\$ dynamo-cli $K put carts alice '{\"items\":[\"apple\",\"pear\"]}' --context $ctx"
"${CLI[@]}" --node "$node" put carts alice '{"items":["apple","pear"]}' --context "$ctx"
echo "\$ dynamo-cli $K get carts alice      # any node coordinates; R=2 of N=3"
"${CLI[@]}" --node "127.0.0.1:$((BASE_PORT + 2))" get carts alice
echo "\$ dynamo-cli $K preflist carts alice"
"${CLI[@]}" --node "$node" preflist carts alice
echo
echo "two writes from the same context are kept as siblings; a write with the merged context reconciles them:"
"${CLI[@]}" --node "$node" put carts bob '["bread"]' >/dev/null
bctx=$("${CLI[@]}" --node "$node" --json get carts bob | perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{context}')
echo "\$ dynamo-cli $K --node 127.0.0.1:$BASE_PORT put carts bob '[\"tea\"]' --context $bctx"
echo "\$ dynamo-cli $K --node 127.0.0.1:$((BASE_PORT + 1)) put carts bob '[\"jam\"]' --context $bctx"
"${CLI[@]}" --node "$node" put carts bob '["tea"]' --context "$bctx" >/dev/null
"${CLI[@]}" --node "127.0.0.1:$((BASE_PORT + 1))" put carts bob '["jam"]' --context "$bctx" >/dev/null
echo "\$ dynamo-cli $K get carts bob"
"${CLI[@]}" --node "$node" get carts bob
mctx=$("${CLI[@]}" --node "$node" --json get carts bob | perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{context}')
echo "\$ dynamo-cli $K put carts bob '[\"tea\",\"jam\"]' --context $mctx"
"${CLI[@]}" --node "$node" put carts bob '["tea","jam"]' --context "$mctx" >/dev/null
echo "\$ dynamo-cli $K get carts bob"
"${CLI[@]}" --node "$node" get carts bob
echo
# The SQL half: a PostgreSQL with dynamo_fdw on this cluster (scripts/fdw-demo.sh).
bash scripts/fdw-demo.sh
echo
echo "stop the cluster and PostgreSQL with: bash scripts/run.sh stop"
