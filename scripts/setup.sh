#!/usr/bin/env bash
# Installs every Debian package that building and testing logferry needs.
# Idempotent: run it again after a pull; apt-get skips what is there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libpcre2-dev libjansson-dev libcmocka-dev libyaml-dev
  libcurl4-openssl-dev libdeflate-dev zlib1g-dev # the Elasticsearch output (zlib: bench sink)
  libmicrohttpd-dev               # the status endpoint (/metrics, /status, /health)
  librdkafka-dev kcat             # the Kafka output and shipper, and its tests
  python3-elasticsearch           # a real client that checks the fake Elasticsearch
  curl openssl                    # Elasticsearch tests: queries to the fake, a throwaway PKI
  rsyslog-elasticsearch           # omelasticsearch, the second real client
  rsyslog bsdutils # rsyslogd and logger for the omprog integration tests
  procps           # pgrep -P: the agent rsyslog started, by its parent PID
  clang            # libFuzzer harnesses (tests/fuzz)
  python3          # benchmark corpus generator, test helpers
  libsystemd-dev   # sd_notify and the watchdog (Type=notify units), sd-journal (inputs.journald)
  systemd-journal-remote # journal files made from export format (journald input tests)
  debhelper lintian dpkg-dev fakeroot # the Debian package (scripts/package.sh)
  man-db groff-base                   # ... its man pages checked
  systemd          # systemd-analyze verify/security on the units
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "setup: packages installed: ${packages[*]}"
