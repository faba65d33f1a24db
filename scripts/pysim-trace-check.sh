#!/usr/bin/env bash
# Interoperability check with pySim-trace (osmocom/pysim), a trace decoder we did not write:
# a session with the bundled emulator linked in (no pcscd needed) is exported with
# `smsr trace export --pcap` and read by `pySim-trace.py gsmtap-pyshark-pcap`, then run again
# with `--gsmtap` while `pySim-trace.py gsmtap-udp` listens on 127.0.0.1:4729. Both must decode
# the SELECTs of the ISD-R and the ECASD (a 61xx and its GET RESPONSE joined into one) and
# the ENVELOPE.
#
#   PYSIM=/path/to/pysim-checkout PYTHON=/path/to/venv/bin/python scripts/pysim-trace-check.sh
#
# PYSIM is a checkout of https://gitea.osmocom.org/sim-card/pysim with its requirements and
# pyshark installed in the Python given; tshark must be on PATH (scripts/install-deps.sh).
# pySim-trace's gsmtap-udp source binds the default port only (its -p gives a string to bind),
# so UDP port 4729 must be free. Not part of scripts/test.sh: pySim is not a Debian package.
# Prints pySim's output; exits non-zero when a check fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${PYSIM:?set PYSIM to a pysim checkout}"
python=${PYTHON:-python3}
command -v tshark >/dev/null || { echo "pysim-trace-check: tshark not found (scripts/install-deps.sh)" >&2; exit 1; }
cargo build --quiet --workspace --bins
work=$(mktemp -d)
listener=""
cleanup() {
  if [ -n "$listener" ]; then kill "$listener" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
smsr=target/debug/smsr
target/debug/euicc-emulator init --state "$work/card.json" >/dev/null
session() {
  "$smsr" --transport emulator --emulator-state "$work/card.json" "$@" info >/dev/null
  # SELECT ISD-R without Le (61xx, GET RESPONSE), and an ENVELOPE the card refuses.
  "$smsr" --transport emulator --emulator-state "$work/card.json" "$@" apdu --keep-going \
    00A4040010A0000005591010FFFFFFFF8900000100 80C2000009D10782020183060100 >/dev/null 2>&1 || true
}

fail=0
check() {
  grep -q "$2" "$1" || { echo "pysim-trace-check: $3: missing: $4" >&2; fail=1; }
}
checks() {
  check "$1" "SELECT.*ADF.ISD-R.*9000" "$2" "the SELECT of the ISD-R"
  check "$1" "SELECT.*ADF.ECASD.*9000" "$2" "the SELECT of the ECASD"
  check "$1" "ENVELOPE.*6a80.*smspp_download" "$2" "the ENVELOPE (SMS-PP download)"
}

session --trace "$work/t.jsonl"
"$smsr" trace export "$work/t.jsonl" --pcap "$work/t.pcap"
"$python" "$PYSIM/pySim-trace.py" --no-suppress-select gsmtap-pyshark-pcap -f "$work/t.pcap" \
  >"$work/pcap.out" 2>&1 || true
cat "$work/pcap.out"
checks "$work/pcap.out" "pcap"
check "$work/pcap.out" "APDUs parsed, stop iteration" "pcap" "the end of the file reached"

"$python" "$PYSIM/pySim-trace.py" --no-suppress-select gsmtap-udp >"$work/live.out" 2>&1 &
listener=$!
for _ in $(seq 1 120); do
  grep -q "Entering main loop" "$work/live.out" && break
  kill -0 "$listener" 2>/dev/null || break
  sleep 0.5
done
session --gsmtap 127.0.0.1
sleep 2
kill "$listener" 2>/dev/null || true
wait "$listener" 2>/dev/null || true
listener=""
cat "$work/live.out"
checks "$work/live.out" "live"

[ "$fail" = 0 ] && echo "pysim-trace-check: pySim-trace read the exported pcap and the live GSMTAP frames"
exit "$fail"
