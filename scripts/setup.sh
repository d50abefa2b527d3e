#!/usr/bin/env bash
# scripts/setup.sh — install the Debian 12 packages dynamo_fdw builds, runs and
# tests with.  Safe to run again: apt-get only installs what is missing.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  postgresql-15 postgresql-server-dev-15 postgresql-client-15
  libsodium-dev libwiredtiger-dev libjemalloc-dev libuv1-dev libcmocka-dev
  libipc-run-perl libjson-pp-perl
  redis-server redis-tools tcpdump valgrind
  clang-14 libclang-rt-14-dev libfuzzer-14-dev
  iproute2 nftables
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a cluster of its own on 5432; our scripts start their own
# throw-away servers and need nothing of it.
