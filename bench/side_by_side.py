#!/usr/bin/python3
"""vase and llama.cpp side by side on the same GGUF files, in one run.

The machines this project runs on are shared and noisy, so every comparison
here alternates the two programs round after round and reports medians and
ratios taken in the same window. llama.cpp is not part of vase: build it from
its own source outside this tree and pass its llama-bench with --llama-bench
(without it only vase's rows are measured).

Sections (--sections, comma-separated; default all):
  stream  STREAM-style read bandwidth (bench/stream.cpp), once per round
  d0      decode (tg) at depth 0 for every model: vase, llama.cpp fa on/off
  pp      prompt processing pp512 for every model: vase, llama.cpp
  seqs    vase decode with 1 and 16 parallel sequences (first model)
  depth   decode (tg --depth-gen, so that eviction passes are included) at depth 0
          and --depth with a full cache and with vase at budget 2048 (first model)
          in ONE interleaved vase run (--interleave --read-probe, --depth-reps
          repetitions): the depth / depth-0 ratio and the full cache's GB/s
          against the in-process read probe come from the same minutes;
          llama.cpp fa on/off at --depth; once, not per round (minutes)
  evict   share of decode time spent choosing and compacting at budget 4096,
          window 64, for vase, cur and rkv (first model); once

Bytes read per token = the GGUF's size (all weights are read once per step,
the tied embedding included as the output projection) + the slots attended
x --kv-bytes-per-slot (Qwen3-0.6B with a 16-bit cache: 28 layers x 8 KV heads
x 128 x 2 (K and V) x 2 bytes = 114,688).

Usage:
  /usr/bin/python3 bench/side_by_side.py --model bf16=q06b-bf16.gguf --model q8_0=q06b-q8.gguf \
      --llama-bench /path/to/llama-bench --rounds 3 --out bench-out
Writes OUT/side_by_side.json (every raw measurement) and OUT/side_by_side.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def run_json(cmd):
    """Runs cmd, returns its stdout parsed as JSON; exits with the command's stderr on failure."""
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"side_by_side: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    out = p.stdout
    start = out.find("[")
    try:
        rows = json.loads(out[start:])
    except (ValueError, json.JSONDecodeError) as e:
        sys.exit(f"side_by_side: {' '.join(cmd)}: output is not JSON ({e}):\n{out[:500]}")
    print(f"  {time.time() - t0:6.1f} s  {' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))}",
          file=sys.stderr, flush=True)
    return rows


class Bench:
    def __init__(self, args):
        self.a = args
        self.results = []  # dicts: section, name, model, tokens_per_s, extra...

    def vase(self, model, extra):
        cmd = [self.a.vase, "bench", "-m", model, "-t", str(self.a.threads), "-o", "json"] + extra
        return run_json(cmd)

    def llama(self, model, extra):
        cmd = [self.a.llama_bench, "-m", model, "-t", str(self.a.threads), "-o", "json"] + extra
        return run_json(cmd)

    def add(self, section, name, model, tps, **extra):
        row = {"section": section, "name": name, "model": model, "tokens_per_s": tps}
        row.update(extra)
        self.results.append(row)

    def stream(self):
        p = subprocess.run([self.a.stream], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"side_by_side: {self.a.stream} failed:\n{p.stderr}")
        for line in p.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "read":
                self.add("stream", "read GB/s (best)", "-", float(parts[1]), median=float(parts[2]))
                print(f"  stream read best {parts[1]} GB/s", file=sys.stderr)

    def d0(self, tag, model):
        n = str(self.a.n_gen)
        r = self.vase(model, ["-p", "0", "-n", n, "-d", "0", "-r", "2"])[0]
        self.add("d0", "vase", tag, r["tokens_per_s"], slots=r["cache_slots"])
        if self.a.llama_bench:
            for fa in ("1", "0"):
                r = self.llama(model, ["-p", "0", "-n", n, "-r", "2", "-fa", fa])[0]
                self.add("d0", f"llama.cpp fa {'on' if fa == '1' else 'off'}", tag, r["avg_ts"])

    def pp(self, tag, model):
        r = self.vase(model, ["-p", "512", "-n", "0", "-r", "2"])[0]
        self.add("pp", "vase", tag, r["tokens_per_s"])
        if self.a.llama_bench:
            for fa in ("1", "0"):
                r = self.llama(model, ["-p", "512", "-n", "0", "-r", "2", "-fa", fa])[0]
                self.add("pp", f"llama.cpp fa {'on' if fa == '1' else 'off'}", tag, r["avg_ts"])

    def seqs(self, tag, model):
        for s in ("1", "16"):
            r = self.vase(model, ["-p", "0", "-n", "32", "-d", "0", "--seqs", s, "-r", "2"])[0]
            self.add("seqs", f"vase seqs {s}", tag, r["tokens_per_s"])

    def depth(self, tag, model):
        d = str(self.a.depth)
        for r in self.vase(model, ["-p", "0", "-n", str(self.a.depth_gen), "-d", f"0,{d}",
                                   "--policy", "full,vase", "--budget", "2048",
                                   "-r", str(self.a.depth_reps), "--interleave", "--read-probe"]):
            if r["test"] == "read":
                self.add("depth_read", "vase read probe", tag, r["read_gb_s"],
                         best=r["read_gb_s_best"], probes=r["repetitions"])
                continue
            name = "vase full" if r["policy"] == "full" else f"vase {r['policy']} B{r['budget']}"
            self.add("depth", f"{name} d{r['depth']}", tag, r["tokens_per_s"],
                     sd=r["tokens_per_s_sd"], median=r["tokens_per_s_median"],
                     slots=r["cache_slots"], peak_rss_bytes=r["peak_rss_bytes"],
                     bytes_per_token=r["bytes_per_token"], read_gb_s=r["read_gb_s"])
        if self.a.llama_bench:
            for fa in ("1", "0"):
                r = self.llama(model, ["-p", "0", "-n", "16", "-d", d, "-r", "1", "-fa", fa])[0]
                self.add("depth", f"llama.cpp full fa {'on' if fa == '1' else 'off'}", tag, r["avg_ts"])

    def evict(self, tag, model):
        for r in self.vase(model, ["-p", "0", "-n", "128", "-d", "4160", "--policy", "vase,cur,rkv",
                                   "--budget", "4096", "--kv-window", "64", "-r", "2"]):
            self.add("evict", f"vase {r['policy']} B4096", tag, r["tokens_per_s"],
                     evict_share=r["evict_share"], slots=r["cache_slots"])


