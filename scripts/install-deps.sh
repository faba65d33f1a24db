#!/usr/bin/env bash
# Installs what smsr needs on a Debian (or Ubuntu) machine: pcscd, vsmartcard's virtual reader
# driver (vpcd), the PC/SC headers the Rust `pcsc` crate links against, the OpenSSL headers the
# `openssl` crate links against (SCP81: TLS 1.2 with pre-shared keys) and the openssl tool (the
# SCP81 interop tests), pcsc-tools (scriptor,
# pcsc_scan) used by the tests as an independent PC/SC client, PostgreSQL (the server the tests
# start a throw-away cluster of, for the PostgreSQL registry and stock), chromium, in which
# the load report test opens report.html headless, and tshark, which reads the pcap files of
# `smsr trace export` in the tests. Skips apt-get when all are present.
set -euo pipefail

packages=(pcscd vsmartcard-vpcd libpcsclite-dev libssl-dev openssl pcsc-tools pkg-config postgresql chromium tshark)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  # tshark's wireshark-common asks whether non-root users may capture packets: answer no
  # beforehand, so the install never stops at a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo not found. Install a Rust toolchain (https://rustup.rs) and run this again." >&2
  exit 1
fi
echo "install-deps: pcscd, vpcd driver, libpcsclite-dev, libssl-dev, pcsc-tools, postgresql, chromium, tshark and cargo are present" >&2
