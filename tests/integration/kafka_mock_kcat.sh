#!/usr/bin/env bash
# The Kafka mock cluster (tests/kafka_mock/, lf_kafka_mock) checked with kcat,
# a client that is not ours, so that the tests that use the mock test against
# something that answers like Kafka:
#   1. start: the bootstrap file appears (temporary file + rename) only once
#      the cluster answers; it equals stdout line 1 and lists only 127.0.0.1;
#      the metadata shows the brokers and the topics with their partitions;
#   2. 5000 keyed messages, idempotent producer with acks=all: exactly 5000
#      arrive, each key on one partition, in order per key;
#   3. a consumer group commits: a member takes 2000 and stops, the next one
#      gets exactly the other 3000; 100 more are produced, the next member
#      gets exactly those 100;
#   4. Produce errors injected through the control FIFO are retried by the
#      client and nothing is doubled; a bad command is refused;
#   5. all brokers down (SIGUSR1) and back (SIGUSR2) while one producer keeps
#      writing: nothing lost, nothing doubled, order per key kept; a new
#      producer fails while they are down; after up, the same ports;
#   6. SIGTERM: the helper exits 0 and removes the FIFO it made.
# Every process is started here and stopped by its PID.
set -euo pipefail
MOCK=${LF_KAFKA_MOCK:-}
KCAT=$(command -v kcat || command -v kafkacat || true)
if [ -z "$KCAT" ]; then
  echo "SKIP: needs kcat"
  exit 77
fi
if [ -z "$MOCK" ] || [ ! -x "$MOCK" ]; then
  echo "SKIP: needs the lf_kafka_mock helper (LF_KAFKA_MOCK=${MOCK:-unset})"
  exit 77
fi

tmp=$(mktemp -d)
mock_pid='' producer_pid=''
cleanup() {
  exec 3>&- 2> /dev/null || true
  for p in $producer_pid $mock_pid; do
    kill -9 "$p" 2> /dev/null || true
    wait "$p" 2> /dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}
wait_until() { # wait_until SECONDS COMMAND...: polls COMMAND until true or the deadline
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
dump_logs() {
  echo "--- lf_kafka_mock stdout"; cat "$tmp/mock.out" 2> /dev/null || true
  echo "--- lf_kafka_mock stderr"; tail -n 30 "$tmp/mock.err" 2> /dev/null || true
  echo "--- kcat producer stderr"; tail -n 20 "$tmp/producer.err" 2> /dev/null || true
}
fatal() { echo "FAIL $*"; dump_logs; exit 1; }
gone() { ! kill -0 "$1" 2> /dev/null; } # bash reaps its exited children itself

kc() { timeout 30 "$KCAT" "$@"; } # every kcat has a deadline
consume() { # consume TOPIC: all of it from the beginning, "partition key value" lines
  kc -C -b "$bs" -t "$1" -o beginning -e -q -f '%p %k %s\n'
}
count_of() { consume "$1" | wc -l; }
lines_are() { [ "$(wc -l < "$1")" -eq "$2" ]; }
distinct_values_are() { # distinct_values_are N FILE...
  local n=$1; shift
  [ "$(awk '{print $3}' "$@" | sort -u | wc -l)" -eq "$n" ]
}
column_values() { awk -v c="$1" '{print $c}' "$2" | sort -u | wc -l; } # distinct values in column
one_partition_per_key() {
  [ -z "$(awk '{print $2, $1}' "$1" | sort -u | awk '{print $1}' | uniq -d)" ]
}
in_order_per_key() { # values are a letter and a number that grows in production order
  awk '{ n = substr($3, 2) + 0; if (($2 in last) && n <= last[$2]) bad++; last[$2] = n }
       END { exit bad > 0 }' "$1"
}
no_common_lines() { [ -z "$(sort "$1" "$2" | uniq -d)" ]; }
ack_count() { grep -cxF "$1" "$tmp/mock.out" || true; }
acked() { [ "$(ack_count "$1")" -ge "$2" ]; } # acked "ok CMD" N: the Nth ack is there
command_mock() { # command_mock CMD: send CMD on the FIFO and wait for its ack
  local n; n=$(($(ack_count "ok $1") + 1))
  echo "$1" > "$tmp/control"
  wait_until 10 acked "ok $1" "$n"
}
signal_mock() { # signal_mock SIG ACK: send SIG and wait for the next ACK
  local n; n=$(($(ack_count "$2") + 1))
  kill -"$1" "$mock_pid"
  wait_until 10 acked "$2" "$n"
}
gen() { # gen LETTER FIRST LAST: "key<TAB>value" lines, 17 keys
  seq "$2" "$3" | awk -v l="$1" '{ printf "k%d\t%s%d\n", $1 % 17, l, $1 }'
}

# 1. Start: 3 brokers, the bootstrap list only once the cluster answers.
started=$SECONDS
"$MOCK" --brokers 3 --topic logs:3 --topic retry:1 --topic flow:3 \
  --bootstrap-file "$tmp/bootstrap" --control "$tmp/control" > "$tmp/mock.out" 2> "$tmp/mock.err" &
mock_pid=$!
wait_until 20 test -s "$tmp/bootstrap" || fatal "no bootstrap file within 20 s"
bs=$(cat "$tmp/bootstrap")
echo "cluster: $bs (ready after $((SECONDS - started)) s)"
three_on_loopback() {
  [[ $bs =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+){2}$ ]]
}
check "bootstrap lists 3 brokers, on 127.0.0.1 only" three_on_loopback
check "stdout line 1 is the bootstrap list" [ "$(head -n 1 "$tmp/mock.out")" = "$bs" ]
check "no temporary bootstrap file is left" [ -z "$(find "$tmp" -name 'bootstrap.tmp.*')" ]
kc -L -b "$bs" > "$tmp/metadata" 2>&1 || fatal "kcat -L: $(cat "$tmp/metadata")"
brokers_seen() { awk '$1 == "broker" && $3 == "at" {print $4}' "$1" | sort | paste -sd,; }
check "metadata: the 3 brokers of the bootstrap list" \
  [ "$(brokers_seen "$tmp/metadata")" = "$(tr , '\n' <<< "$bs" | sort | paste -sd,)" ]
