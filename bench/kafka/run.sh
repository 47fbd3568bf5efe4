#!/usr/bin/env bash
# bench/kafka: the two halves of the Kafka path, each measured on its own,
# over the corpus (default 1M lines), ROUNDS times:
#
#   produce   logferry agent: tail -> SYSLOGLINE grammar -> Kafka output
#             (idempotent, acks=all, lz4, the default key: the host, so one
#             partition, as one server's agent writes) into the librdkafka
#             mock cluster (tests/kafka_mock). Done when the registry says
#             the whole file is acknowledged, i.e. every message has its
#             delivery report.
#   ship      logferry shipper: a topic holding the corpus -> the
#             Elasticsearch output -> bench/sink/es_sink.c (answers one item
#             per action, checks ids and documents). Done when the sink has
#             every document. The mock keeps only about 5 MiB per partition,
#             so this topic is filled beforehand (not measured) by an agent
#             keying by id over many partitions.
#
# Per run: lines/s, CPU seconds per million lines (user + sys from
# /proc/PID/stat at the moment it is done), peak RSS (VmHWM). Checked every
# run: the sink counted one document per line, no _id twice, no item
# failed, and no offset was lost to the mock's retention.
#
# Builds nothing: it uses a release build directory (LF_BENCH_BUILD or the
# third argument; default build-bench), made with
#   scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF
# Usage: bench/kafka/run.sh [LINES] [ROUNDS] [BUILD_DIR [OTHER_BUILD_DIR...]]
#
# With more than one build directory only the ship half is measured, to
# compare shippers fairly on a noisy machine: each round fills the topic
# once (with the first build's agent) and every build's shipper reads all of
# it (a consumer group each), in turn, the order reversed every other round.
# LF_BENCH_SHIPPER_PROPS="name=value ..." adds librdkafka consumer
# properties to the shippers' inputs.kafka.properties, to try settings.
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-1000000}
rounds=${2:-3}
build=${3:-${LF_BENCH_BUILD:-build-bench}}
others=("${@:4}")
# Our figures are over bench/gen_corpus.py's corpus. LF_CORPUS_GEN may name
# another generator with the same flags, for a comparison; the corpus file
# is named after the generator's checksum, so one is never taken for another.
gen=${LF_CORPUS_GEN:-bench/gen_corpus.py}
bin=$PWD/$build/logferry
sink=$PWD/$build/bench/lf_es_sink
mock=$PWD/$build/lf_kafka_mock
partitions=64

for b in "$build" "${others[@]}"; do
  if [ ! -x "$b/logferry" ] || [ ! -x "$b/bench/lf_es_sink" ] || [ ! -x "$b/lf_kafka_mock" ] ||
    ! grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$b/CMakeCache.txt" 2>/dev/null; then
    echo "bench/kafka: no release build with logferry, lf_es_sink and lf_kafka_mock in $b;" >&2
    echo "make one with  scripts/build.sh $b -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF" >&2
    exit 2
  fi
done
mkdir -p bench/out
corpus=bench/out/corpus-$lines-$(cksum < "$gen" | cut -d" " -f1).log
[ -s "$corpus" ] || python3 "$gen" -n "$lines" -o "$corpus"
size=$(stat -c %s "$corpus")

work=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill -TERM "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
clk_tck=$(getconf CLK_TCK)
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $build/logferry, $lines lines ($size bytes), $partitions partitions, $rounds rounds"

wait_file() { # wait_file FILE SECONDS PID: until FILE is there, PID alive, time left
  local deadline=$(($(date +%s) + $2))
  while [ ! -s "$1" ]; do
    kill -0 "$3" 2> /dev/null || return 1
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.02
  done
}
cpu_of() { awk -v t="$clk_tck" '{printf "%.3f", ($14 + $15) / t}' "/proc/$1/stat"; }
hwm_of() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# acked FILE: the registry's offset for the corpus (0 until there is one).
acked() {
  grep -o '"offset": *[0-9]*' "$1" 2> /dev/null | grep -o '[0-9]*$' | head -1 || echo 0
}

