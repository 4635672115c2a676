#!/usr/bin/python3
"""`vase bench` through the real binary, on tiny random models.

Checks that --interleave measures the same rows in the same order as the
default mode, that every tg row has rates, that bytes_per_token is the bytes
of the weights a decode step reads plus the K/V it attends to (computed here
from config.json alone), that --read-probe adds a "read" row and the markdown
line, and that bad options fail with a message naming the problem.
Run: bench_test.py PATH/TO/vase
"""

import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_tokenizer  # noqa: E402

# hidden 64, 2 layers, 4 query heads and 2 KV heads of 16, feed-forward 128.
SHAPE = ["--hidden", "64", "--intermediate", "128", "--layers", "2", "--heads", "4",
         "--kv-heads", "2", "--head-dim", "16"]
ELEMENT_BYTES = {"bf16": 2, "f16": 2, "f32": 4}
# Depth 48 > budget 32, so the vase rows evict before and while they are timed.
GRID = ["-p", "8", "-n", "8", "-d", "0,48", "--policy", "full,vase", "--budget", "32",
        "--kv-window", "8", "--seqs", "1,2", "-r", "2", "-t", "2"]
ROW_ID = ("test", "depth", "policy", "budget", "seqs")

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def make_model(vase, tmp, tok, dtype, tie):
    out = os.path.join(tmp, f"{dtype}-{tie}")
    subprocess.run([vase, "make-model", "--shape", "tiny", "--tokenizer", tok,
                    "--vocab", str(tiny_tokenizer.n_ids()), "--dtype", dtype, tie, "--out", out,
                    *SHAPE], check=True, stderr=subprocess.DEVNULL)
    return out


