#!/usr/bin/env bash
# The load test and its report (README "Speed", "Load test and report"): release build,
# `smsr serve sm-sr` over a fleet of emulator cards and `smsr serve sm-dp` on loopback with
# mutual TLS, then `smsr-load`:
#   1. performance: DownloadProfile with enable at each rate of RATES, DURATION s per rate;
#   2. stress: the rate ramped from STRESS_RATE (x RAMP per stage of STAGE s) until a stage
#      breaks the thresholds (an error, or p99 over STRESS_P99_MS) or MAX_STAGES: the knee.
# Each run writes report.json and report.html into OUT/<scenario>/. Every run is bounded in
# count and time; the services listen on 127.0.0.1 only and are stopped at the end.
# TEMPLATE=PACKAGE.der fills the stock with copies of that package (default: built 447-byte
# profiles); INSTANCES=2 runs two SM-SR and two SM-DP instances on one throw-away PostgreSQL
# (scripts/postgres.sh; PG_FSYNC=on for a durable one) instead of SQLite files; MAX_STAGES=0
# skips the stress run; SMSR_DB_SYNC=normal|full is the SQLite durability.
#
#   scripts/load-bench.sh            (FLEET=1000 RATES=5,10,15,20,30 DURATION=30 USERS=100,
#                                     STRESS_RATE=8 RAMP=1.25 STAGE=15 MAX_STAGES=10)
#   FLEET=1000 RATES=10,20 DURATION=60 OUT=/tmp/load scripts/load-bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fleet_size=${FLEET:-1000}
rates=${RATES:-5,10,15,20,30}
duration=${DURATION:-30}
stress_rate=${STRESS_RATE:-8}
ramp=${RAMP:-1.25}
stage=${STAGE:-15}
max_stages=${MAX_STAGES:-10}
p99_ms=${P99_MS:-2000}
stress_p99_ms=${STRESS_P99_MS:-5000}
users=${USERS:-100}
es5=${ES5:-scp80}
instances=${INSTANCES:-1}
template=${TEMPLATE:-}
out=${OUT:-$root/target/load-bench}

[ -n "${SMSR_BIN_DIR:-}" ] || cargo build --quiet --release --workspace --bins
bin=${SMSR_BIN_DIR:-$root/target/release}
smsr=$bin/smsr
load=$bin/smsr-load
work=$(mktemp -d)
pids=()
pg=
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -z "$pg" ] || "$root/scripts/postgres.sh" stop "$work/pg" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# serve LOG ARGS… and url_of LOG.
source "$root/scripts/services.sh"

"$smsr" pki init --dir "$work/pki" >/dev/null
if [ "$instances" -gt 1 ]; then
  # The server runs as its own user when this runs as root: it must reach its directory.
  chmod 755 "$work"
  pg=$("$root/scripts/postgres.sh" start "$work/pg")
  sr_db=$pg dp_db=$pg
else
  sr_db=$work/sr.db dp_db=$work/dp.db
fi
echo "== fleet: $fleet_size cards (smsr fleet init, registered into the SM-SR registry)"
start=$(date +%s%N)
"$smsr" --db "$sr_db" fleet init --dir "$work/fleet" --count "$fleet_size" --pki "$work/pki" >/dev/null
echo "   made and registered in $(( ($(date +%s%N) - start) / 1000000 )) ms"
srs= dps=
for i in $(seq "$instances"); do
  serve "$work/sr$i.log" --db "$sr_db" serve sm-sr --pki "$work/pki" --fleet "$work/fleet" --no-pcsc --es5 "$es5"
  sr=$(url_of "$work/sr$i.log")
  serve "$work/dp$i.log" --db "$dp_db" serve sm-dp --pki "$work/pki" --sm-sr "$sr"
  srs=${srs:+$srs,}$sr dps=${dps:+$dps,}$(url_of "$work/dp$i.log")
done
common=(--sm-dp "$dps" --sm-sr "$srs" --cert "$work/pki/mno.tls.crt.pem" --key "$work/pki/mno.tls.key.pem"
  --fleet "$work/fleet" --stock-db "$dp_db" --users "$users")
[ -z "$template" ] || common+=(--profile-template "$template")

status=0
echo "== performance: rates $rates per second, $duration s each"
"$load" "${common[@]}" --scenario performance --rate "$rates" --duration "$duration" \
  --p99-ms "$p99_ms" --report "$out/performance" || status=$?
if [ "$max_stages" -gt 0 ]; then
echo "== stress: from $stress_rate/s, x$ramp per $stage s stage, at most $max_stages stages"
"$load" "${common[@]}" --scenario stress --rate "$stress_rate" --ramp "$ramp" --duration "$stage" \
  --max-stages "$max_stages" --p99-ms "$stress_p99_ms" --report "$out/stress" || status=$?
fi
echo "reports: $out/*/report.html"
exit "$status"
