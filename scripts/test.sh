#!/usr/bin/env bash
# Builds mailsift and runs every test, as CI does:
#   0. every C++ file formatted as .clang-format says (scripts/check-format.sh)
#   1. release build: unit tests and integration tests (real smtp-source, smtp-sink, Postfix)
#   2. asan-ubsan build: the unit tests under AddressSanitizer and UBSan
#   3. fuzz build (clang, libFuzzer): each fuzz target for a short while from its seed corpus
# The release build treats a compiler warning as an error (CMAKE_COMPILE_WARNING_AS_ERROR).
# Prereqs: scripts/install-deps.sh. Environment: FUZZ_SECONDS (default 30), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-30}

echo "== format"
scripts/check-format.sh

echo "== corpus"
MAILSIFT_CORPUS=$(scripts/fetch-corpus.sh)
export MAILSIFT_CORPUS

echo "== release build and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j 1

echo "== asan-ubsan build and unit tests"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j "$jobs" --target unit_tests
ctest --preset asan-ubsan -j "$jobs"

echo "== fuzzers (${fuzz_seconds}s each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs" --target command_fuzz data_framer_fuzz header_meter_fuzz mime_fuzz cf_fuzz html_fuzz uri_fuzz scan_fuzz checks_fuzz mime_limits_fuzz metrics_http_fuzz
for target in command data_framer header_meter mime cf html uri scan checks mime_limits \
    metrics_http; do
  work=$(mktemp -d)
  cp testdata/fuzz/"$target"/* "$work"/
  build/fuzz/fuzz/"$target"_fuzz -max_total_time="$fuzz_seconds" -max_len=4096 \
    -print_final_stats=1 "$work" 2>&1 | tail -n 12
  rm -rf "$work"
done
echo "all test stages passed"