# produce DIR BOOTSTRAP TOPIC KEY: an agent tails the corpus into TOPIC;
# sets pw (wall s), pc (CPU s), pr (peak RSS MB) when all is acknowledged.
produce() {
  local d=$1 bs=$2 topic=$3 key=$4 data=$1/data-$3
  cat > "$d/agent-$topic.yml" << YML
agent:
  name: bench01
  data_dir: $data
  timezone: UTC
grammars:
  syslog:
    expressions: ['%{SYSLOGLINE}']
inputs:
  metrics:
    enabled: false
  files:
    - paths: [$d/log/corpus.log]
      start_at: beginning
output:
  type: kafka
  kafka:
    brokers: [$bs]
    topic: $topic
    key: $key
YML
  local start agent
  start=$(date +%s.%N)
  "$bin" agent -c "$d/agent-$topic.yml" 2> "$d/agent-$topic.log" &
  agent=$!
  pids="$pids $agent"
  until [ "$(acked "$data/registry.json")" = "$size" ]; do
    kill -0 "$agent" 2> /dev/null || { echo "agent died:"; tail "$d/agent-$topic.log"; exit 1; }
    sleep 0.05
  done
  pw=$(echo "$(date +%s.%N) - $start" | bc)
  pc=$(cpu_of "$agent")
  pr=$(hwm_of "$agent")
  kill -TERM "$agent"
  wait "$agent" || true
  grep -q 'spooled 0' "$d/agent-$topic.log" || problems="$problems agent-spooled($topic)"
}

# ship D BIN GROUP: BIN's shipper reads the whole topic `logferry` in consumer
# group GROUP into a fresh sink; sets s_wall, s_cpu, s_rss; adds to problems.
ship() {
  local d=$1 shipper_bin=$2 group=$3 sd=$1/ship-$3
  mkdir -p "$sd"
  "$sink" --port-file "$sd/port" --check-ids --expect-docs "$lines" --done-file "$sd/done.json" \
    > "$sd/sink.json" 2> "$sd/sink.log" &
  local sink_pid=$!
  pids="$pids $sink_pid"
  wait_file "$sd/port" 10 "$sink_pid" || { echo "sink did not start"; cat "$sd/sink.log"; exit 1; }
  cat > "$sd/shipper.yml" << YML
shipper:
  data_dir: $sd/shipper
  timezone: UTC
  stats_interval: 0
grammars:
  syslog:
    expressions: ['%{SYSLOGLINE}']
inputs:
  kafka:
    brokers: [$(cat "$d/bs")]
    topics: [logferry]
    group: $group
    properties:
      session.timeout.ms: "6000"
      heartbeat.interval.ms: "500"
$(for kv in ${LF_BENCH_SHIPPER_PROPS:-}; do printf '      %s: "%s"\n' "${kv%%=*}" "${kv#*=}"; done)
output:
  elasticsearch:
    hosts: [http://127.0.0.1:$(cat "$sd/port")]
YML
  local shipper
  "$shipper_bin" shipper -c "$sd/shipper.yml" 2> "$sd/shipper.log" &
  shipper=$!
  pids="$pids $shipper"
  # Time from the group's first assignment (the mock makes a first join
  # wait 3 s on purpose), not from the start.
  until grep -q 'assigned' "$sd/shipper.log" 2> /dev/null; do
    kill -0 "$shipper" 2> /dev/null || { echo "shipper died:"; tail "$sd/shipper.log"; exit 1; }
    sleep 0.01
  done
  local cpu0 start
  cpu0=$(cpu_of "$shipper")
  start=$(date +%s.%N)
  wait_file "$sd/done.json" 900 "$shipper" || { echo "the sink never got everything:"; tail "$sd/shipper.log"; exit 1; }
  s_wall=$(echo "$(date +%s.%N) - $start" | bc)
  s_cpu=$(echo "$(cpu_of "$shipper") - $cpu0" | bc)
  s_rss=$(hwm_of "$shipper")
  kill -TERM "$shipper"
  wait "$shipper" || true
  kill -TERM "$sink_pid"
  wait "$sink_pid" || true
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); n=int(sys.argv[2]); sys.exit(not (d["docs"] == n and d["duplicates"] == 0 and d["item_errors"] == 0))' \
    "$sd/sink.json" "$lines" || problems="$problems sink-counts($group)"
  grep -q 'were not delivered' "$sd/shipper.log" && problems="$problems offsets-lost-to-retention($group)"
  return 0
}

