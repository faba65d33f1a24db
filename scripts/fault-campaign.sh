#!/usr/bin/env bash
# The full fault campaign: `smsr provision` (--transport emulator) with each fault kind — lost
# response, failed transmit, card reset, corrupted response, process aborted before or after the
# card handled the command — at every APDU exchange of the ES5 link, over scp80, scp03 and scp81
# (and the SCP81 TCP connection cut after each of the card's first POSTs); after
# each, `smsr audit` must reconcile and the profile must end on the card exactly once (with a
# retry when the faulted run did not get it there). Prints the counts. The test suite runs a
# sample of the same (tests/fault_campaign.rs).
#
#   scripts/fault-campaign.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SMSR_FAULT_CAMPAIGN=full cargo test --quiet --test fault_campaign -- --nocapture
