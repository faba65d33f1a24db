#!/usr/bin/env bash
# Fuzzes the parsers that read bytes from outside (APDUs, BER-TLV, GlobalPlatform data, SAIP
# packages, SCP03t, SCP80 over SMS-PP, remote scripts, ATRs, the emulator's state file, the
# whole emulated card, the vpcd frames it is served with, and SCP81's BIP, trigger and admin
# HTTP parsers) with cargo-fuzz and libFuzzer.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  how long each target runs (default 60)
#   TARGET   the targets to run (default: all of fuzz/fuzz_targets)
#
# The fuzz package (fuzz/) is its own workspace with its own target directory (fuzz/target),
# so fuzzing never touches the main build. It builds on the stable toolchain: RUSTC_BOOTSTRAP=1
# lets cargo-fuzz pass its unstable flags (AddressSanitizer, sanitizer coverage) to stable
# rustc. cargo-fuzz is installed with `cargo install` when missing.
#
# Each target's corpus (fuzz/corpus/<target>, not under version control) is seeded before the
# run from hex strings in the project's tests, from the TS.48 profile packages in
# ${SMSR_SHARED:-../shared}/testdata/saip-ts48 when present, and from a few hand-written
# inputs; what libFuzzer finds is kept there for the next run. A crashing input is written to
# fuzz/artifacts/<target>/.
#
# Prints, per target, the number of executions and whether it crashed; exits non-zero if any
# target crashed.
#
# Environment: FUZZ_SANITIZER   sanitizer for cargo fuzz (default address; none is faster)
#              FUZZ_RSS_LIMIT_MB libFuzzer's memory limit per target (default 2048)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
fi
shift || true
shared=${SMSR_SHARED:-$root/../shared}
sanitizer=${FUZZ_SANITIZER:-address}
rss_limit=${FUZZ_RSS_LIMIT_MB:-2048}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in fuzz/fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi

