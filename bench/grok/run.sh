#!/usr/bin/env bash
# bench/grok: the SYSLOGLINE grammar over the 1M-line corpus.
#   bench/grok/run.sh [LINES] [EXPR]
# Prints the engine's cost over bare PCRE2 (bench_grok) and the CPU time of
# the whole `logferry grok` command (read, match, write JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-1000000}
expr=${2:-'%{SYSLOGLINE}'}
# Our figures are over bench/gen_corpus.py's corpus. LF_CORPUS_GEN may name
# another generator with the same flags, for a comparison; the corpus file
# is named after the generator's checksum, so one is never taken for another.
gen=${LF_CORPUS_GEN:-bench/gen_corpus.py}
mkdir -p bench/out
corpus=bench/out/corpus-$lines-$(cksum < "$gen" | cut -d" " -f1).log
[ -s "$corpus" ] || python3 "$gen" -n "$lines" -o "$corpus"
scripts/build.sh build-bench -DCMAKE_BUILD_TYPE=Release -DLF_TESTS=OFF >/dev/null

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== bench_grok"
build-bench/bench/bench_grok "$corpus" "$expr" 3
echo "== /usr/bin/time logferry grok -e '$expr' < $corpus > /dev/null"
/usr/bin/time -f "cpu %U user + %S sys = CPU-seconds; %e s wall; max RSS %M KiB" \
  build-bench/logferry grok -e "$expr" < "$corpus" > /dev/null
