#!/usr/bin/env bash
# Builds the `sanitize` preset (AddressSanitizer + UndefinedBehaviorSanitizer,
# leaks included) and runs the test suite under it. Any sanitizer report fails
# the test that triggered it (UBSan aborts: -fno-sanitize-recover).
# Usage: scripts/sanitize.sh [ctest args, e.g. -R model or -E slow]
# Environment: VASE_SANITIZE_DIR (default build/sanitize), JOBS (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${VASE_SANITIZE_DIR:-build/sanitize}
jobs=${JOBS:-$(nproc)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
start=$(date +%s)
cmake --preset sanitize -B "$dir" >/dev/null
cmake --build "$dir" -j "$jobs"
built=$(date +%s)
status=0
ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" || status=$?
end=$(date +%s)
echo "sanitize: build $((built - start)) s, tests $((end - built)) s, exit $status"
exit $status
