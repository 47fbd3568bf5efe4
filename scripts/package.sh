#!/usr/bin/env bash
# Builds the Debian package from this tree with Debian's tooling and checks
# it without installing it on this machine:
#   - dpkg-buildpackage -us -uc -b on a copy of the tree (build-deb/ or $1),
#     so that its outputs (written next to the source by Debian's tools)
#     stay inside the repository;
#   - lintian: any error or warning fails (info tags are listed, see
#     debian/README.source);
#   - the .deb unpacked into a scratch root (dpkg -x): the files that must be
#     there, the conffiles, `logferry check` on the packaged agent.yml and
#     shipper.yml, and the packaged agent.yml run for real (its paths moved
#     into the scratch directory) until log lines reach its file output;
#   - the systemd units: `systemd-analyze verify` clean, and
#     `systemd-analyze security` exposure at most 2.0 for both.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build-deb}")
src=$out/logferry
rm -rf "$out"
mkdir -p "$src"
# Tracked and new files, not build directories or ignored files.
git ls-files -co --exclude-standard | grep -v '^build' | tar -cf - -T - | tar -xf - -C "$src"

echo "== dpkg-buildpackage"
(cd "$src" && dpkg-buildpackage -us -uc -b) > "$out/build.log" 2>&1 || {
  tail -50 "$out/build.log"
  exit 1
}
deb=$(ls "$out"/logferry_*_*.deb)
changes=$(ls "$out"/logferry_*.changes)
echo "built $(basename "$deb")"

echo "== lintian"
lintian --pedantic --display-info "$changes" 2>&1 | grep -v 'running with root privileges' || true
lintian --fail-on error,warning "$changes" 2> /dev/null

failures=0
check() {
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else
    echo "FAIL $what"
    failures=$((failures + 1))
  fi
}

echo "== contents"
root=$out/root
dpkg -x "$deb" "$root"
for f in usr/bin/logferry etc/logferry/agent.yml etc/logferry/shipper.yml \
  usr/share/logferry/grammars/syslog.grok usr/share/man/man1/logferry.1.gz \
  usr/share/man/man5/logferry.yml.5.gz usr/share/bash-completion/completions/logferry \
  usr/share/logferry/rsyslog/logferry-omprog.conf \
  lib/systemd/system/logferry-agent.service lib/systemd/system/logferry-shipper.service; do
  check "$f" test -e "$root/$f"
done
check "/var/lib/logferry" test -d "$root/var/lib/logferry"
check "no rsyslog snippet enabled" test ! -e "$root/etc/rsyslog.d"
dpkg-deb -e "$deb" "$out/control"
check "agent.yml and shipper.yml are conffiles" diff -u <(printf '/etc/logferry/agent.yml\n/etc/logferry/shipper.yml\n') \
  <(sort "$out/control/conffiles")
check "postinst creates the system user _logferry" \
  grep -qzE 'adduser[^;]*--system[^;]*_logferry' "$out/control/postinst"
check "postinst enables logferry-agent.service" \
  grep -q "deb-systemd-helper enable 'logferry-agent.service'" "$out/control/postinst"
check "postinst enables logferry-shipper.service only if it was before" \
  grep -q "debian-installed 'logferry-shipper.service'" "$out/control/postinst"
check "logferry.yml(5) has the generated keys" \
  bash -c "zcat '$root/usr/share/man/man5/logferry.yml.5.gz' | grep -q '^\\\\fBoutput.elasticsearch.spool.max_size'"
version=$(dpkg-deb -f "$deb" Version)
for m in "$root"/usr/share/man/man*/*.gz; do
  check "$(basename "$m"): says logferry $version" \
    bash -c "zcat '$m' | grep -q '^\.TH .*\"logferry $version\"'"
  zcat "$m" | LC_ALL=C.UTF-8 groff -man -ww -z > "$out/groff.out" 2>&1 || echo "groff failed" >> "$out/groff.out"
  check "$(basename "$m"): formats without warnings" test ! -s "$out/groff.out"
  cat "$out/groff.out"
done

echo "== the packaged configuration"
check "logferry check agent.yml" "$root/usr/bin/logferry" check -c "$root/etc/logferry/agent.yml"
check "logferry check --shipper shipper.yml" \
  "$root/usr/bin/logferry" check --shipper -c "$root/etc/logferry/shipper.yml"
# The packaged agent.yml as it is, with its directories moved here: it
# starts and writes the syslog and auth lines to its file output.
run=$out/run
mkdir -p "$run"
sed -e "s#/var/lib/logferry#$run/state#g" -e "s#/var/log/#$run/#g" \
  "$root/etc/logferry/agent.yml" > "$run/agent.yml"
echo "Dec  6 21:00:00 web01 cron[1]: (root) CMD (true)" > "$run/syslog"
echo "Dec  6 21:00:01 web01 sshd[2]: Accepted publickey for ops from 127.0.0.1 port 4242 ssh2" \
  > "$run/auth.log"
"$root/usr/bin/logferry" agent -c "$run/agent.yml" 2> "$run/agent.err" &
agent=$!
shipped() { # both files were read from their end: new lines only
  grep -qs 'Accepted publickey for ops from 127.0.0.2' "$run"/state/out/* &&
    grep -qs 'CMD (later)' "$run"/state/out/*
}
deadline=$((SECONDS + 30))
# Lines appended once the agent has found the files (start_at: end).
until grep -q 'syslog' "$run/agent.err" 2> /dev/null || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
until shipped || [ $SECONDS -ge $deadline ]; do
  echo "Dec  6 21:00:02 web01 sshd[3]: Accepted publickey for ops from 127.0.0.2 port 4243 ssh2" \
    >> "$run/auth.log"
  echo "Dec  6 21:00:02 web01 cron[4]: (root) CMD (later)" >> "$run/syslog"
  sleep 1
done
check "the packaged agent.yml ships syslog and auth.log lines to the file output" shipped
kill -TERM "$agent"
rc=0
wait "$agent" || rc=$?
check "the agent stops cleanly" test "$rc" = 0

echo "== systemd units"
# verify wants ExecStart= to exist: the units as in the tree, pointed at
# the unpacked binary; man pages from the unpacked package.
mkdir -p "$out/units"
for u in packaging/systemd/*.service; do
  sed "s#/usr/bin/logferry#$root/usr/bin/logferry#g" "$u" > "$out/units/$(basename "$u")"
done
check "systemd-analyze verify" \
  env MANPATH="$root/usr/share/man" systemd-analyze verify "$out"/units/*.service
for u in "$out"/units/*.service; do
  systemd-analyze security --offline=true "$u" | tail -1
  check "$(basename "$u"): exposure at most 2.0" \
    systemd-analyze security --offline=true --threshold=20 "$u" > /dev/null
done

[ "$failures" = 0 ] || {
  cat "$run/agent.err" >&2
  exit 1
}
echo "package: OK ($deb)"
