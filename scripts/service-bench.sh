#!/usr/bin/env bash
# The service latency benchmark: `smsr serve sm-sr` and `smsr serve sm-dp` on loopback with
# mutual TLS, and N DownloadProfile orders (ES2, as the MNO) one after another, each timed from
# request to result by `service-bench`:
#   1. a fleet of N emulator cards linked into the SM-SR (one order per card);
#   2. the card of the virtual reader (pcscd + vpcd + euicc-emulator), N orders into it.
# Both over --es5 scp80, with enableProfile. Prints figures; asserts nothing.
#
#   scripts/service-bench.sh [N]      (default 20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${1:-20}

scripts/install-deps.sh
cargo build --quiet --workspace --bins
smsr=$root/target/debug/smsr
emulator=$root/target/debug/euicc-emulator
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  SMSR_RUN_DIR="$work/vr" SMSR_VPCD_PORT=35964 scripts/virtual-reader.sh stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# serve LOG ARGS… and url_of LOG.
source "$root/scripts/services.sh"

eid_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eid"])' "$1"; }

mno=(--cert "$work/pki/mno.tls.crt.pem" --key "$work/pki/mno.tls.key.pem")
eum=(--cert "$work/pki/eum.tls.crt.pem" --key "$work/pki/eum.tls.key.pem")
"$smsr" pki init --dir "$work/pki" >/dev/null

# Builds N profiles into the stock of $1 with ICCIDs from prefix $2; prints the ICCIDs.
stock() {
  local db=$1 prefix=$2
  for i in $(seq -w 1 "$n"); do
    local iccid="${prefix}${i}" imsi="0010100000${prefix: -3}${i}"
    "$smsr" profile build --iccid "$iccid" --imsi "${imsi:0:15}" --ki 000102030405060708090A0B0C0D0E0F \
      --opc 00112233445566778899AABBCCDDEEFF --out "$work/p-$iccid.der" >/dev/null
    "$smsr" --db "$db" stock add "$work/p-$iccid.der" >/dev/null
    echo "$iccid"
  done
}

echo "== DownloadProfile through both services, a fleet of $n cards linked into the SM-SR"
mkdir -p "$work/fleet"
for i in $(seq -w 1 "$n"); do
  "$emulator" init --state "$work/fleet/card-$i.json" --pki "$work/pki" --eis-out "$work/eis-$i.json" >/dev/null
done
serve "$work/sr.out" --db "$work/sr.db" serve sm-sr --pki "$work/pki" --fleet "$work/fleet" --no-pcsc
sr=$(url_of "$work/sr.out")
serve "$work/dp.out" --db "$work/dp.db" serve sm-dp --pki "$work/pki" --sm-sr "$sr"
dp=$(url_of "$work/dp.out")
: >"$work/orders"
mapfile -t iccids < <(stock "$work/dp.db" 898828000000000000)
i=0
for eis in "$work"/eis-*.json; do
  "$smsr" eum register "$eis" --sm-sr "$sr" "${eum[@]}" >/dev/null
  eid=$(eid_of "$eis")
  echo "$eid ${iccids[$i]}" >>"$work/orders"
  i=$((i + 1))
done
target/debug/service-bench --sm-dp "$dp" "${mno[@]}" --orders "$work/orders" --enable
for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

echo "== DownloadProfile through both services, the virtual reader's card (pcscd + vpcd)"
export SMSR_RUN_DIR="$work/vr" SMSR_VPCD_PORT=35964
mkdir -p "$SMSR_RUN_DIR"
cp -r "$work/pki" "$SMSR_RUN_DIR/pki"
scripts/virtual-reader.sh start >/dev/null
serve "$work/sr2.out" --db "$work/sr2.db" serve sm-sr --pki "$work/pki"
sr=$(url_of "$work/sr2.out")
serve "$work/dp2.out" --db "$work/dp2.db" serve sm-dp --pki "$work/pki" --sm-sr "$sr"
dp=$(url_of "$work/dp2.out")
"$smsr" eum register "$SMSR_RUN_DIR/eis.json" --sm-sr "$sr" "${eum[@]}" >/dev/null
eid=$(eid_of "$SMSR_RUN_DIR/eis.json")
: >"$work/orders2"
for iccid in $(stock "$work/dp2.db" 898828000000000001); do echo "$eid $iccid" >>"$work/orders2"; done
target/debug/service-bench --sm-dp "$dp" "${mno[@]}" --orders "$work/orders2" --enable
