#!/usr/bin/env bash
# scripts/check-includes.sh — the node's include graph runs one way.
#
# conn.c is the transport (accept, channel, framing, bursts, back-pressure);
# the services (coordinator, replica, sync, handoff, anti-entropy,
# membership) answer through request.h, which conn.c implements, and node.c
# calls the transport through node->transport.  So conn.h is included by
# conn.c and main.c (which wires the transport in) and by nothing else: a
# service that includes it has started reaching into the transport again.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(grep -l '#include "conn.h"' node/src/*.c node/src/*.h | grep -v -x -e node/src/conn.c -e node/src/main.c || true)
if [ -n "$bad" ]; then
	echo "check-includes: conn.h is included outside conn.c and main.c:" >&2
	echo "$bad" >&2
	exit 1
fi
# request.h is the services' leaf: it may include only libdynamo headers
if grep '#include "' node/src/request.h | grep -v '"dynamo/' >&2; then
	echo "check-includes: request.h includes a node header (it must stay a leaf)" >&2
	exit 1
fi
# Between modules (x.c and x.h are module x) includes run one way: the
# graph is acyclic once node (node.h/node.c: the process, which embeds each
# service's struct and starts and stops them all) is left out; tsort says
# which modules form a loop otherwise.
edges=$(for f in node/src/*.c node/src/*.h; do
	from=$(basename "$f"); from=${from%.*}
	sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f" | while read -r to; do
		[ "$from" = node ] || [ "$to" = node ] || echo "$from $to"
	done
done)
if ! loop=$(echo "$edges" | tsort 2>&1 >/dev/null) || [ -n "$loop" ]; then
	echo "check-includes: the modules of node/src include each other in a loop:" >&2
	echo "$loop" >&2
	exit 1
fi
echo "check-includes: conn.h only in conn.c and main.c; request.h a leaf; no include loop between modules but through node"