def bench(vase, model, args):
    p = subprocess.run([vase, "bench", "-m", model, *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"vase bench {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p.stdout


def expected_bytes(model, dtype, kv_type):
    """(weight bytes a decode step reads, K/V bytes of one cache slot) from config.json."""
    with open(os.path.join(model, "config.json")) as f:
        c = json.load(f)
    h, inter, layers = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    hd = c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    w = ELEMENT_BYTES[dtype]
    matrices = q * h + 2 * kv * h + h * q + 3 * inter * h  # q, k, v, o, gate, up, down
    norms = 4 * (2 * h + 2 * hd)                           # f32: attn, ffn, q, k norms
    head = c["vocab_size"] * h * w                         # lm_head, or the tied embedding
    weights = layers * (matrices * w + norms) + head + 4 * h  # + final norm
    return weights, 2 * layers * kv * ELEMENT_BYTES[kv_type]


def check_bytes(rows, model, dtype, kv_type, n_gen, label):
    weights, slot = expected_bytes(model, dtype, kv_type)
    for r in rows:
        name = f"{label} {r['test']} d{r['depth']} {r['policy']} seqs {r['seqs']}"
        if not r["test"].startswith("tg") or r["seqs"] != 1:
            check(r["bytes_per_token"] is None and r["read_gb_s"] is None,
                  f"{name}: bytes_per_token/read_gb_s must be null, got {r['bytes_per_token']}")
            continue
        bpt = r["bytes_per_token"]
        if r["policy"] == "full":
            # After step i of n the cache holds the prompt (at least 1 token) + i slots.
            mean_slots = max(1, r["depth"]) + (n_gen + 1) / 2
            check(close(bpt, weights + mean_slots * slot),
                  f"{name}: bytes_per_token {bpt} != {weights} + {mean_slots} x {slot}")
        else:
            # The mean slot count is only given rounded down; the weights part is exact.
            kv_slots = (bpt - weights) / slot
            check(r["cache_slots"] <= kv_slots < r["cache_slots"] + 1,
                  f"{name}: bytes_per_token {bpt} - weights {weights} is {kv_slots} slots, "
                  f"cache_slots {r['cache_slots']}")
        check(close(r["read_gb_s"], bpt * r["tokens_per_s"] / 1e9),
              f"{name}: read_gb_s {r['read_gb_s']} != bytes_per_token x tokens_per_s")


def main():
    vase = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        tok = tiny_tokenizer.write(os.path.join(tmp, "tok"))
        model = make_model(vase, tmp, tok, "bf16", "--tie")

        interleaved = json.loads(
            bench(vase, model, GRID + ["-o", "json", "--interleave", "--read-probe"]))
        plain = json.loads(bench(vase, model, GRID + ["-o", "json"]))
        reads = [r for r in interleaved if r["test"] == "read"]
        rows = [r for r in interleaved if r["test"] != "read"]
        # 2 depths x (pp8 + tg8 full x 2 seqs + tg8 vase x 2 seqs)
        check(len(plain) == 10, f"default mode: {len(plain)} rows, expected 10")
        ids = [tuple(r[k] for k in ROW_ID) for r in rows]
        check(ids == [tuple(r[k] for k in ROW_ID) for r in plain],
              "--interleave: rows differ from the default mode's or come in another order")
        check(all(set(r) == set(plain[0]) for r in interleaved + plain), "rows have different keys")
        check(all(r["interleaved"] for r in interleaved)
              and not any(r["interleaved"] for r in plain), "the 'interleaved' field is wrong")
        for r in rows + plain:
            check(r["repetitions"] == 2 and r["tokens_per_s"] > 0 and r["tokens_per_s_median"] > 0,
                  f"{r['test']} d{r['depth']} {r['policy']}: no rates ({r['tokens_per_s']}, "
                  f"median {r['tokens_per_s_median']}, {r['repetitions']} repetitions)")
        for r in rows:
            if r["policy"] == "vase" and r["depth"] == 48:
                check(r["cache_slots"] < 48,
                      f"vase at depth 48 kept {r['cache_slots']} slots: no eviction")
        check_bytes(rows, model, "bf16", "f16", 8, "bf16 tied")
        check_bytes(plain, model, "bf16", "f16", 8, "bf16 tied (default mode)")
        check(len(reads) == 1 and interleaved[-1]["test"] == "read", "no read row at the end")
        if reads:
            r = reads[0]
            check(r["read_gb_s"] > 0 and r["read_gb_s_best"] >= r["read_gb_s"]
                  and r["tokens_per_s"] == 0,
                  f"read row: read_gb_s {r['read_gb_s']}, best {r['read_gb_s_best']}")
            check(r["repetitions"] == 2,
                  f"read row: {r['repetitions']} probes with -r 2 interleaved")

        # An untied f32 model with an f32 cache: other element sizes in the sum.
        f32 = make_model(vase, tmp, tok, "f32", "--no-tie")
        rows = json.loads(bench(vase, f32, ["-p", "0", "-n", "4", "-d", "8", "-r", "1",
                                            "-t", "2", "--kv-type", "f32", "-o", "json"]))
        check(len(rows) == 1, f"f32: {len(rows)} rows")
        check_bytes(rows, f32, "f32", "f32", 4, "f32 untied")

        md = bench(vase, model, GRID + ["--read-probe"]).splitlines()
        table = [line for line in md if line.startswith("| BF16 ")]
        line_re = r"read probe: median [0-9.]+ GB/s, best [0-9.]+ GB/s over (\d+) probes"
        probe = [m for m in (re.fullmatch(line_re, line) for line in md) if m]
        check(len(table) == 10, f"markdown: {len(table)} table rows, expected 10")
        check(len(probe) == 1 and probe[0].group(1) == "10",
              "markdown: no 'read probe: ... over 10 probes' line (one probe per row):\n"
              + "\n".join(md))

        bad = [(["-r", "0"], "-r must be at least 1"),
               (["--seqs", "0"], "--seqs 0 is out of range"),
               (["--policy", "nosuch"], "unknown eviction policy 'nosuch'"),
               (["--policy", "vase", "--budget", "30", "--kv-window", "8"],
                "budget (30) must be a multiple of the window (8)")]
        for args, message in bad:
            p = subprocess.run([vase, "bench", "-m", model, "-p", "0", "-n", "4", *args],
                               capture_output=True, text=True)
            check(1 <= p.returncode <= 127 and message in p.stderr
                  and "terminate called" not in p.stderr,
                  f"bench {' '.join(args)}: exit {p.returncode}, stderr {p.stderr.strip()!r}, "
                  f"expected {message!r}")
    if failures:
        sys.exit(f"{len(failures)} failures")
    print("bench_test: ok")


if __name__ == "__main__":
    main()
