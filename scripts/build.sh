#!/usr/bin/env bash
# Configures and builds logferry in build/ (or $1), warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DLF_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
