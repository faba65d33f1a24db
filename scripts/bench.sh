#!/usr/bin/env bash
# The transport benchmark: the round-trip time of one no-op APDU (SELECT ECASD without response
# data, answered 9000) through pcscd + vpcd + the bundled emulator, with the emulator's socket
# tuning (TCP_NODELAY, TCP_QUICKACK re-armed around every read) and without it, and through the
# emulator linked in. Then the provisioning benchmark (`provision-bench`): `smsr provision` of a
# 12 KB TS.48 package (a built one without ../shared) RUNS times through pcscd + vpcd and with
# the emulator linked in, over --es5 scp80 and scp03: median per step, APDU count and the ratio
# to the transport floor.
# Prints figures; asserts nothing.
#
#   scripts/bench.sh [COUNT] [RUNS]   COUNT round trips with tuning (default 2000), 40 without;
#                                      RUNS provisionings per transport (default 10)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${1:-2000}
runs=${2:-10}

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
# Another card: the one in the reader is served by its emulator, which holds its state file.
# This one also takes the in-process provisionings below (the reader's card has moved its SCP80
# counter past a new registry's).
target/debug/euicc-emulator init --state "$SMSR_RUN_DIR/card2.json" --pki "$SMSR_RUN_DIR/pki" \
  --eis-out "$SMSR_RUN_DIR/eis2.json" >/dev/null
"$smsr" --transport emulator --emulator-state "$SMSR_RUN_DIR/card2.json" bench -n "$count"

shared=${SMSR_SHARED:-$root/../shared}
profile="$shared/testdata/saip-ts48/TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der"
if [ ! -f "$profile" ]; then
  echo "bench: no $profile: a built profile instead" >&2
  profile="$SMSR_RUN_DIR/profile.der"
  "$smsr" profile build --iccid 89882800000000000011 --imsi 001010000000011 \
    --ki 000102030405060708090A0B0C0D0E0F --opc 00112233445566778899AABBCCDDEEFF --out "$profile" >/dev/null
fi
scripts/virtual-reader.sh restart-emulator >/dev/null
bench=(target/debug/provision-bench --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis.json"
       --profile "$profile" --runs "$runs")

echo "== provisioning through pcscd + vpcd (--es5 scp80)"
"${bench[@]}" --reader "$reader"
echo "== provisioning through pcscd + vpcd (--es5 scp03)"
"${bench[@]}" --reader "$reader" --es5 scp03

echo "== provisioning with the emulator linked in (--es5 scp80)"
scripts/virtual-reader.sh stop >/dev/null
target/debug/provision-bench --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis2.json" \
  --profile "$profile" --runs "$runs" --emulator-state "$SMSR_RUN_DIR/card2.json"
echo "== provisioning with the emulator linked in (--es5 scp03)"
target/debug/provision-bench --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis2.json" \
  --profile "$profile" --runs "$runs" --emulator-state "$SMSR_RUN_DIR/card2.json" --es5 scp03
