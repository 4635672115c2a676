#!/usr/bin/env bash
# Fuzzes each target until it has had CPU_SECONDS of CPU time (counted in
# build/fuzz/cpu.tsv, from /usr/bin/time around each run) or its clean runs
# in build/fuzz/history.tsv add up to EXECS executions, whichever comes first
# (the hardening issue's "30 minutes or 10 million executions"). Runs go in
# chunks of at most 600 s so that progress is recorded as it is made; a chunk
# that ends in a finding stops that target and leaves the log in build/fuzz/logs/.
# CPU time, not wall time, is what counts: a fuzzer beside other work is starved.
# Usage: scripts/fuzz_budget.sh TARGET...   (e.g. fuzz_gguf fuzz_npy)
# Environment: CPU_SECONDS (1800), EXECS (10000000), FUZZ_BIN (build/fuzz/fuzz).
# Build the targets first (scripts/fuzz.sh 0, or cmake --build build/fuzz --target fuzz_all).
set -uo pipefail
cd "$(dirname "$0")/.."
b=build/fuzz
bin=${FUZZ_BIN:-$b/fuzz}
cpu_budget=${CPU_SECONDS:-1800}
exec_budget=${EXECS:-10000000}
mkdir -p "$b/logs" "$b/artifacts"
[ -f "$b/cpu.tsv" ] || printf 'date\ttarget\twall_s\tcpu_s\texecs\tcov\tft\tresult\n' >"$b/cpu.tsv"
touch "$b/history.tsv"
for t in "$@"; do
  name=${t#fuzz_}
  while true; do
    c=$(awk -F'\t' -v t="$t" '$2==t && $4!="?"{s+=$4} END{print int(s)}' "$b/cpu.tsv")
    e=$(awk -F'\t' -v t="$t" '$2==t && $7=="ok"{e+=$4} END{print e+0}' "$b/history.tsv")
    rc=$((cpu_budget - c)); re=$((exec_budget - e))
    if [ $rc -le 0 ] || [ $re -le 0 ]; then echo "$t done: $c CPU s, $e executions"; break; fi
    chunk=$((rc < 600 ? rc : 600))
    log=$b/logs/$t.budget.log
    seeds=(); [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
    mkdir -p "$b/corpus/$name"
    start=$(date +%s); status=0
    /usr/bin/time -f "%U %S" -o "$log.time" "$bin/$t" -max_total_time=$chunk -runs=$re \
      -timeout=120 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$b/artifacts/$t-" \
      "$b/corpus/$name" "${seeds[@]}" >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - start))
    cpu=$(tail -1 "$log.time" | awk '{print int($1 + $2)}')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    r=ok; [ $status -ne 0 ] && r=FAILED
    d=$(date -u +%FT%TZ)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$t" "$elapsed" "${execs:-0}" "${cov:-?}" "${ft:-?}" \
      "$r" >>"$b/history.tsv"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$t" "$elapsed" "${cpu:-0}" "${execs:-0}" \
      "${cov:-?}" "${ft:-?}" "$r" >>"$b/cpu.tsv"
    echo "$t: $elapsed s wall, ${cpu:-0} s CPU, ${execs:-0} executions, coverage ${cov:-?}, $r"
    if [ $r != ok ]; then
      grep -E 'ERROR: |SUMMARY: ' "$log" | head -3
      echo "$t: stopped on a finding (log $log); replay a reported timeout before believing it"
      break
    fi
  done
done
