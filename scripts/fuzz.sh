#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and
# runs each for SECONDS, one after another, starting from the seeds in
# fuzz/corpus/<target>/ plus whatever earlier runs found (kept in
# build/fuzz/corpus/<target>/, so repeated runs go deeper). Prints executions
# and coverage per target; exits non-zero if any target crashed, leaked, hung
# (a single input over 10 s) or ran out of memory. Reproducers are written to
# build/fuzz/artifacts/. Every run is appended to build/fuzz/history.tsv, and the
# totals per target over all runs (seconds, executions) are printed at the end.
# Usage: scripts/fuzz.sh [SECONDS=20] [TARGET...]   (targets: fuzz_gguf, ...)
# Environment: JOBS (build parallelism, default nproc), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
jobs=${JOBS:-$(nproc)}
build=build/fuzz

cmake --preset fuzz >/dev/null
cmake --build "$build" -j "$jobs" --target fuzz_all

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

mkdir -p "$build/artifacts" "$build/logs"
failed=0
summary=()
for t in "${targets[@]}"; do
  name=${t#fuzz_}
  work=$build/corpus/$name
  mkdir -p "$work"
  seeds=()
  if [ -d "fuzz/corpus/$name" ]; then seeds=("fuzz/corpus/$name"); fi
  log=$build/logs/$t.log
  status=0
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" ${FUZZ_ARGS:-} \
    "$work" "${seeds[@]}" >"$log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  result=ok
  if [ $status -ne 0 ]; then
    result="FAILED (exit $status; see $log)"
    failed=1
    grep -E 'ERROR: |SUMMARY: |invariant broken' "$log" | head -5 || true
  fi
  summary+=("$(printf '%-22s %6ss %12s execs %8s/s  cov %6s  ft %7s  corpus %-12s %s' \
    "$t" "$elapsed" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
  echo "${summary[-1]}"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$elapsed" "${execs:-0}" \
    "${cov:-?}" "${ft:-?}" "${result%% *}" >>"$build/history.tsv"
done
echo
echo "fuzz summary ($seconds s per target):"
printf '%s\n' "${summary[@]}"
echo
echo "totals over every run in $build/history.tsv:"
awk -F'\t' '{ s[$2] += $3; e[$2] += $4; n[$2] += 1 }
  END { for (t in s) printf "%-22s %3d runs %7d s %12d execs\n", t, n[t], s[t], e[t] }' \
  "$build/history.tsv" | sort
exit $failed
