#!/usr/bin/env bash
# Starts, stops or reports the virtual reader: pcscd with vsmartcard's vpcd driver, and the bundled
# eUICC emulator connected to it as the card in "Virtual PCD 00 00".
#
#   scripts/virtual-reader.sh start     start pcscd (unless one runs already) and the emulator,
#                                       wait until the card is present
#   scripts/virtual-reader.sh stop      stop what `start` started, nothing else
#   scripts/virtual-reader.sh status    say what runs
#   scripts/virtual-reader.sh restart-emulator | restart-pcscd    (used by the tests)
#   scripts/virtual-reader.sh stop-emulator | start-emulator     the card out of the reader, e.g.
#                                       to change its state file (`euicc-emulator profile-add`
#                                       refuses a card the emulator serves), and back in
#
# Environment: SMSR_RUN_DIR (pid files, logs, card state, its PKI and EIS; default
# target/virtual-reader),
# SMSR_EMULATOR_STATE (card state file; default $SMSR_RUN_DIR/card.json),
# SMSR_VPCD_PORT (35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01"),
# SMSR_EMULATOR_ARGS (extra options for `euicc-emulator run`, e.g. --no-socket-tuning).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run_dir=${SMSR_RUN_DIR:-$root/target/virtual-reader}
state=${SMSR_EMULATOR_STATE:-$run_dir/card.json}
port=${SMSR_VPCD_PORT:-35963}
bin_dir=${SMSR_BIN_DIR:-$root/target/debug}
emulator="$bin_dir/euicc-emulator"
smsr="$bin_dir/smsr"
if [ "$port" = 35964 ]; then reader="Virtual PCD 00 01"; else reader="Virtual PCD 00 00"; fi

log() { echo "virtual-reader: $*" >&2; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

listening() { ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; }

pcscd_running() { pgrep -x pcscd >/dev/null 2>&1; }

build() {
  if [ ! -x "$emulator" ] || [ ! -x "$smsr" ] || [ -n "${SMSR_REBUILD:-}" ]; then
    log "building smsr and euicc-emulator"
    (cd "$root" && cargo build --quiet --bin smsr --bin euicc-emulator)
  fi
}

start_pcscd() {
  if pcscd_running; then
    log "pcscd already running (not started by this script)"
  else
    [ -f /etc/reader.conf.d/vpcd ] || { log "vpcd driver not configured (/etc/reader.conf.d/vpcd missing): run scripts/install-deps.sh"; exit 1; }
    mkdir -p /run/pcscd 2>/dev/null || true
    log "starting pcscd"
    pcscd --foreground >"$run_dir/pcscd.log" 2>&1 &
    echo $! >"$run_dir/pcscd.pid"
  fi
  for _ in $(seq 1 100); do listening && return 0; sleep 0.1; done
  log "pcscd does not listen on port $port: is the vpcd driver installed? (see $run_dir/pcscd.log)"
  exit 1
}

start_emulator() {
  if alive "$run_dir/emulator.pid"; then log "emulator already running"; return 0; fi
  # vpcd takes one card per port: another emulator (another run directory) would keep it.
  if ss -Htn state established "dport = :$port" 2>/dev/null | grep -q .; then
    log "another card is already connected to $reader (port $port), e.g. the demo's emulator:"
    log "stop it (SMSR_RUN_DIR=<its run dir> scripts/virtual-reader.sh stop) or use the other"
    log "reader (SMSR_VPCD_PORT=35964)"
    exit 1
  fi
  if [ ! -f "$state" ]; then
    # A card personalized the way an EUM does it, with a test PKI (CI, EUM, SM-DP, SM-SR) and
    # the EIS the SM-SR registers, both kept in the run directory.
    [ -f "$run_dir/pki/ci.cert.der" ] || "$smsr" pki init --dir "$run_dir/pki" >/dev/null
    "$emulator" init --state "$state" --pki "$run_dir/pki" --eis-out "$run_dir/eis.json" >/dev/null
    log "new card state in $state (PKI in $run_dir/pki, EIS in $run_dir/eis.json)"
  fi
  log "starting euicc-emulator on 127.0.0.1:$port"
  # SMSR_EMULATOR_ARGS: extra options for `euicc-emulator run` (e.g. --no-socket-tuning).
  # shellcheck disable=SC2086
  RUST_LOG=${RUST_LOG:-info} "$emulator" run --state "$state" --vpcd "127.0.0.1:$port" ${SMSR_EMULATOR_ARGS:-} >>"$run_dir/emulator.log" 2>&1 &
  echo $! >"$run_dir/emulator.pid"
}

# Ready when a program can connect to the card and read its EID: pcscd's reader state alone can
# still show the previous card for a moment after the emulator was replaced.
wait_card() {
  for _ in $(seq 1 150); do
    if "$smsr" --reader "$reader" info --json >/dev/null 2>&1; then
      log "card present in \"$reader\""
      return 0
    fi
    alive "$run_dir/emulator.pid" || { log "emulator exited (see $run_dir/emulator.log)"; exit 1; }
    sleep 0.1
  done
  log "no card in \"$reader\" after 15 s (see $run_dir/emulator.log and $run_dir/pcscd.log)"
  exit 1
}

# After the emulator stopped: wait until pcscd has seen the card go.
wait_no_card() {
  for _ in $(seq 1 50); do
    "$smsr" --reader "$reader" readers --json 2>/dev/null | grep -q '"card_present": *true' || return 0
    sleep 0.1
  done
  log "pcscd still reports a card in \"$reader\" 5 s after the emulator stopped"
}

stop_pid() {
  local f="$run_dir/$1.pid"
  if alive "$f"; then
    local pid; pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $1 ($pid)"
  fi
  rm -f "$f"
}

mkdir -p "$run_dir"
case "${1:-}" in
  start) build; start_pcscd; start_emulator; wait_card; echo "$reader" ;;
  stop) stop_pid emulator; stop_pid pcscd ;;
  status)
    if pcscd_running; then echo "pcscd: running$(alive "$run_dir/pcscd.pid" && echo ' (started here)')"; else echo "pcscd: not running"; fi
    if alive "$run_dir/emulator.pid"; then echo "emulator: running, state $state"; else echo "emulator: not running"; fi
    ;;
  restart-emulator) stop_pid emulator; wait_no_card; start_emulator; wait_card ;;
  stop-emulator) stop_pid emulator; wait_no_card ;;
  start-emulator) build; start_emulator; wait_card ;;
  restart-pcscd)
    alive "$run_dir/pcscd.pid" || { log "pcscd was not started by this script: not restarting it"; exit 1; }
    stop_pid pcscd; start_pcscd; wait_card ;;
  *) echo "usage: $0 start|stop|status|restart-emulator|restart-pcscd|stop-emulator|start-emulator" >&2; exit 2 ;;
esac
