#!/usr/bin/env bash
# Builds mailsift and runs every test, as CI does (each stage's header gives the seconds the
# previous stage took):
#   0. every C++ file formatted as .clang-format says (scripts/check-format.sh)
#   1. release build: unit tests (in parallel), then integration tests one at a time (real
#      smtp-source, smtp-sink, Postfix; they measure latency). While they run, which leaves
#      much of the CPU idle, the builds of stages 2 to 4 run alongside at the lowest priority
#      (nice 19), so that they only take what the integration tests leave.
#   2. asan-ubsan build: the unit tests under AddressSanitizer and UBSan
#   3. tsan build: the unit tests under ThreadSanitizer, with the suppressions of
#      scripts/tsan-suppressions.txt (third-party false positives only, each with its reason)
#   4. fuzz build (clang, libFuzzer): each fuzz target for a short while from its seed corpus,
#      as many at once as there are jobs (stages 1 to 3 replay every seed corpus already:
#      ctest's unit.fuzz_replay.<target>)
# Every build treats a compiler warning as an error (CMAKE_COMPILE_WARNING_AS_ERROR).
# Prereqs: scripts/install-deps.sh. Environment: FUZZ_SECONDS (default 10), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-10}

# stage NAME: prints the header of stage NAME with the seconds the previous stage took.
stage_name=""
stage_start=$SECONDS
stage() {
  if [[ -n $stage_name ]]; then
    echo "== $1   (previous stage, $stage_name: $((SECONDS - stage_start)) s)"
  else
    echo "== $1"
  fi
  stage_name=$1
  stage_start=$SECONDS
}

stage "format"
scripts/check-format.sh

stage "corpus"
MAILSIFT_CORPUS=$(scripts/fetch-corpus.sh)
export MAILSIFT_CORPUS

stage "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

stage "release unit tests"
ctest --preset release -L unit -j "$jobs"

# target:max_len, the longest input each fuzz target is given: past the limits of what it
# parses (metrics_http: the 8192-byte request head; html, scan: SpamAssassin's 8192-byte URIs
# and header values; uri: 64 KiB URIs; checks: the 10 KiB tar seed; received: two cut values;
# relay_reply: a line past the 4096-byte limit, or 101 lines; bayes_tokenizer: many lines, each
# a body line and some also headers, URIs and invisible text).
fuzz_targets="command:4096 data_framer:4096 header_meter:4096 mime:4096 cf:4096 html:10000
  uri:70000 scan:10000 checks:16384 mime_limits:4096 metrics_http:9000 config:8192
  relay_reply:8192 received:20000 bayes_tokenizer:8192"

# The builds of stages 2 to 4, one after another, at the lowest priority; their output goes to
# build/later-builds.log, printed when one fails.
cmake --preset asan-ubsan >/dev/null
cmake --preset tsan >/dev/null
cmake --preset fuzz >/dev/null
later_builds_log=build/later-builds.log
set -m  # the builds get their own process group, so that an early exit stops all of them
(
  set -e
  echo "-- asan-ubsan build"
  nice -n 19 cmake --build --preset asan-ubsan -j "$jobs" --target unit_tests
  echo "-- tsan build"
  nice -n 19 cmake --build --preset tsan -j "$jobs" --target unit_tests
  echo "-- fuzz build"
  # shellcheck disable=SC2046  # one word per target
  nice -n 19 cmake --build --preset fuzz -j "$jobs" \
    --target $(for t in $fuzz_targets; do echo "${t%%:*}_fuzz"; done)
) >"$later_builds_log" 2>&1 &
later_builds=$!
set +m
trap 'kill -- -"$later_builds" 2>/dev/null || true' EXIT

stage "release integration tests (the builds of stages 2-4 alongside, at nice 19)"
# One at a time: they measure latency.
ctest --preset release -L integration -j 1

stage "asan-ubsan, tsan and fuzz builds (what is left of them)"
if ! wait "$later_builds"; then
  tail -n 60 "$later_builds_log"
  echo "a build of stages 2-4 failed; its whole output: $later_builds_log" >&2
  exit 1
fi
trap - EXIT

stage "asan-ubsan unit tests"
ctest --preset asan-ubsan -j "$jobs"

stage "tsan unit tests"
ctest --preset tsan -j "$jobs"

stage "fuzzers (${fuzz_seconds} s each, ${jobs} at once)"
fuzz_out=$(mktemp -d)
run_fuzzer() {  # run_fuzzer TARGET MAX_LEN: its output in $fuzz_out/TARGET.log
  local work rc=0
  work=$(mktemp -d)
  cp testdata/fuzz/"$1"/* "$work"/
  build/fuzz/fuzz/"$1"_fuzz -max_total_time="$fuzz_seconds" -max_len="$2" -print_final_stats=1 \
    "$work" >"$fuzz_out/$1.log" 2>&1 || rc=$?
  rm -rf "$work"
  return "$rc"
}
fuzz_failed=0
running=0
for entry in $fuzz_targets; do
  run_fuzzer "${entry%%:*}" "${entry##*:}" &
  running=$((running + 1))
  if ((running >= jobs)); then
    wait -n || fuzz_failed=1
    running=$((running - 1))
  fi
done
while ((running > 0)); do
  wait -n || fuzz_failed=1
  running=$((running - 1))
done
for entry in $fuzz_targets; do
  echo "-- ${entry%%:*}_fuzz"
  tail -n 12 "$fuzz_out/${entry%%:*}.log"
done
rm -rf "$fuzz_out"
if ((fuzz_failed)); then
  echo "a fuzz target failed (its output above)" >&2
  exit 1
fi
stage "done"
echo "all test stages passed in $SECONDS s"
