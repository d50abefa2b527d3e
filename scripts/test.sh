#!/usr/bin/env bash
# scripts/test.sh — run every test; exits non-zero on the first failure.
# This is the README's test command and what .ci/run calls.
#
#   1. install packages (scripts/setup.sh), build with -Werror, install
#   2. C unit tests (cmocka), then again under AddressSanitizer + UBSan,
#      and under valgrind
#   3. TAP tests on real dynamod processes (prove t/)
#   4. pg_regress suites against a throw-away PostgreSQL run as "postgres"
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n==== %s (%ds)\n' "$*" $(( $(date +%s) - started )); }

step "setup"
bash scripts/setup.sh

step "build"
make -s -j"$(nproc)"
make -s install >/dev/null

step "unit tests"
make -s check-unit

step "unit tests under ASan + UBSan"
make -s -j"$(nproc)" check-asan

step "unit tests under valgrind"
make -s check-valgrind

step "TAP tests"
prove -I t/lib t/

step "pg_regress"
PGBIN=$(pg_config --bindir)
PGTMP=$(mktemp -d /tmp/dynamo_fdw_pg.XXXXXX)
cleanup_pg() {
  if [ -f "$PGTMP/data/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PGTMP"
}
trap cleanup_pg EXIT
PGPORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen=>1,LocalAddr=>"127.0.0.1",LocalPort=>0)->sockport')
chown postgres "$PGTMP"
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
run_pg "$PGBIN/initdb" -D "$PGTMP/data" -U postgres --auth=trust >/dev/null
run_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP" start >/dev/null
if ! make -s installcheck PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=postgres; then
  cat regression.diffs 2>/dev/null || true
  exit 1
fi

step "all tests passed"
