#!/usr/bin/python3
"""Teacher-forced loss and accuracy of a train.py checkpoint per field of the solution lines
`{i}:{x}{y}{d}={s}`: idx (step number), x (copy of the previous y), y1 and d1 (lookup in the
prompt's table, steps 1..K), y2 and d2 (steps after K, whose entry the chain also wrote K
lines earlier), s (running sum), end (the closing tokens). Shows which skill is missing.

    /usr/bin/python3 tools/testbed/probe.py [--ckpt tools/testbed/run/ckpt.pt] [--k 32 --n 64]
"""
import argparse
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402
from model import CONFIG, Qwen3, encode  # noqa: E402


def labels(p, n_tokens):
    lines, _ = gen.solve(p)
    out = ["think", "nl"]
    for i, ln in enumerate(lines.splitlines(True)):
        idx = ln.split(":")[0]
        lap = "1" if i < len(p.entries) else "2"
        out += ["idx"] * len(idx) + ["colon", "x", "y" + lap, "d" + lap, "eq", "s", "nl"]
    return out + ["end"] * (n_tokens - len(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(HERE, "run", "ckpt.pt"))
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--count", type=int, default=6)
    args = ap.parse_args()
    torch.set_num_threads(1)
    st = torch.load(args.ckpt, map_location="cpu")
    m = Qwen3(st.get("config", CONFIG))
    m.load_state_dict(st["model"])
    m.eval()
    print(f"step {st['step']}, {st['tokens']} tokens, K={args.k} N={args.n}")
    rng = random.Random(99)
    stats = {}
    for _ in range(args.count):
        p = gen.generate(rng, args.k, args.n)
        prompt = encode(gen.render_prompt(p.question()))
        turn = encode(gen.assistant_turn(p))
        with torch.no_grad():
            lp = torch.log_softmax(m(torch.tensor([(prompt + turn)[:-1]]))[0], -1)
        for j, (t, c) in enumerate(zip(turn, labels(p, len(turn)))):
            row = lp[len(prompt) - 1 + j]
            s = stats.setdefault(c, [0.0, 0, 0])
            s[0] -= float(row[t])
            s[1] += int(row.argmax()) == t
            s[2] += 1
    for c, (loss, right, n) in stats.items():
        print(f"{c:6s} loss {loss / n:.3f} acc {right / n:.3f} n {n}")


if __name__ == "__main__":
    main()
