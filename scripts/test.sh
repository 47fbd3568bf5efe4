#!/usr/bin/env bash
# The whole test suite: a -Werror build and an ASan+UBSan build, each running
# every unit and integration test with ctest; the fuzz harnesses are built
# with clang's libFuzzer when clang is there.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

if command -v clang >/dev/null 2>&1; then
  echo "== libFuzzer harnesses (clang)"
  CC=clang scripts/build.sh build-fuzz -DLF_FUZZ=ON -DLF_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug
fi

echo "== ASan + UBSan build"
scripts/build.sh build-asan -DLF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== Release build (-Werror)"
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$jobs"
