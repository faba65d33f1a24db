#!/usr/bin/env bash
# The transport benchmark: the round-trip time of one no-op APDU (SELECT ECASD without response
# data, answered 9000) through pcscd + vpcd + the bundled emulator, with the emulator's socket
# tuning (TCP_NODELAY, TCP_QUICKACK re-armed around every read) and without it, and through the
# emulator linked in. Then the provisioning benchmark (`provision-bench`): `smsr provision` of a
# 12 KB TS.48 package (a built one without ../shared) RUNS times through pcscd + vpcd and with
# the emulator linked in, over --es5 scp80, scp03 and scp81: median per step, APDU count and the ratio
# to the transport floor. Then the trace readers: `trace decrypt --extract-profile` and
# `trace export --pcap --decrypted` of one such provisioning's trace per transport.
# Then the fleet figures (README "Speed"): sustained DownloadProfile rate of the 12 KB package
# through both services over 1,000 linked-in cards for DURATION s, on SQLite and with two
# SM-SR and two SM-DP instances on one PostgreSQL; the latency at half that rate; the stress
# knee. Release build (PROFILE=debug for a debug one). Prints figures; asserts nothing.
#
#   scripts/bench.sh [COUNT] [RUNS]   COUNT round trips with tuning (default 2000), 40 without;
#                                      RUNS provisionings per transport (default 10)
#   FLEET_RATE=60 PG_RATE=20 DURATION=60 SYNC=normal SKIP_TRANSPORT=1 scripts/bench.sh
#   SKIP_FLEET=1 scripts/bench.sh 2000 10     (the transport and provisioning figures only)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${1:-2000}
runs=${2:-10}

profile_dir=${PROFILE:-release}
scripts/install-deps.sh
if [ "$profile_dir" = release ]; then
  cargo build --quiet --release --workspace --bins
else
  cargo build --quiet --workspace --bins
fi
bin=$root/target/$profile_dir
export SMSR_BIN_DIR=$bin
fleet() {
  # The fleet figures: SQLite, then two instances of each service on one PostgreSQL.
  local rate=${FLEET_RATE:-60} pg_rate=${PG_RATE:-20} duration=${DURATION:-60}
  local out=$root/target/bench-fleet template=$shared/testdata/saip-ts48/TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der
  [ -f "$template" ] || { echo "bench: no $template: the fleet figures need it" >&2; return 0; }
  echo "== fleet, SQLite (--db-sync ${SYNC:-normal}): $rate/s, then $((rate / 2))/s, then the stress ramp"
  SMSR_DB_SYNC=${SYNC:-normal} FLEET=1000 RATES=$rate,$((rate / 2)) DURATION=$duration \
    STRESS_RATE=$((rate / 2)) RAMP=1.25 STAGE=15 MAX_STAGES=8 TEMPLATE=$template OUT=$out/sqlite \
    scripts/load-bench.sh || true
  echo "== fleet, two SM-SR and two SM-DP instances on one PostgreSQL (fsync on): $pg_rate/s"
  PG_FSYNC=on FLEET=1000 RATES=$pg_rate DURATION=$duration INSTANCES=2 TEMPLATE=$template \
    OUT=$out/postgres MAX_STAGES=0 scripts/load-bench.sh || true
}
shared=${SMSR_SHARED:-$root/../shared}
if [ -n "${SKIP_TRANSPORT:-}" ]; then
  fleet
  exit 0
fi
export SMSR_RUN_DIR="$root/target/bench-virtual-reader"
rm -rf "$SMSR_RUN_DIR"
trap 'scripts/virtual-reader.sh stop' EXIT
reader=$(scripts/virtual-reader.sh start)
smsr=$bin/smsr

echo "== through pcscd + vpcd, emulator with socket tuning"
"$smsr" --reader "$reader" bench -n "$count"

echo "== through pcscd + vpcd, emulator without socket tuning"
SMSR_EMULATOR_ARGS=--no-socket-tuning scripts/virtual-reader.sh restart-emulator >/dev/null
"$smsr" --reader "$reader" bench -n 40 --warmup 2

echo "== emulator linked in (no pcscd)"
# Another card: the one in the reader is served by its emulator, which holds its state file.
# This one also takes the in-process provisionings below (the reader's card has moved its SCP80
# counter past a new registry's).
"$bin/euicc-emulator" init --state "$SMSR_RUN_DIR/card2.json" --pki "$SMSR_RUN_DIR/pki" \
  --eis-out "$SMSR_RUN_DIR/eis2.json" >/dev/null
