#!/usr/bin/env bash
# scripts/test.sh — run every test; exits non-zero on the first failure.
# This is the README's test command and what .ci/run calls.
#
#   1. install packages (scripts/setup.sh), build with -Werror, install
#   2. C unit tests (cmocka), then again under AddressSanitizer + UBSan,
#      the threaded ones under ThreadSanitizer, and under valgrind; every
#      libFuzzer target for a few seconds
#   3. TAP tests on real dynamod processes (prove t/)
#   4. pg_regress suites against a throw-away PostgreSQL run as "postgres"
#      and a throw-away 3-node dynamod cluster
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
bash scripts/check-includes.sh
make -s check-unit

step "unit tests under ASan + UBSan"
make -s -j"$(nproc)" check-asan

step "threaded units under ThreadSanitizer"
make -s -j"$(nproc)" check-tsan

step "unit tests under valgrind"
make -s check-valgrind

step "fuzz targets, 8 s each (make fuzz-smoke)"
make -s fuzz-smoke

step "TAP tests"
prove -I t/lib t/

step "pg_regress"
bash scripts/test-sql.sh

step "all tests passed"
