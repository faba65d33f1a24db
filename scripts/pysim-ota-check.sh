#!/usr/bin/env bash
# Independent check of `smsr trace decrypt`'s SCP80 layer with pySim's OTA code (osmocom/pysim,
# pySim/ota.py and pySim/sms.py), which we did not write: a provisioning with the bundled
# emulator linked in (no pcscd needed) is recorded with --trace and --keylog; then, for every
# SMS-PP download ENVELOPE, scripts/pysim_ota_check.py reads the SMS-DELIVER and its user data
# header with pySim.sms, joins concatenated parts and opens the command packet with the key
# log's SCP80 keys twice: with pySim's OtaDialectSms.decode_cmd (deciphers, verifies the CC,
# strips the padding) and by hand with pycryptodomex (AES-CBC with KIc and a zero IV, AES-CMAC
# with KID: counter, padding count and CC). Every PoR is decoded with OtaDialectSms.decode_resp
# (deciphered, CC verified) with the SPI of its packet. Both are compared with the `scp80` and
# `por` layers of `smsr trace decrypt --json` (data, header, counter, status).
#
#   PYSIM=/path/to/pysim-checkout PYTHON=/path/to/venv/bin/python scripts/pysim-ota-check.sh [DIR]
#
# PYSIM is a checkout of https://gitea.osmocom.org/sim-card/pysim with its requirements
# installed in the Python given (PYTHON, default python3). DIR, when given, keeps the run's
# files there (an empty or new directory: PKI, card state, registry, profile, trace t.jsonl, key log k.keys, decrypt
# output dec.jsonl); by default a temporary directory is used and removed. Not part of
# scripts/test.sh: pySim is not a Debian package. Prints one line per packet and a summary
# ("N packets, M PoRs: all agree"); exits non-zero on any disagreement.
set -euo pipefail
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -*) usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
[ -n "${PYSIM:-}" ] || { echo "pysim-ota-check: set PYSIM to a pysim checkout" >&2; usage >&2; exit 2; }
[ -f "$PYSIM/pySim/ota.py" ] || { echo "pysim-ota-check: $PYSIM/pySim/ota.py not found" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
cargo build --quiet --workspace --bins
if [ $# -eq 1 ]; then
  work=$1
  if [ -e "$work" ] && [ -n "$(ls -A "$work")" ]; then
    echo "pysim-ota-check: $work is not empty" >&2
    exit 2
  fi
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
smsr=target/debug/smsr
emu=(--transport emulator --emulator-state "$work/card.json" --db "$work/smsr.db")
"$smsr" pki init --dir "$work/pki" >/dev/null
target/debug/euicc-emulator init --state "$work/card.json" --pki "$work/pki" \
  --eis-out "$work/eis.json" >/dev/null
"$smsr" "${emu[@]}" eis register "$work/eis.json" >/dev/null
"$smsr" "${emu[@]}" profile build --iccid 89882800000000000011 --imsi 001010000000011 \
  --ki 11223344556677889900AABBCCDDEEFF --opc 000102030405060708090A0B0C0D0E0F \
  --out "$work/p.der" >/dev/null
eid=$("$python" -c "import json,sys; print(json.load(open(sys.argv[1]))['eid'])" "$work/eis.json")
"$smsr" "${emu[@]}" --trace "$work/t.jsonl" --keylog "$work/k.keys" provision --eid "$eid" \
  --profile "$work/p.der" --pki "$work/pki" >/dev/null
"$smsr" trace decrypt "$work/t.jsonl" --keylog "$work/k.keys" --json >"$work/dec.jsonl"
"$python" scripts/pysim_ota_check.py --pysim "$PYSIM" --trace "$work/t.jsonl" \
  --keylog "$work/k.keys" --decrypted "$work/dec.jsonl"
