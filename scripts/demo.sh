#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs the dependencies, builds smsr and the eUICC
# emulator, starts the virtual reader (pcscd + vpcd + emulator) and reads the card's EID through
# PC/SC. The virtual reader keeps running afterwards; stop it with scripts/virtual-reader.sh stop.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

scripts/install-deps.sh
cargo build --workspace --bins
reader=$(scripts/virtual-reader.sh start)
target/debug/smsr --reader "$reader" info
echo "demo: the virtual reader is still running; try: target/debug/smsr --reader \"$reader\" doctor" >&2
echo "demo: stop it with: scripts/virtual-reader.sh stop" >&2