has_topic() { grep -q "topic \"$1\" with $2 partitions" "$tmp/metadata"; }
check "metadata: logs has 3 partitions" has_topic logs 3
check "metadata: flow has 3 partitions" has_topic flow 3
check "metadata: retry has 1 partitions" has_topic retry 1

# 2. 5000 keyed messages through an idempotent producer.
N=5000
idem=(-X enable.idempotence=true -X acks=all)
gen m 1 $N > "$tmp/logs.in"
check "kcat produces $N keyed messages (idempotent, acks=all)" \
  kc -P -b "$bs" -t logs -K $'\t' "${idem[@]}" < "$tmp/logs.in"
consume logs > "$tmp/logs.out" || true
check "exactly $N arrive" lines_are "$tmp/logs.out" $N
check "all distinct" distinct_values_are $N "$tmp/logs.out"
check "17 keys" [ "$(column_values 2 "$tmp/logs.out")" -eq 17 ]
check "each key on one partition" one_partition_per_key "$tmp/logs.out"
check "all 3 partitions used" [ "$(column_values 1 "$tmp/logs.out")" -eq 3 ]
check "in production order per key" in_order_per_key "$tmp/logs.out"

# 3. A consumer group and its committed offsets. The mock's coordinator delays
#    a group's first join by 3 s and a rejoin by about session.timeout.ms, and
#    a session.timeout.ms under 3 s never completes a join (see the README).
group=(-G g1 logs -X session.timeout.ms=5000 -X heartbeat.interval.ms=500
       -X auto.offset.reset=earliest -q -f '%p %k %s\n')
t0=$SECONDS
kc -b "$bs" -c 2000 "${group[@]}" > "$tmp/g1.1" 2> "$tmp/g1.1.err" || true
kc -b "$bs" -e "${group[@]}" > "$tmp/g1.2" 2> "$tmp/g1.2.err" || true
check "group: the first member takes 2000" lines_are "$tmp/g1.1" 2000
check "group: the next one gets 3000" lines_are "$tmp/g1.2" 3000
check "group: none of them twice, together all $N" eval \
  'no_common_lines "$tmp/g1.1" "$tmp/g1.2" && distinct_values_are $N "$tmp/g1.1" "$tmp/g1.2"'
gen n $((N + 1)) $((N + 100)) > "$tmp/more.in"
check "100 more produced" kc -P -b "$bs" -t logs -K $'\t' "${idem[@]}" < "$tmp/more.in"
kc -b "$bs" -e "${group[@]}" > "$tmp/g1.3" 2> "$tmp/g1.3.err" || true
check "group: the next member gets exactly those 100" eval \
  'lines_are "$tmp/g1.3" 100 && [ -z "$(grep -v " n[0-9]*$" "$tmp/g1.3")" ]'
