#!/usr/bin/env bash
# Builds mailsift and runs every test, as CI does:
#   0. every C++ file formatted as .clang-format says (scripts/check-format.sh)
#   1. release build: unit tests and integration tests (real smtp-source, smtp-sink, Postfix)
#   2. asan-ubsan build: the unit tests under AddressSanitizer and UBSan
#   3. fuzz build (clang, libFuzzer): each fuzz target for a short while from its seed corpus
#      (stages 1 and 2 replay every seed corpus already: ctest's unit.fuzz_replay.<target>)
# The release build treats a compiler warning as an error (CMAKE_COMPILE_WARNING_AS_ERROR).
# Prereqs: scripts/install-deps.sh. Environment: FUZZ_SECONDS (default 10), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-10}

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
# target:max_len, the longest input each is given: past the limits of what it parses
# (metrics_http: the 8192-byte request head; html, scan: SpamAssassin's 8192-byte URIs and
# header values; uri: 64 KiB URIs; checks: the 10 KiB tar seed; received: two cut values;
# relay_reply: a line past the 4096-byte limit, or 101 lines).
fuzz_targets="command:4096 data_framer:4096 header_meter:4096 mime:4096 cf:4096 html:10000
  uri:70000 scan:10000 checks:16384 mime_limits:4096 metrics_http:9000 config:8192
  relay_reply:8192 received:20000"
cmake --preset fuzz >/dev/null
# shellcheck disable=SC2046  # one word per target
cmake --build --preset fuzz -j "$jobs" --target $(for t in $fuzz_targets; do echo "${t%%:*}_fuzz"; done)
for entry in $fuzz_targets; do
  target=${entry%%:*}
  work=$(mktemp -d)
  cp testdata/fuzz/"$target"/* "$work"/
  build/fuzz/fuzz/"$target"_fuzz -max_total_time="$fuzz_seconds" -max_len="${entry##*:}" \
    -print_final_stats=1 "$work" 2>&1 | tail -n 12
  rm -rf "$work"
done
echo "all test stages passed"