round() {
  local r=$1 d=$work/round-$1
  problems=""
  mkdir -p "$d/log"
  ln "$corpus" "$d/log/corpus.log" 2> /dev/null || cp "$corpus" "$d/log/corpus.log"
  "$mock" --brokers 1 --topic "logferry:$partitions" --topic measured:1 --bootstrap-file "$d/bs" \
    > "$d/mock.out" 2> "$d/mock.err" &
  local mock_pid=$!
  pids="$pids $mock_pid"
  wait_file "$d/bs" 30 "$mock_pid" || { echo "mock did not start"; cat "$d/mock.err"; exit 1; }
  local bs
  bs=$(cat "$d/bs")

  if [ ${#others[@]} -gt 0 ]; then
    # Comparing shippers: the topic once, then each build's shipper in turn.
    produce "$d" "$bs" logferry id
    local order=("$build" "${others[@]}") i
    if [ $((r % 2)) = 0 ]; then
      local rev=()
      for ((i = ${#order[@]} - 1; i >= 0; i--)); do rev+=("${order[i]}"); done
      order=("${rev[@]}")
    fi
    for b in "${order[@]}"; do
      shipped=$((shipped + 1))
      ship "$d" "$PWD/$b/logferry" "bench-$shipped"
      printf '%s %s %s %s\n' "$b" "$s_wall" "$s_cpu" "$s_rss" >> "$work/compare"
      awk -v n="$lines" -v r="$r" -v b="$b" '{
        printf "round %d: %-24s ship %7.0f lines/s, shipper %.2f CPU-s/M lines, peak RSS %.1f MB\n",
          r, b, n / $1, $2 * 1e6 / n, $3
      }' <<< "$s_wall $s_cpu $s_rss"
    done
    kill -TERM "$mock_pid"
    wait "$mock_pid" || true
    pids=""
    [ -z "$problems" ] || { echo "  CHECK FAILED:$problems"; return 1; }
    return 0
  fi

  # ---- produce (measured: one partition, key host), then fill the topic
  # the shipper reads (key id over many partitions)
  produce "$d" "$bs" measured host
  local p_wall=$pw p_cpu=$pc p_rss=$pr
  produce "$d" "$bs" logferry id

  # ---- ship
  ship "$d" "$bin" bench
  kill -TERM "$mock_pid"
  wait "$mock_pid" || true
  pids=""

  printf '%s\n' "$p_wall $p_cpu $p_rss $s_wall $s_cpu $s_rss" >> "$work/results"
  awk -v n="$lines" -v r="$r" -v p="$problems" '{
    printf "round %d: produce %7.0f lines/s, agent %.2f CPU-s/M lines, peak RSS %.1f MB | ship %7.0f lines/s, shipper %.2f CPU-s/M lines, peak RSS %.1f MB%s\n",
      r, n / $1, $2 * 1e6 / n, $3, n / $4, $5 * 1e6 / n, $6, p == "" ? "" : "\n  CHECK FAILED:" p
  }' <<< "$p_wall $p_cpu $p_rss $s_wall $s_cpu $s_rss"
  [ -z "$problems" ]
}

shipped=0
for r in $(seq 1 "$rounds"); do round "$r"; done
if [ ${#others[@]} -gt 0 ]; then
  echo "== per build: median [min, max] of $rounds rounds (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
  for b in "$build" "${others[@]}"; do
    awk -v b="$b" -v n="$lines" '$1 == b {print $3 * 1e6 / n, n / $2, $4}' "$work/compare" |
      sort -n | awk -v b="$b" '{c[NR]=$1; t[NR]=$2; m[NR]=$3} END {
        printf "%-24s shipper %.2f CPU-s per million lines [%.2f, %.2f], %7.0f lines/s (of the median run), peak RSS %.1f MB\n",
          b, c[int((NR + 1) / 2)], c[1], c[NR], t[int((NR + 1) / 2)], m[int((NR + 1) / 2)]
      }'
  done
  exit 0
fi
echo "== median of $rounds rounds"
sort -n -k2 "$work/results" | awk -v n="$lines" '{a[NR]=$0} END {
  split(a[int((NR + 1) / 2)], m, " ")
  printf "agent -> Kafka:        %7.0f lines/s, %.2f CPU-s per million lines, peak RSS %.1f MB\n", n / m[1], m[2] * 1e6 / n, m[3]
}'
sort -n -k5 "$work/results" | awk -v n="$lines" '{a[NR]=$0} END {
  split(a[int((NR + 1) / 2)], m, " ")
  printf "Kafka -> shipper -> sink: %7.0f lines/s, %.2f CPU-s per million lines, peak RSS %.1f MB\n", n / m[4], m[5] * 1e6 / n, m[6]
}'
