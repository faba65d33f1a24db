#!/usr/bin/env bash
# The transport benchmark: the round-trip time of one no-op APDU (SELECT ECASD without response
# data, answered 9000) through pcscd + vpcd + the bundled emulator, with the emulator's socket
# tuning (TCP_NODELAY, TCP_QUICKACK re-armed around every read) and without it, and through the
# emulator linked in. Prints `smsr bench` figures; asserts nothing.
#
#   scripts/bench.sh [COUNT]     COUNT round trips with tuning (default 2000); 40 without
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${1:-2000}

scripts/install-deps.sh
cargo build --quiet --workspace --bins
export SMSR_RUN_DIR="$root/target/bench-virtual-reader"
rm -rf "$SMSR_RUN_DIR"
trap 'scripts/virtual-reader.sh stop' EXIT
reader=$(scripts/virtual-reader.sh start)
smsr=target/debug/smsr

echo "== through pcscd + vpcd, emulator with socket tuning"
"$smsr" --reader "$reader" bench -n "$count"

echo "== through pcscd + vpcd, emulator without socket tuning"
SMSR_EMULATOR_ARGS=--no-socket-tuning scripts/virtual-reader.sh restart-emulator >/dev/null
"$smsr" --reader "$reader" bench -n 40 --warmup 2

echo "== emulator linked in (no pcscd)"
"$smsr" --transport emulator --emulator-state "$SMSR_RUN_DIR/card.json" bench -n "$count"
