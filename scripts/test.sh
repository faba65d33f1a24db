#!/usr/bin/env bash
# Runs all the tests: installs what they need, starts the virtual reader (pcscd + vpcd + the
# bundled emulator), runs the whole workspace's tests with the virtual-reader tests enabled, and
# stops what it started.
#
# Environment: SMSR_REQUIRE_TESTDATA=1 turns "skipped: no ../shared/testdata" into a failure.
#              SMSR_TEST_REAL_READER=<reader> also runs the real-card tests against that reader.
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
trap 'scripts/virtual-reader.sh stop' EXIT
scripts/virtual-reader.sh start >/dev/null

export SMSR_TEST_VPCD_READER="Virtual PCD 00 01"
export SMSR_REQUIRE_VPCD=1
export SMSR_REQUIRE_CHROMIUM=1
cargo test --workspace