# Seeds: each target's corpus directory gets the project's test vectors for its parsers,
# prefixed by each of the target's mode bytes (the first byte of an input selects the parser),
# and hand-written inputs.
seed() {
    python3 - "$root" "$shared" "$@" <<'EOF'
import glob, hashlib, os, re, sys

root, shared, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
src = os.path.join(root, "crates/proto/src")

# target: (mode bytes, or None when the input has no mode byte; source files with vectors)
sources = {
    "apdu_tlv": ([0, 1, 2, 3], ["apdu.rs", "tlv.rs", "gp/*.rs", "sgp02/*.rs"]),
    "gp_responses": ([0, 1, 2, 3], ["gp/*.rs", "gp/*/*.rs", "sgp02/*.rs", "sgp02/*/*.rs"]),
    "saip_package": (None, ["saip/*.rs"]),
    "scp03t": ([0, 2], ["scp03t/*.rs"]),
    "scp80_sms": ([0, 1, 2, 3], ["ota/sms/*.rs", "ota/scp80/*.rs", "ota/card.rs", "ota/compact.rs"]),
    "es5_script": ([0, 1, 2], ["ota/script.rs", "ota/script_tests.rs", "ota/response.rs", "ota/executor*.rs"]),
    "atr": (None, ["atr.rs"]),
    "emulator_state": (None, []),
    "emulator_apdu": (None, []),
    "vpcd_frames": (None, []),
    "bip_scp81": ([0, 1, 2, 3, 6], ["cat/*.rs", "cat.rs", "scp81/*.rs"]),
}

# Hand-written inputs (hex), mode byte included where the target has one.
hand = {
    "apdu_tlv": [
        "0000A4040008A000000151000000",        # SELECT ISD, case 4
        "0080CA006600",                        # GET DATA 66, case 2
        "0000E2910003000000012A",              # extended case 3
        "009000", "00",
        "01E3124F07A00000015100009F700107C5039EFE80",
        "025A1089049032123451234512345678901235",
        "037F218201AB9301",
    ],
    "gp_responses": [
        "00661A7318060A2A864886FC6B01600C060A2A864886FC6B02020101",
        "009F7F2A4090",
        "005A1089049032123451234512345678901235",
        "010080CA006600",
        "0100A4040008A000000151000000",
        "0180F24002024F0000",
        "0180E60C001505A00000015106A000000151009007C00100C9000000",
        "026F108408A000000151000000A5049F6501FF",
        "02E3124F07A00000015100009F700107C5039EFE80",
        "0207A00000015100000700",
        "0301",
        "03C00102C20100",
        "0300000203ABCDEF0101030102",
    ],
    "saip_package": [
        "A0198001028101008207544553542D3031830AB0000000000000000000F0",
        "AA03800100",
        "A00B800101A1060400060101",
        "3012A00D300B800100810200008202010081009000",
    ],
    "scp03t": [
        "00840A3000FDF38259A1E0DE44",
        "01FAA0058003020100A106A00480020000AA03800100",
        "01010203",
        "0284200000000000000000000030037000000000000000000000000000000000000001",
        "02850086009F4401019F450102",
    ],
    "scp80_sms": [
        "0044048160420000702011710000000000000D027000000812000000B00000000001",
        "00010005912143F500F50A027000000102030405",
        "01001015000000B0000000000000000000AA068001000000",
        "02001015000000B000000000000001000000AA0A22088000000000",
        "020012150000000000010000000000000102030405",
        "0320080C2000D11E82028381060591214365870B12440581214365F67F0000000000000102027000",
        "03",
    ],
    "es5_script": [
        "00AA0A22080080CA006600",
        "00AE80220400B0000080CA006600210100000000",
        "00AA0683011122040080CA0066",
        "01AB0780010123029000",
        "01AB0D80010223089F7F2A400090009000",
        "01AF8080010123029000000000",
        "020500A404000005000000000000",
        "0201029000",
    ],
    "atr": [
        "3B8F801FC78031E073FE211B633A204E8300900015",
        "3B9F96801FC78031E073FE211B63F100AD830F9000B1",
        "3B00", "3F2400",
    ],
    "emulator_apdu": [
        # SELECT ISD-R, GET DATA EID via the ECASD, GET STATUS, an unknown INS.
        "1500A4040010A0000005591010FFFFFFFF8900000100",
        "1500A4040010A0000005591010FFFFFFFF890000020005" "80CA005A00",
        "0C80F24002024F0000" "0500A4000002" "05" "8050300008" "04" "00C00000",
        "0800700000010000" "0501A4040000",
        "0D8050300008FDF38259A1E0DE4400",
    ],
    "emulator_state": [],
    # HTTP messages as the card and the admin server send them (piece size 1 and 237).
    "bip_scp81": [
        "04ED" + "POST /smsr/es5 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\nContent-Length: 0\r\n\r\n".encode().hex(),
        "0501" + "HTTP/1.1 200 OK\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\nX-Admin-Next-URI: /smsr/es5?step=1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nAA0100\r\n0\r\n\r\n".encode().hex(),
        "05ED" + "HTTP/1.1 204 No Content\r\nX-Admin-Protocol: globalplatform-remote-admin/1.0\r\n\r\n".encode().hex(),
    ],
    # vpcd frames: power on, ATR, SELECT ECASD, GET DATA EID, reset, power off.
    "vpcd_frames": [
        "000101" "000104" "001500A4040010A0000005591010FFFFFFFF8900000200" "000580CA005A00"
        "000102" "000100",
        "0000" "00010700",
    ],
}

json_seeds = [
    '{"version": 3, "eid": "89049032123451234512345678901235", "registry": [], "notifications": []}',
    '{"version": 2, "eid": "89049032123451234512345678901235", "registry": [{"kind": "application", "aid": "A0000005591010FFFFFFFF8900001000", "life_cycle": "3F", "privileges": "80C000", "associated_sd": "A0000005591010FFFFFFFF8900000100"}]}',
    '{"version": 1, "eid": "89049032123451234512345678901235", "atr": "3B8F801FC78031E073FE211B633A204E8300900015"}',
    '{}', '[]', '{"version": 3}',
]

hexlit = re.compile(r'"((?:[0-9A-Fa-f]{2}){2,})"')

def put(d, data):
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

for t in targets:
    d = os.path.join(root, "fuzz/corpus", t)
    os.makedirs(d, exist_ok=True)
    modes, pats = sources.get(t, (None, []))
    vectors = set()
    for p in pats:
        for path in glob.glob(os.path.join(src, p)):
            with open(path, encoding="utf-8") as f:
                vectors.update(bytes.fromhex(m) for m in hexlit.findall(f.read()))
    for v in sorted(vectors)[:400]:
        for m in (modes or [None]):
            put(d, v if m is None else bytes([m]) + v)
    for h in hand.get(t, []):
        try:
            put(d, bytes.fromhex(h))
        except ValueError:
            print(f"{t}: bad hand-written seed {h}", file=sys.stderr)
    if t == "emulator_state":
        for j in json_seeds:
            put(d, j.encode())
    if t == "saip_package":
        for der in glob.glob(os.path.join(shared, "testdata/saip-ts48/*.der")):
            with open(der, "rb") as f:
                put(d, f.read())
    print(f"{t}: {len(os.listdir(d))} inputs in fuzz/corpus/{t}", file=sys.stderr)
EOF
}

seed "${targets[@]}"

build_start=$(date +%s)
if [ $# -gt 0 ]; then
    for t in "${targets[@]}"; do
        cargo fuzz build --fuzz-dir fuzz -O -s "$sanitizer" "$t"
    done
else
    cargo fuzz build --fuzz-dir fuzz -O -s "$sanitizer"
fi
echo "build: $(( $(date +%s) - build_start )) s (sanitizer $sanitizer)"

logs=$(mktemp -d "${TMPDIR:-/tmp}/smsr-fuzz.XXXXXX")
failed=()
printf '%-16s %12s %8s  %s\n' target executions result log
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    mkdir -p "fuzz/artifacts/$t"
    status=0
    cargo fuzz run --fuzz-dir fuzz -O -s "$sanitizer" "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb="$rss_limit" -print_final_stats=1 \
        >"$log" 2>&1 || status=$?
    execs=$(grep 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result=CRASHED
        failed+=("$t")
    fi
    printf '%-16s %12s %8s  %s\n' "$t" "$execs" "$result" "$log"
    if [ "$status" -ne 0 ]; then
        grep -E -m 5 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer|Test unit written to" \
            "$log" | sed 's/^/    /' || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/<target>/, logs in $logs)" >&2
    exit 1
fi
