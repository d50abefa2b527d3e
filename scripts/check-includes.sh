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
echo "check-includes: conn.h only in conn.c and main.c; request.h a leaf"
