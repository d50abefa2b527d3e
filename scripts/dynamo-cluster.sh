# scripts/dynamo-cluster.sh — start and stop a throw-away dynamod cluster for
# the SQL tests (scripts/test.sh) and the SQL benchmark (scripts/bench-sql.sh).
# Source it, then:
#
#   cluster_start DIR COUNT [dynamod flags...]   start COUNT secure nodes, wait for one ring
#   cluster_stop DIR                             stop them (SIGTERM, then SIGKILL)
#
# cluster_start makes, under DIR: a key per node (n1..nCOUNT), three client
# keys -- admin.key (role admin), reader.key (role read), stranger.key (in no
# trust file) -- and the trust file "trust" listing the nodes and the first
# two clients, so a client with admin.key finds its trust file beside its
# key, as dynamo-cli and dynamo_fdw do.  Nodes listen on free loopback ports
# and start one after another, each joining the first (--seeds), so the ring
# is the same from run to run.  Everything in DIR belongs to the postgres
# user when there is one (the server process reads the client keys, which
# must stay 0600).  It exports:
#
#   DYNAMO_FDW_NODES     the nodes' addresses, comma-separated
#   DYNAMO_FDW_NODE1     the first node's address
#   DYNAMO_FDW_KEYS      the directory of the keys and the trust file
#
# and records each node's pid in DIR/nI.pid, its log in DIR/nI.log.  The
# engine is memory unless DYNAMO_CLUSTER_ENGINE says otherwise; further
# dynamod flags (--durability none, ...) follow COUNT.

DYNAMO_BIN=${DYNAMO_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}

cluster_free_port() {
  perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1",LocalPort=>0)->sockport'
}

# cluster_cli DIR ADDR ARGS...: dynamo-cli with the admin key.
cluster_cli() {
  local dir=$1 addr=$2
  shift 2
  "$DYNAMO_BIN/dynamo-cli" --node "$addr" --key "$dir/keys/admin.key" --timeout 2000 "$@"
}

# cluster_wait DIR ADDR COUNT: until the node at ADDR has a ring of COUNT
# members and sees every one of them up (at most 30 s).
cluster_wait() {
  local dir=$1 addr=$2 count=$3 i status
  for i in $(seq 1 300); do
    status=$(cluster_cli "$dir" "$addr" --json status 2>/dev/null || true)
    if [ -n "$status" ] && perl -MJSON::PP -e '
        my $s = decode_json($ARGV[0]);
        my $m = $s->{members} // [];
        my $up = grep { $_->{status} eq "up" } @$m;
        exit((($s->{ring_members} // 1) == $ARGV[1] && !($s->{ring_pending} // 0) &&
              ($ARGV[1] == 1 || $up == $ARGV[1])) ? 0 : 1)' \
        "$status" "$count"; then
      return 0
    fi
    sleep 0.1
  done
  echo "cluster_wait: node $addr did not see a ring of $count nodes" >&2
  return 1
}

cluster_start() {
  local dir=$1 count=$2
  shift 2
  local keys="$dir/keys" i port addr seeds="" nodes="" pk
  mkdir -p "$keys"
  chmod 755 "$dir" "$keys"
  : >"$keys/trust"
  for i in $(seq 1 "$count"); do
    pk=$("$DYNAMO_BIN/dynamod" keygen --out "$keys/n$i.key")
    echo "$pk node n$i" >>"$keys/trust"
  done
  pk=$("$DYNAMO_BIN/dynamod" keygen --out "$keys/admin.key")
  echo "$pk admin fdw" >>"$keys/trust"
  pk=$("$DYNAMO_BIN/dynamod" keygen --out "$keys/reader.key")
  echo "$pk read reader" >>"$keys/trust"
  "$DYNAMO_BIN/dynamod" keygen --out "$keys/stranger.key" >/dev/null
  chmod 644 "$keys/trust"
  if id postgres >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    chown -R postgres "$keys"
  fi
  for i in $(seq 1 "$count"); do
    port=$(cluster_free_port)
    addr="127.0.0.1:$port"
    "$DYNAMO_BIN/dynamod" --id "n$i" --listen "$addr" --data "$dir/data-n$i" \
      --key "$keys/n$i.key" --trust "$keys/trust" --engine "${DYNAMO_CLUSTER_ENGINE:-memory}" \
      ${seeds:+--seeds "$seeds"} "$@" >"$dir/n$i.log" 2>&1 &
    echo $! >"$dir/n$i.pid"
    echo "$addr" >"$dir/n$i.addr"
    if [ -z "$seeds" ]; then
      seeds=$addr
      cluster_wait "$dir" "$addr" 1 || return 1
    else
      cluster_wait "$dir" "$seeds" "$i" || return 1
    fi
    nodes="${nodes:+$nodes,}$addr"
  done
  cluster_wait "$dir" "$seeds" "$count" || return 1
  export DYNAMO_FDW_NODES=$nodes
  export DYNAMO_FDW_NODE1=$seeds
  export DYNAMO_FDW_KEYS=$keys
}

cluster_stop() {
  local dir=$1 f pid
  for f in "$dir"/n*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  for f in "$dir"/n*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}