def median_of(results, section, name, model):
    v = [r["tokens_per_s"] for r in results
         if r["section"] == section and r["name"] == name and r["model"] == model]
    return (statistics.median(v), len(v)) if v else (None, 0)


def report(b, models):
    a, res = b.a, b.results
    lines = ["# vase and llama.cpp side by side", "",
             f"{a.threads} threads, {a.rounds} rounds alternating the programs; medians of the "
             "per-round means.", ""]
    bw, _ = median_of(res, "stream", "read GB/s (best)", "-")
    if bw:
        lines += [f"STREAM-style read bandwidth (median of rounds): {bw:.1f} GB/s", ""]

    def table(section, title, rows_of):
        lines.extend([f"## {title}", "", "| weights | program | tokens/s | rounds | vs llama.cpp fa on | vs llama.cpp fa off | extra |",
                      "|---|---|--:|--:|--:|--:|---|"])
        for tag, _ in models:
            names = []
            for r in res:
                if r["section"] == section and r["model"] == tag and r["name"] not in names:
                    names.append(r["name"])
            on, _ = median_of(res, section, "llama.cpp fa on", tag)
            off, _ = median_of(res, section, "llama.cpp fa off", tag)
            for name in names:
                v, n = median_of(res, section, name, tag)
                extra = rows_of(tag, name, v) if rows_of else ""
                ron = f"{v / on:.2f}x" if on and name.startswith("vase") else ""
                roff = f"{v / off:.2f}x" if off and name.startswith("vase") else ""
                lines.append(f"| {tag} | {name} | {v:.2f} | {n} | {ron} | {roff} | {extra} |")
        lines.append("")

    size = dict((tag, os.path.getsize(path)) for tag, path in models)

    def bandwidth(tag, name, v):
        slots = [r.get("slots") for r in res if r["model"] == tag and r["name"] == name and r.get("slots")]
        if not name.startswith("vase") or not slots or not v:
            return ""
        bytes_per_token = size[tag] + statistics.median(slots) * a.kv_bytes_per_slot
        gbs = bytes_per_token * v / 1e9
        share = f", {100 * gbs / bw:.0f}% of STREAM" if bw else ""
        return f"{bytes_per_token / 1e9:.3f} GB/token, {gbs:.1f} GB/s{share}"

    if any(r["section"] == "d0" for r in res):
        table("d0", f"Decode at depth 0 (tg{a.n_gen})", bandwidth)
    if any(r["section"] == "pp" for r in res):
        table("pp", "Prompt processing (pp512)", None)
    if any(r["section"] == "seqs" for r in res):
        tag = models[0][0]
        one, _ = median_of(res, "seqs", "vase seqs 1", tag)
        many, _ = median_of(res, "seqs", "vase seqs 16", tag)

        def flops(tag, name, v):
            bpw = {"bf16": 2, "f16": 2, "f32": 4, "q8_0": 34 / 32}.get(tag, 2)
            gflops = 2 * size[tag] / bpw * v / 1e9
            return f"{gflops:.0f} GFLOP/s of weight products"
        table("seqs", "Parallel sequences (total tokens/s)", flops)
        if one and many:
            lines += [f"16 sequences / 1 sequence: {many / one:.2f}x", ""]
    if any(r["section"] == "depth" for r in res):
        tag = models[0][0]
        probe, _ = median_of(res, "depth_read", "vase read probe", tag)

        def read_share(tag, name, v):
            gbs = [r.get("read_gb_s") for r in res
                   if r["section"] == "depth" and r["model"] == tag and r["name"] == name]
            if not gbs or not gbs[0]:
                return ""
            share = f", {gbs[0] / probe:.2f}x the read probe" if probe else ""
            return f"{gbs[0]:.1f} GB/s{share}"
        table("depth", f"Decode at depth 0 and {a.depth} (vase tg{a.depth_gen} in one run "
                       f"interleaving {a.depth_reps} repetitions; llama.cpp tg16 at {a.depth})",
              read_share)
        for r in res:
            if r["section"] == "depth_read" and r["model"] == tag:
                lines += [f"In-process read probe of that run (vase bench --read-probe): median "
                          f"{r['tokens_per_s']:.1f} GB/s, best {r['best']:.1f} GB/s over "
                          f"{r['probes']} probes", ""]
        v0, _ = median_of(res, "depth", "vase vase B2048 d0", tag)
        vd, _ = median_of(res, "depth", f"vase vase B2048 d{a.depth}", tag)
        if v0 and vd:
            lines += [f"vase B2048 at depth {a.depth} / vase B2048 at depth 0 (interleaved): "
                      f"{vd / v0:.2f}", ""]
    if any(r["section"] == "evict" for r in res):
        lines += ["## Eviction cost at budget 4096, window 64 (depth 4160, tg128)", "",
                  "| policy | tokens/s | share of decode time choosing + compacting |", "|---|--:|--:|"]
        for r in res:
            if r["section"] == "evict":
                lines.append(f"| {r['name']} | {r['tokens_per_s']:.2f} | {100 * r['evict_share']:.1f}% |")
        lines.append("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", required=True, metavar="TAG=GGUF",
                   help="weights tag (bf16, q8_0, f16) and GGUF path; repeatable; the first is used "
                        "for the seqs, depth and evict sections")
    p.add_argument("--vase", default="build/release/bin/vase")
    p.add_argument("--stream", default="build/release/bench/vase_stream")
    p.add_argument("--llama-bench", default="", help="llama.cpp's llama-bench (built outside vase)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n-gen", type=int, default=64)
    p.add_argument("--depth", type=int, default=16384)
    p.add_argument("--depth-gen", type=int, default=128,
                   help="tokens decoded per repetition in the depth section (covers eviction passes)")
    p.add_argument("--depth-reps", type=int, default=5,
                   help="repetitions of the depth section's interleaved vase run")
    p.add_argument("--kv-bytes-per-slot", type=int, default=114688)
    p.add_argument("--sections", default="stream,d0,pp,seqs,depth,evict")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    models = []
    for m in a.model:
        tag, sep, path = m.partition("=")
        if not sep or not os.path.isfile(path):
            sys.exit(f"side_by_side: --model {m}: expected TAG=PATH of an existing GGUF file")
        models.append((tag, path))
    for path in [a.vase, a.stream] + ([a.llama_bench] if a.llama_bench else []):
        if not os.access(path, os.X_OK):
            sys.exit(f"side_by_side: {path} is not an executable")
    sections = a.sections.split(",")
    unknown = set(sections) - {"stream", "d0", "pp", "seqs", "depth", "evict"}
    if unknown:
        sys.exit(f"side_by_side: unknown sections {sorted(unknown)}")
    os.makedirs(a.out, exist_ok=True)
    b = Bench(a)
    t0 = time.time()
    for rnd in range(a.rounds):
        print(f"round {rnd + 1}/{a.rounds} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
        if "stream" in sections:
            b.stream()
        for tag, path in models:
            if "d0" in sections:
                b.d0(tag, path)
            if "pp" in sections:
                b.pp(tag, path)
        if "seqs" in sections:
            b.seqs(*models[0])
    if "evict" in sections:
        b.evict(*models[0])
    if "depth" in sections:
        b.depth(*models[0])
    if "stream" in sections:
        b.stream()
    with open(os.path.join(a.out, "side_by_side.json"), "w") as f:
        json.dump({"threads": a.threads, "rounds": a.rounds, "models": dict(models),
                   "results": b.results}, f, indent=1)
    md = report(b, models)
    with open(os.path.join(a.out, "side_by_side.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    print(f"side_by_side: {time.time() - t0:.0f} s; wrote {a.out}/side_by_side.{{json,md}}", file=sys.stderr)


if __name__ == "__main__":
    main()
