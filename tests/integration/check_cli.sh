#!/usr/bin/env bash
# logferry check as an operator runs it: the packaged example passes, a file
# with mistakes lists every one as FILE:LINE:COL: message and exits 1,
# grammars that do not compile are reported at the expression's own line and
# column (a definition, a pattern directory at theirs), what the agent would
# refuse at start is refused here (index patterns, host URLs parsed by
# libcurl, files named by *_file keys, broker ports), usage errors exit
# 2, and docs/CONFIGURATION.md is what --print-keys prints today.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
case $LOGFERRY in /*) ;; *) LOGFERRY=$PWD/$LOGFERRY ;; esac # the test changes directory
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # check NAME COMMAND...: runs the command, counts a failure
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
not() { ! "$@"; }
same() { # same EXPECTED_FILE ACTUAL_FILE: equal, or show the difference
  diff -u "$1" "$2" >&2
}
fixtures=$LF_SOURCE_DIR/tests/data/config
export LF_SOURCE_DIR
unset LF_TEST_HOST LF_TEST_SURELY_UNSET

# The packaged example documents every key and must pass as shipped.
set +e
"$LOGFERRY" check -c "$LF_SOURCE_DIR/packaging/logferry.yml" > "$tmp/o1" 2> "$tmp/e1"; rc=$?
set -e
check "packaging/logferry.yml exits 0" test "$rc" = 0
check "packaging/logferry.yml: OK" test "$(cat "$tmp/o1")" = "$LF_SOURCE_DIR/packaging/logferry.yml: OK"
check "nothing on stderr when OK" test ! -s "$tmp/e1"

# Environment expansion, a pattern directory and an inline definition.
"$LOGFERRY" check -c "$fixtures/good.yml" > "$tmp/o_good"
check "good.yml passes" test "$(cat "$tmp/o_good")" = "$fixtures/good.yml: OK"
"$LOGFERRY" check -c /dev/stdin < "$fixtures/good.yml" > "$tmp/o_pipe"
check "a pipe works too" test "$(cat "$tmp/o_pipe")" = "/dev/stdin: OK"

# Every mistake of the file, in file order, with its position; nothing on stdout.
set +e
(cd "$fixtures" && "$LOGFERRY" check -c broken.yml) > "$tmp/o2" 2> "$tmp/e2"; rc=$?
set -e
check "broken config exits 1" test "$rc" = 1
check "broken config: every problem, exact" same "$fixtures/broken.err" "$tmp/e2"
check "broken config: every line is file:line:col:" \
  test "$(grep -cvE '^broken\.yml:[0-9]+:[0-9]+: ' "$tmp/e2")" = 0
check "broken config: nothing on stdout" test ! -s "$tmp/o2"

# Grammars that do not compile, each reported where its problem is.
set +e
(cd "$fixtures" && "$LOGFERRY" check -c bad_grammar.yml) > "$tmp/o3" 2> "$tmp/e3"; rc=$?
set -e
check "bad grammar exits 1" test "$rc" = 1
check "bad grammars reported with positions" same "$fixtures/bad_grammar.err" "$tmp/e3"
check "bad grammar: nothing on stdout" test ! -s "$tmp/o3"

# A grammar written by the test: the problem at the expression's own column.
printf 'agent:\n  name: x\ngrammars:\n  mine:\n    expressions:\n      - "%%{NUMBER:n:float} (%%{WORD}"\n' > "$tmp/g.yml"
set +e
"$LOGFERRY" check -c "$tmp/g.yml" 2> "$tmp/e4"; rc=$?
set -e
check "unbalanced expression exits 1" test "$rc" = 1
check "unbalanced expression reported at 6:28 (its column 19)" \
  grep -qx "$tmp/g.yml:6:28: grammars.mine: expression 1, column 19: missing closing parenthesis for this group" "$tmp/e4"
# The agent refuses the same file at start with the same message.
set +e
"$LOGFERRY" agent -c "$tmp/g.yml" > /dev/null 2> "$tmp/e4a"; rc=$?
set -e
check "the agent refuses it at start (exit $rc), with the same file:line:col" \
  grep -qx "$tmp/g.yml:6:28: grammars.mine: expression 1, column 19: missing closing parenthesis for this group" "$tmp/e4a"

# What the agent would refuse or trip over at start, each at its place.
touch "$tmp/empty_password"
cat > "$tmp/start.yml" << YML
agent:
  data_dir: $tmp/data
inputs:
  files:
    - paths: [$tmp/*.log]
      index: MyLogs
output:
  type: elasticsearch
  elasticsearch:
    hosts: [http://127.0.0.1:99999, 'http://u:secret@[::1', http://ok:9200, http://h:0]
    index: '%{prefix}-%{+QQQ}'
    password_file: $tmp/no-password
    api_key_file: $tmp/empty_password
    ca_file: $tmp/no-ca.pem
    cert_file: $tmp/no-cert.pem
    key_file: $tmp/no-key.pem
  kafka:
    brokers: [k1:99999, 'k2:9092', k3]
YML
set +e
"$LOGFERRY" check -c "$tmp/start.yml" > "$tmp/o9" 2> "$tmp/e9"; rc=$?
"$LOGFERRY" agent -c "$tmp/start.yml" > /dev/null 2> "$tmp/e9a"; rca=$?
set -e
sed "s|$tmp|TMP|g" "$tmp/e9" > "$tmp/e9s"
cat > "$tmp/e9want" << 'ERR'
TMP/start.yml:6:14: inputs.files[0].index: expected an index name (lowercase, no spaces or \/*?"<>|,#:, not starting with -, _ or +, at most 200 bytes), got 'MyLogs'
TMP/start.yml:10:13: output.elasticsearch.hosts[0]: 'http://127.0.0.1:99999': not a URL libcurl accepts: Port number was not a decimal number between 0 and 65535
TMP/start.yml:10:37: output.elasticsearch.hosts[1]: 'http://[::1': not a URL libcurl accepts: Bad IPv6 address
TMP/start.yml:10:77: output.elasticsearch.hosts[3]: 'http://h:0': port 0 is not a port to connect to
TMP/start.yml:11:12: output.elasticsearch.index: index pattern "%{prefix}-%{+QQQ}", column 14: unsupported date letter 'Q' (use yyyy, YYYY, yy, xxxx, ww, MM, M, dd, d, HH, H or 'quoted text')
TMP/start.yml:12:20: output.elasticsearch.password_file: cannot read TMP/no-password: No such file or directory
TMP/start.yml:13:19: output.elasticsearch.api_key_file: TMP/empty_password is empty or unreadable
TMP/start.yml:14:14: output.elasticsearch.ca_file: cannot read TMP/no-ca.pem: No such file or directory
TMP/start.yml:15:16: output.elasticsearch.cert_file: cannot read TMP/no-cert.pem: No such file or directory
TMP/start.yml:16:15: output.elasticsearch.key_file: cannot read TMP/no-key.pem: No such file or directory
TMP/start.yml:18:15: output.kafka.brokers[0]: expected one broker per item, host:port with a port from 1 to 65535, got 'k1:99999'
TMP/start.yml:18:36: output.kafka.brokers[2]: expected one broker per item, host:port with a port from 1 to 65535, got 'k3'
ERR
check "start problems: check exits 1" test "$rc" = 1
check "start problems: every one at its place, exact" same "$tmp/e9want" "$tmp/e9s"
check "start problems: the password in a URL is not shown" not grep -q secret "$tmp/e9"
check "start problems: the agent refuses the file (exit $rca) with the same lines" \
  test "$rca" != 0 -a "$(grep -c "$tmp/start.yml:" "$tmp/e9a")" = "$(wc -l < "$tmp/e9")"

# Files that cannot be read, or are far too big, fail cleanly.
set +e
"$LOGFERRY" check -c "$tmp/nonexistent.yml" 2> "$tmp/e5"; rc5=$?
truncate -s 100M "$tmp/huge.yml"
"$LOGFERRY" check -c "$tmp/huge.yml" 2> "$tmp/e6"; rc6=$?
set -e
check "missing file exits 1" test "$rc5" = 1
check "missing file named" grep -qx "$tmp/nonexistent.yml: cannot open: No such file or directory" "$tmp/e5"
check "100 MB file refused" test "$rc6" = 1
check "100 MB file message" grep -qx "$tmp/huge.yml: larger than 4 MiB: refused" "$tmp/e6"

# Usage.
set +e
"$LOGFERRY" check > /dev/null 2>&1; rc7=$?
"$LOGFERRY" check --bogus > /dev/null 2>&1; rc8=$?
"$LOGFERRY" check -c a.yml extra > /dev/null 2>&1; rc9=$?
set -e
check "usage errors exit 2" test "$rc7" = 2 -a "$rc8" = 2 -a "$rc9" = 2
check "--help exits 0" "$LOGFERRY" check --help > /dev/null

# docs/CONFIGURATION.md ends with the generated reference, as it is today.
"$LOGFERRY" check --print-keys > "$tmp/keys"
sed -n '/^<!-- generated: /,$p' "$LF_SOURCE_DIR/docs/CONFIGURATION.md" | tail -n +2 > "$tmp/doc_keys"
check "--print-keys is a Markdown table" test "$(head -1 "$tmp/keys")" = '| key | type | default | description |'
check "docs/CONFIGURATION.md is up to date (regenerate: see its marker line)" same "$tmp/keys" "$tmp/doc_keys"

# The shipper's configuration, and its reference in docs/SHIPPER.md.
check "the shipped shipper.yml is valid" "$LOGFERRY" check --shipper -c "$LF_SOURCE_DIR/packaging/shipper.yml"
cat > "$tmp/ship_bad.yml" << 'YML'
shipper:
  commit_interval: soon
inputs:
  kafka:
    grammar: nope
output:
  elasticsearch:
    spool:
      enabled: true
YML
set +e
"$LOGFERRY" check --shipper -c "$tmp/ship_bad.yml" 2> "$tmp/ship_bad.err"
rc=$?
"$LOGFERRY" check -c "$LF_SOURCE_DIR/packaging/shipper.yml" > /dev/null 2> "$tmp/ship_as_agent.err"
set -e
check "a bad shipper config exits 1" test "$rc" = 1
check "... with the duration at its line:col" grep -q "ship_bad.yml:2:20: shipper.commit_interval" "$tmp/ship_bad.err"
check "... the unknown grammar" grep -q "ship_bad.yml:5:14: inputs.kafka.grammar: no grammar named 'nope'" "$tmp/ship_bad.err"
check "... and the spool it does not have" grep -q "ship_bad.yml:8:5: output.elasticsearch.spool: the shipper has no spool" "$tmp/ship_bad.err"
check "a shipper config checked as an agent's says --shipper" grep -q -- "--shipper" "$tmp/ship_as_agent.err"
"$LOGFERRY" check --shipper --print-keys > "$tmp/ship_keys"
sed -n '/^<!-- generated: /,$p' "$LF_SOURCE_DIR/docs/SHIPPER.md" | tail -n +2 > "$tmp/doc_ship_keys"
check "the shipper's reference lists no spool key (it refuses them)" \
  not grep -q 'output.elasticsearch.spool' "$tmp/ship_keys"
check "docs/SHIPPER.md is up to date (regenerate: see its marker line)" same "$tmp/ship_keys" "$tmp/doc_ship_keys"

echo "$failures failed"
test "$failures" = 0