echo "group part: $((SECONDS - t0)) s"

# 4. Injected Produce errors (ApiKey 0, NOT_ENOUGH_REPLICAS = 19): retried.
check "control: 'error 0 19 3' is acknowledged" command_mock "error 0 19 3"
gen r 1 10 > "$tmp/retry.in"
check "a producer sends 10 messages" \
  kc -P -b "$bs" -t retry -K $'\t' "${idem[@]}" -X debug=msg < "$tmp/retry.in" 2> "$tmp/retry.err"
check "it met the injected errors" grep -q "Not enough in-sync replicas" "$tmp/retry.err"
consume retry > "$tmp/retry.out" || true
check "after its retries each message is there once" eval \
  'lines_are "$tmp/retry.out" 10 && distinct_values_are 10 "$tmp/retry.out"'
echo "no such command" > "$tmp/control"
check "control: a bad command gets 'err'" wait_until 10 acked "err no such command" 1

# 5. All brokers down and back while one producer keeps writing. kcat reads
#    its input 128 bytes ahead, so each batch is written whole; -T shows what
#    it has handed to librdkafka.
mkfifo "$tmp/producer.in"
exec 3<> "$tmp/producer.in" # read-write: the open does not wait for kcat; kcat must not inherit it
"$KCAT" -P -E -T -b "$bs" -t flow -K $'\t' "${idem[@]}" -X reconnect.backoff.max.ms=500 \
  < "$tmp/producer.in" > "$tmp/producer.tee" 2> "$tmp/producer.err" 3>&- &
producer_pid=$!
gen a 1 1000 >&3
flow_has_messages() { [ "$(count_of flow)" -gt 0 ]; }
wait_until 20 flow_has_messages || fatal "the producer delivered nothing"
signal_mock USR1 "ok down" || fatal "no ack for SIGUSR1"
gen b 1001 2000 >&3
check "while down, the producer takes messages" wait_until 20 grep -q $'\tb' "$tmp/producer.tee"
new_producer_fails() { ! echo x | kc -P -b "$bs" -t retry -X message.timeout.ms=2000 2> /dev/null; }
check "while down, a new producer fails" new_producer_fails
signal_mock USR2 "ok up" || fatal "no ack for SIGUSR2"
gen c 2001 3000 >&3
exec 3>&- # EOF: kcat sends the rest, waits for the deliveries and exits
if wait_until 30 gone "$producer_pid"; then
  check "the producer delivers everything and exits 0" wait "$producer_pid"
else
  check "the producer finishes within 30 s" false
  kill -9 "$producer_pid" 2> /dev/null || true
  wait "$producer_pid" 2> /dev/null || true
fi
producer_pid=''
consume flow > "$tmp/flow.out" || true
check "all 3000 arrive" lines_are "$tmp/flow.out" 3000
check "none twice" distinct_values_are 3000 "$tmp/flow.out"
check "each key on one partition" one_partition_per_key "$tmp/flow.out"
check "in production order per key" in_order_per_key "$tmp/flow.out"
kc -L -b "$bs" > "$tmp/metadata.up" 2>&1 || true
check "after up the brokers are on the same ports" \
  [ "$(brokers_seen "$tmp/metadata.up")" = "$(brokers_seen "$tmp/metadata")" ]
signal_mock USR1 "ok down" && signal_mock USR2 "ok up" || fatal "no ack for the second down/up"
gen z 11 11 > "$tmp/after.in"
check "after a second down/up a new producer succeeds" \
  kc -P -b "$bs" -t retry -K $'\t' "${idem[@]}" < "$tmp/after.in"
check "and its message is there" [ "$(count_of retry)" -eq 11 ]

# 6. SIGTERM: a clean exit.
kill -TERM "$mock_pid"
wait_until 15 gone "$mock_pid" || fatal "SIGTERM: the helper is still running after 15 s"
rc=0
wait "$mock_pid" || rc=$?
mock_pid=''
check "SIGTERM: the helper exits 0" [ "$rc" -eq 0 ]
check "and removes the FIFO it made" [ ! -e "$tmp/control" ]

echo "total: $((SECONDS - started)) s"
if [ "$failures" -ne 0 ]; then
  dump_logs
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
