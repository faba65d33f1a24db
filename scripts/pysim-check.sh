#!/usr/bin/env bash
# Interoperability check with pySim-shell (osmocom/pysim), a SIM toolbox we did not write:
# against the bundled emulator in the virtual reader, pySim-shell starts (it picks T=0 from the
# ATR and detects an SGP.02 eUICC), reads the EID from the ECASD, opens SCP03 (security level 3,
# C-MAC and C-DECRYPTION) on the ISD-R with the card's keys and lists it with get_status.
#
#   PYSIM=/path/to/pysim-checkout PYTHON=/path/to/venv/bin/python scripts/pysim-check.sh
#
# PYSIM is a checkout of https://gitea.osmocom.org/sim-card/pysim with its requirements
# installed in the Python given (pyscard needs swig and libpcsclite-dev to build). Not part of
# scripts/test.sh: pySim is not a Debian package. Prints pySim's output; exits non-zero when a
# step did not give what it should.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${PYSIM:?set PYSIM to a pysim checkout}"
python=${PYTHON:-python3}
cargo build --quiet --workspace --bins
export SMSR_RUN_DIR=${SMSR_RUN_DIR:-$root/target/pysim-check}
rm -rf "$SMSR_RUN_DIR"
trap 'scripts/virtual-reader.sh stop >/dev/null' EXIT
reader=$(scripts/virtual-reader.sh start)
index=$("$python" -c "from smartcard.System import readers; print([str(r) for r in readers()].index('$reader'))")
keys=$(target/debug/euicc-emulator keys --state "$SMSR_RUN_DIR/card.json" --json)
key() { "$python" -c "import json,sys; print(json.loads(sys.argv[1])['keysets'][0]['$1'])" "$keys"; }
eid=$(target/debug/smsr --reader "$reader" --json info | "$python" -c "import json,sys; print(json.load(sys.stdin)['eid'].lower())")
script=$(mktemp)
cat >"$script" <<SCRIPT
set apdu_trace true
select ADF.ECASD
apdu 80CA005A00
select ADF.ISD-R
establish_scp03 --key-ver 0x30 --key-enc $(key enc) --key-mac $(key mac) --key-dek $(key dek) --security-level 3
get_status isd
get_status applications
release_scp
SCRIPT
out=$(mktemp)
"$python" "$PYSIM/pySim-shell.py" -p "$index" --script "$script" --noprompt 2>&1 | tee "$out"
fail=0
check() { grep -q "$1" "$out" || { echo "pysim-check: missing: $2" >&2; fail=1; }; }
check "Card is of type: M2M eUICC (SGP.02)" "card type detected as an SGP.02 eUICC"
check "5a10$eid" "the EID read from the ECASD"
check "Successfully established a SCP03" "SCP03 on the ISD-R"
check '"application_aid": "a0000005591010ffffffff8900000100"' "the ISD-R in get_status isd"
check '"application_aid": "a0000005591010ffffffff8900000200"' "the ECASD in get_status applications"
rm -f "$script" "$out"
[ "$fail" = 0 ] && echo "pysim-check: pySim-shell read the EID, opened SCP03 on the ISD-R and listed it"
exit "$fail"
