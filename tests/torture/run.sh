#!/usr/bin/env bash
# Runs the torture trials (tests/torture/README.md) one after the other and
# prints a table of their figures.
#
#   tests/torture/run.sh [--long] [--build DIR] [TRIAL...]
#
#   --long       the long versions (minutes each: 30 kills, 90 s outages);
#                without it the short ones, as ctest runs them
#   --build DIR  where logferry and lf_kafka_mock are (default: build; or
#                set LOGFERRY and LF_KAFKA_MOCK)
#   TRIAL        names from tests/torture/trials/ (default: all of them)
#
# Each trial's full output goes to $TORTURE_LOG_DIR/TRIAL.log (default: a new
# directory under /tmp, printed at the end). Exits 1 when a trial failed.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
mode=short build=$src/build
trials=()
while [ $# -gt 0 ]; do
  case $1 in
  --long) mode=long ;;
  --short) mode=short ;;
  --build)
    build=$(cd "$2" && pwd) || exit 2
    unset LOGFERRY LF_KAFKA_MOCK # the directory given wins over the environment
    shift
    ;;
  -h | --help)
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  -*)
    echo "run.sh: unknown option $1" >&2
    exit 2
    ;;
  *) trials+=("$1") ;;
  esac
  shift
done
all=(sigkill es_down es_down_copytruncate es_down_rename killed_rotate spool_block
  spool_drop_oldest faults es_slow copytruncate_glob kafka_down
  kafka_drop_oldest)
if [ ${#trials[@]} = 0 ]; then trials=("${all[@]}"); fi
export LF_SOURCE_DIR=$src TORTURE_MODE=$mode
export LOGFERRY=${LOGFERRY:-$build/logferry}
export LF_KAFKA_MOCK=${LF_KAFKA_MOCK:-$build/lf_kafka_mock}
if [ ! -x "$LOGFERRY" ]; then
  echo "run.sh: no logferry at $LOGFERRY (build it, or give --build DIR)" >&2
  exit 2
fi
logs=${TORTURE_LOG_DIR:-$(mktemp -d /tmp/torture-logs.XXXXXX)}
mkdir -p "$logs"
failed=0 passed=0 skipped=0
rows=()
for t in "${trials[@]}"; do
  script=$src/tests/torture/trials/$t.sh
  if [ ! -f "$script" ]; then
    echo "run.sh: no trial $t" >&2
    exit 2
  fi
  echo "== $t ($mode)"
  start=$SECONDS
  bash "$script" 2>&1 | tee "$logs/$t.log" | grep -E '^(\[|ok |FAIL|RESULT|PASSED|FAILED|SKIP|lost seqs|duplicated seqs)'
  rc=${PIPESTATUS[0]}
  status=PASS
  if [ "$rc" = 77 ]; then
    status=SKIP skipped=$((skipped + 1))
  elif [ "$rc" != 0 ]; then
    status=FAIL failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
  result=$(grep '^RESULT ' "$logs/$t.log" | tail -n 1)
  rows+=("$t $status $((SECONDS - start)) ${result#RESULT * mode=$mode }")
done
echo
echo "== torture trials ($mode), logs in $logs"
printf '%-22s %-5s %6s %9s %7s %6s %8s %7s  %s\n' trial state time_s written lost dup rss_MiB cpu_s other
for r in "${rows[@]}"; do
  set -- $r
  t=$1 st=$2 secs=$3
  shift 3
  declare -A kv=()
  other=()
  for x in "$@"; do
    case $x in
    written=* | lost=* | duplicated=* | peak_rss_mib=* | cpu_s=*) kv[${x%%=*}]=${x#*=} ;;
    *=*) other+=("$x") ;;
    esac
  done
  printf '%-22s %-5s %6s %9s %7s %6s %8s %7s  %s\n' "$t" "$st" "$secs" "${kv[written]:--}" \
    "${kv[lost]:--}" "${kv[duplicated]:--}" "${kv[peak_rss_mib]:--}" "${kv[cpu_s]:--}" "${other[*]}"
  unset kv
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
