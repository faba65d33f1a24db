#!/usr/bin/env bash
# Runs all the tests: installs what they need, starts the virtual reader (pcscd + vpcd + the
# bundled emulator) and a throw-away PostgreSQL cluster (scripts/postgres.sh), runs the whole
# workspace's tests with the virtual-reader and PostgreSQL tests enabled, and stops what it
# started.
#
# Environment: SMSR_REQUIRE_TESTDATA=1 turns "skipped: no ../shared/testdata" into a failure.
#              SMSR_TEST_REAL_READER=<reader> also runs the real-card tests against that reader.
#              SMSR_REQUIRE_POSTGRES=1 turns "skipped: SMSR_TEST_POSTGRES not set" into a failure.
#              SMSR_FUZZ_SECONDS=N runs each fuzz target N s at the end (default 3; 0: none).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
cargo build --workspace --bins

# The virtual reader's card is the tests' own: a fresh state in its own run directory, in the
# second vpcd slot ("Virtual PCD 00 01"), so a card left in the first one (scripts/demo.sh
# leaves its emulator running there) does not get in the way.
export SMSR_RUN_DIR="$root/target/test-virtual-reader"
export SMSR_VPCD_PORT=35964
rm -rf "$SMSR_RUN_DIR"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/smsr-test-pg.XXXXXX")
trap 'scripts/virtual-reader.sh stop; scripts/postgres.sh stop "$pg_dir"' EXIT
scripts/virtual-reader.sh start >/dev/null
SMSR_TEST_POSTGRES=$(scripts/postgres.sh start "$pg_dir")
export SMSR_TEST_POSTGRES

export SMSR_TEST_VPCD_READER="Virtual PCD 00 01"
export SMSR_REQUIRE_VPCD=1
export SMSR_REQUIRE_CHROMIUM=1
# The SCP81 interop tests against `openssl s_client` / `s_server` (the openssl package).
export SMSR_REQUIRE_OPENSSL=1
# tests/trace_export.rs reads `smsr trace export`'s pcap files with tshark (Wireshark's gsm_sim).
export SMSR_REQUIRE_TSHARK=1
cargo test --workspace

# A short run of every fuzz target (scripts/fuzz.sh; without a sanitizer: the project's code is
# safe Rust, and the instrumented build is quicker). The long campaign is scripts/fuzz.sh alone.
fuzz_seconds=${SMSR_FUZZ_SECONDS:-3}
if [ "$fuzz_seconds" != 0 ]; then
  FUZZ_SANITIZER=none scripts/fuzz.sh "$fuzz_seconds"
fi
