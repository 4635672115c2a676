#!/usr/bin/env bash
# Peak RSS of generating 2,048 and 8,192 tokens from one prompt with VaSE at
# budget 1024 (the fixed-budget cache: both must be equal within 1%), and of
# the full cache for comparison.
# Usage: bench/memory_fixed_budget.sh MODEL [VASE_BINARY]
set -euo pipefail
model=${1:?usage: bench/memory_fixed_budget.sh MODEL [VASE_BINARY]}
vase=${2:-build/release/bin/vase}
prompt="Write a long, careful derivation of the closed form of the sum of the first n cubes."
run() {  # policy n
  "$vase" generate -m "$model" -p "$prompt" -n "$2" --ignore-eos --temp 0.6 --seed 1 \
    --kv-policy "$1" --kv-budget 1024 --json -t 2 |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["peak_rss_bytes"], len(d["tokens"]), round(d["decode_tokens_per_s"], 2), d["cache"]["capacity"], d["cache"]["cache_bytes"], d["cache"]["eviction_passes"])'
}
printf '%-6s %6s %14s %8s %8s %10s %12s %7s\n' policy tokens peak_rss_bytes MiB tok/s capacity cache_bytes passes
for spec in "vase 2048" "vase 8192" "full 2048" "full 8192"; do
  set -- $spec
  read -r rss n tps cap bytes passes < <(run "$1" "$2")
  printf '%-6s %6s %14s %8.1f %8s %10s %12s %7s\n' "$1" "$n" "$rss" "$(echo "$rss/1048576" | bc -l)" "$tps" "$cap" "$bytes" "$passes"
done
