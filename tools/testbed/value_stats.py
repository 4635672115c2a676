#!/usr/bin/python3
"""Per-layer statistics of the value-vector ranges in a `vase eval` run (docs/results.md).

Each record's `cache.value_range_hist` counts, per layer, the range max - min of every value
vector left in the cache at the end of the sample (docs/eval.md). This sums the histograms of
each policy's records and prints, per layer, the median range, the 99th percentile, the largest
range seen, and the share of vectors whose range is at least 4x the layer's median under the
full cache (the "abnormally large" values of the VaSE paper).

    /usr/bin/python3 tools/testbed/value_stats.py OUT/records.jsonl [MORE.jsonl ...] \
        [--policy full,vase,evict_large] [--json]

Quantiles are read off log-spaced bins (four per octave), so they are bin edges, good to
about 19 %. Exit 2 on unreadable input.
"""
import argparse
import json
import sys


def load(paths, policies):
    """{policy: (edges, [[counts per bin] per layer])} summed over the records."""
    sums = {}
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path}:{n}: not JSON ({e})")
                if policies and r.get("policy") not in policies:
                    continue
                h = (r.get("cache") or {}).get("value_range_hist")
                if not h:
                    continue
                edges, layers = h["edges"], h["layers"]
                if r["policy"] not in sums:
                    sums[r["policy"]] = (edges, [[0] * len(c) for c in layers])
                e0, acc = sums[r["policy"]]
                if e0 != edges or len(acc) != len(layers):
                    continue
                for a, c in zip(acc, layers):
                    for i, x in enumerate(c):
                        a[i] += x
    return sums


def quantile(edges, counts, q):
    """Lower edge of the bin holding quantile q."""
    total = sum(counts)
    seen = 0
    for i, c in enumerate(counts):
        seen += c
        if seen >= q * total:
            return edges[i]
    return edges[-2]


def share_at_least(edges, counts, threshold):
    total = sum(counts)
    return sum(c for i, c in enumerate(counts) if edges[i] >= threshold) / total if total else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("records", nargs="+")
    ap.add_argument("--policy", default="", help="comma-separated; default every policy")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    try:
        sums = load(a.records, set(p for p in a.policy.split(",") if p))
    except OSError as e:
        print(f"value_stats: {e}", file=sys.stderr)
        sys.exit(2)
    if "full" not in sums:
        print("value_stats: no record of policy 'full' carries value_range_hist", file=sys.stderr)
        sys.exit(2)
    edges_full, full = sums["full"]
    medians = [quantile(edges_full, c, 0.5) for c in full]
    rows = []
    for policy, (edges, layers) in sorted(sums.items(), key=lambda kv: kv[0] != "full"):
        for layer, c in enumerate(layers):
            rows.append(dict(policy=policy, layer=layer, vectors=sum(c),
                             median=quantile(edges, c, 0.5), p99=quantile(edges, c, 0.99),
                             max=max(edges[i] for i, x in enumerate(c) if x) if sum(c) else 0.0,
                             share_4x_full_median=share_at_least(edges, c, 4 * medians[layer])))
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    print("| policy | layer | vectors | median range | p99 | largest | share >= 4x full median |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(f"| {r['policy']} | {r['layer']} | {r['vectors']} | {r['median']:.3g} | "
              f"{r['p99']:.3g} | {r['max']:.3g} | {100 * r['share_4x_full_median']:.2f}% |")


if __name__ == "__main__":
    main()
