#!/usr/bin/env bash
# logferry grok as a user runs it: one JSON object per input line whatever
# the bytes, message kept, failures tagged, errors on stderr with exit 1,
# pattern directories and inline definitions overriding the shipped ones.
set -euo pipefail
: "${LOGFERRY:?path to the logferry binary}" "${LF_SOURCE_DIR:?source tree}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # check NAME COMMAND...: runs the command, counts a failure
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
json_lines() { # json_lines FILE: every line parses as a JSON object; prints the count
  /usr/bin/python3 -c '
import json, sys
n = 0
for raw in open(sys.argv[1], "rb"):
    obj = json.loads(raw)
    assert isinstance(obj, dict), raw
    n += 1
print(n)' "$1"
}

# Seven input lines: ordinary, invalid UTF-8 and NUL, an empty line, forged
# bulk syntax, a CRLF line, a very long line, and a last line without newline.
{
  printf 'LoadAverage: 0.14\n'
  printf 'caf\xe9 \xff\x00 "q" \\ end\n'
  printf '\n'
  printf '{"index":{"_index":"x"}}\n'
  printf 'MemoryUsedPct: 42\r\n'
  head -c 3000000 /dev/zero | tr '\0' 'a'; printf '\n'
  printf 'SwapUsedPct: 1.5'
} > "$tmp/in"
"$LOGFERRY" grok -e '^%{WORD:metric.name}: %{NUMBER:metric.value:float}' --stats \
  < "$tmp/in" > "$tmp/out" 2> "$tmp/err"
check "one JSON object per input line" test "$(json_lines "$tmp/out")" = 7
check "metric typed as a number" grep -qx '{"message":"LoadAverage: 0.14","metric":{"name":"LoadAverage","value":0.14}}' "$tmp/out"
check "integral float stays a float" grep -q '"value":42.0' "$tmp/out"
check "last line without newline" grep -q '"value":1.5' "$tmp/out"
check "unmatched line tagged" grep -q '"tags":\["_grokparsefailure"\]' "$tmp/out"
/usr/bin/python3 -c '
import json,sys
for l in open(sys.argv[1]): print(json.dumps(json.loads(l)["message"]))' "$tmp/out" > "$tmp/messages"
check "invalid UTF-8 kept as Latin-1, NUL escaped" grep -qF 'caf\u00e9 \u00ff\u0000 \"q\" \\ end' "$tmp/messages"
check "long line cut and tagged" test "$(grep -c '"_truncated"' "$tmp/out")" = 1
check "stats on stderr" grep -qx 'lines 7 matched 3 unmatched 4 limit_hits 0 bad_conversions 0 truncated 1' "$tmp/err"

# A captured message replaces the line; otherwise the line is the message.
echo 'prog: hello world' | "$LOGFERRY" grok -e '%{WORD:process.name}: %{GREEDYDATA:message}' > "$tmp/o2"
check "captured message wins" grep -qx '{"message":"hello world","process":{"name":"prog"}}' "$tmp/o2"

# Several expressions: first match wins.
printf '12\nab\n' | "$LOGFERRY" grok -e '^%{INT:n:int}$' -e '^%{WORD:w}$' > "$tmp/o3"
check "first match wins" test "$(cat "$tmp/o3")" = '{"message":"12","n":12}
{"message":"ab","w":"ab"}'

# Pattern directories are loaded after the shipped library and override it.
mkdir "$tmp/pat"
printf '# mine\nWORD [a-z]+\nMYKEY key-%%{INT:k:int}\n' > "$tmp/pat/custom"
echo 'ABC key-7' | "$LOGFERRY" grok -p "$tmp/pat" -e '%{WORD:w} %{MYKEY}' > "$tmp/o4" || true
check "-p overrides shipped WORD" grep -q '_grokparsefailure' "$tmp/o4"
echo 'abc key-7' | "$LOGFERRY" grok -p "$tmp/pat" -e '%{WORD:w} %{MYKEY}' > "$tmp/o5"
check "-p adds patterns" grep -qx '{"k":7,"message":"abc key-7","w":"abc"}' "$tmp/o5"
echo 'x=1' | "$LOGFERRY" grok -D 'KV %{WORD:k}=%{INT:v:int}' -e '%{KV}' > "$tmp/o6"
check "-D inline definition" grep -qx '{"k":"x","message":"x=1","v":1}' "$tmp/o6"

# --explain prints the PCRE2 pattern.
check "--explain" test "$("$LOGFERRY" grok -D 'N [0-9]+' --explain -e '%{N:n:int} (?m)x')" = '(?<g0>[0-9]+) (?s)x'

# Errors: exit 1, message on stderr naming the place, nothing on stdout.
set +e
echo x | "$LOGFERRY" grok -e '%{WORD:a} %{NOSUCH:b}' > "$tmp/o7" 2> "$tmp/e7"; rc=$?
set -e
check "unknown pattern exits 1" test "$rc" = 1
check "unknown pattern named" grep -q 'expression 1, column 11: unknown pattern NOSUCH' "$tmp/e7"
check "nothing on stdout after an error" test ! -s "$tmp/o7"
printf 'BROKEN (abc\n' > "$tmp/pat/zz-broken"
set +e
"$LOGFERRY" grok -p "$tmp/pat" -e '%{BROKEN}' < /dev/null 2> "$tmp/e8"; rc=$?
"$LOGFERRY" grok -p /nonexistent -e '%{WORD}' < /dev/null 2> "$tmp/e9"; rc9=$?
"$LOGFERRY" grok < /dev/null 2> /dev/null; rc10=$?
"$LOGFERRY" grok --bogus < /dev/null 2> /dev/null; rc11=$?
set -e
check "pattern file error names file and line" grep -q "pattern BROKEN at $tmp/pat/zz-broken:1:8: missing closing parenthesis" "$tmp/e8"
check "missing pattern dir" grep -q 'cannot open pattern directory /nonexistent' "$tmp/e9"
check "bad pattern file exits 1" test "$rc" = 1 -a "$rc9" = 1
big=$(printf '%%{IPV6:a} %.0s' $(seq 40))
set +e
"$LOGFERRY" grok -e "$big" < /dev/null 2> "$tmp/e12"; rc12=$?
set -e
check "too large pattern explained" test "$rc12" = 1
check "too large pattern message" grep -q "over PCRE2's 64 KiB limit" "$tmp/e12"
check "usage errors exit 2" test "$rc10" = 2 -a "$rc11" = 2
check "--help exits 0" "$LOGFERRY" grok --help > /dev/null

echo "$failures failed"
test "$failures" = 0