"$smsr" --transport emulator --emulator-state "$SMSR_RUN_DIR/card2.json" bench -n "$count"

profile="$shared/testdata/saip-ts48/TS48V5-SAIP2-3-NOBERTLV-UNIQUE.der"
if [ ! -f "$profile" ]; then
  echo "bench: no $profile: a built profile instead" >&2
  profile="$SMSR_RUN_DIR/profile.der"
  "$smsr" profile build --iccid 89882800000000000011 --imsi 001010000000011 \
    --ki 000102030405060708090A0B0C0D0E0F --opc 00112233445566778899AABBCCDDEEFF --out "$profile" >/dev/null
fi
scripts/virtual-reader.sh restart-emulator >/dev/null
# One registry for the reader's card across the runs: SCP81 wakes the card with SCP80 packets,
# whose counters the earlier runs moved.
bench=("$bin/provision-bench" --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis.json"
       --profile "$profile" --runs "$runs" --db "$SMSR_RUN_DIR/bench-reader.db")

echo "== provisioning through pcscd + vpcd (--es5 scp80)"
"${bench[@]}" --reader "$reader"
echo "== provisioning through pcscd + vpcd (--es5 scp03)"
"${bench[@]}" --reader "$reader" --es5 scp03
echo "== provisioning through pcscd + vpcd (--es5 scp81)"
"${bench[@]}" --reader "$reader" --es5 scp81

echo "== provisioning with the emulator linked in (--es5 scp80)"
scripts/virtual-reader.sh stop >/dev/null
"$bin/provision-bench" --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis2.json" \
  --profile "$profile" --runs "$runs" --emulator-state "$SMSR_RUN_DIR/card2.json" \
  --db "$SMSR_RUN_DIR/bench-linked.db"
echo "== provisioning with the emulator linked in (--es5 scp03)"
"$bin/provision-bench" --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis2.json" \
  --profile "$profile" --runs "$runs" --emulator-state "$SMSR_RUN_DIR/card2.json" --es5 scp03 \
  --db "$SMSR_RUN_DIR/bench-linked.db"
echo "== provisioning with the emulator linked in (--es5 scp81)"
"$bin/provision-bench" --smsr "$smsr" --pki "$SMSR_RUN_DIR/pki" --eis "$SMSR_RUN_DIR/eis2.json" \
  --profile "$profile" --runs "$runs" --emulator-state "$SMSR_RUN_DIR/card2.json" --es5 scp81 \
  --db "$SMSR_RUN_DIR/bench-linked.db"

echo "== trace reading: decrypt (every check, the profile extracted) and export of one provisioning"
# The trace and key log of one more linked-in provisioning per transport, read RUNS times each.
median_ms() {
  local i t0 t1
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 || echo "bench: $* failed" >&2
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | sort -n | awk '{a[NR] = $1} END {printf "%.1f", a[int((NR + 1) / 2)] / 1000}'
}
eid2=$(sed -n 's/.*"eid": *"\([0-9A-Fa-f]*\)".*/\1/p' "$SMSR_RUN_DIR/eis2.json" | head -1)
linked=("$smsr" --transport emulator --emulator-state "$SMSR_RUN_DIR/card2.json" --db "$SMSR_RUN_DIR/bench-linked.db")
n=0
for es5 in scp80 scp03 scp81; do
  n=$((n + 1))
  t=$SMSR_RUN_DIR/trace-$es5
  "${linked[@]}" profile personalize "$profile" --iccid "8988289900000000${n}${n}${n}" --out "$t.der" >/dev/null
  secrets=(); [ "$es5" = scp03 ] && secrets=(--trace-secrets)
  "${linked[@]}" --trace "$t.jsonl" --keylog "$t.keys" "${secrets[@]}" provision --eid "$eid2" \
    --profile "$t.der" --pki "$SMSR_RUN_DIR/pki" --es5 "$es5" >/dev/null
  lines=$(wc -l < "$t.jsonl")
  printf '%s: %s trace lines; decrypt --extract-profile %s ms; export --pcap --decrypted %s ms (medians of %s)\n' \
    "$es5" "$lines" \
    "$(median_ms "$smsr" trace decrypt "$t.jsonl" --keylog "$t.keys" --extract-profile "$t.out.der")" \
    "$(median_ms "$smsr" trace export "$t.jsonl" --pcap "$t.pcap" --force --decrypted --keylog "$t.keys")" \
    "$runs"
  cmp -s "$t.der" "$t.out.der" || echo "bench: $es5: the extracted package differs" >&2
done

[ -n "${SKIP_FLEET:-}" ] || fleet
