#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs the dependencies, builds smsr and the eUICC
# emulator, starts the virtual reader (pcscd + vpcd + an emulator card personalized by a test
# EUM), reads the card's EID through PC/SC, registers its EIS with the SM-SR, builds a profile
# and provisions it: CreateISDP, key establishment, SCP03t download, enable, notifications and
# a USIM AUTHENTICATE check, each step timed; then `smsr profile check` once more on its own. Every run starts from a new card. The virtual
# reader keeps running afterwards; stop it with scripts/virtual-reader.sh stop.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
cargo build --workspace --bins

export SMSR_RUN_DIR="$root/target/virtual-reader"
scripts/virtual-reader.sh stop >/dev/null 2>&1 || true
rm -rf "$SMSR_RUN_DIR"
reader=$(scripts/virtual-reader.sh start)
smsr=(target/debug/smsr --reader "$reader" --db "$SMSR_RUN_DIR/smsr.db")

"${smsr[@]}" info
eid=$("${smsr[@]}" info --json | sed -n 's/.*"eid": *"\([0-9A-Fa-f]*\)".*/\1/p')
"${smsr[@]}" eis register "$SMSR_RUN_DIR/eis.json"
"${smsr[@]}" profile build --iccid 89882800000000000011 --imsi 001010000000011 \
  --ki 000102030405060708090A0B0C0D0E0F --opc 00112233445566778899AABBCCDDEEFF \
  --out "$SMSR_RUN_DIR/profile.der" >/dev/null
"${smsr[@]}" provision --eid "$eid" --profile "$SMSR_RUN_DIR/profile.der" --pki "$SMSR_RUN_DIR/pki"
# The proof on its own: the enabled profile's USIM answers AUTHENTICATE with the SM-DP's K/OPc.
"${smsr[@]}" profile check --eid "$eid" --profile "$SMSR_RUN_DIR/profile.der"
"${smsr[@]}" audit --eid "$eid"

echo "demo: the virtual reader is still running; try: target/debug/smsr --reader \"$reader\" --db $SMSR_RUN_DIR/smsr.db eis show $eid" >&2
echo "demo: stop it with: scripts/virtual-reader.sh stop" >&2
