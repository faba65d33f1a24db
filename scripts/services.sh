# Sourced by the bench scripts: starting `smsr serve` on loopback and reading its URL. The
# caller sets `smsr` (the binary) and the array `pids` (its cleanup stops them).

# Starts a service writing to log $1 (in the caller's shell, so its pid is kept for the
# cleanup): `serve LOG ARGS…` runs `$smsr ARGS… --listen 127.0.0.1:0`.
serve() {
  local log=$1; shift
  "$smsr" "$@" --listen 127.0.0.1:0 >"$log" 2>"$log.err" &
  pids+=($!)
}

# The URL a service printed in its log (waiting up to 10 s for it).
url_of() {
  for _ in $(seq 200); do
    grep -q "listening on" "$1" 2>/dev/null && break
    sleep 0.05
  done
  sed -n 's/.* listening on //p' "$1"
}
