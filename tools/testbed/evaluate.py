#!/usr/bin/python3
"""Greedy exact-answer and exact-solution accuracy of a checkpoint or an exported model on
fresh problems (torch, full attention = full cache).

    /usr/bin/python3 tools/testbed/evaluate.py [--ckpt tools/testbed/run/ckpt.pt |
        --model models/testbed] [--k 32 --n 64 --count 200 --seed 2026]
"""
import argparse
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_vase  # noqa: E402
import train  # noqa: E402
from model import CONFIG, Qwen3  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(HERE, "run", "ckpt.pt"))
    ap.add_argument("--model", help="an exported directory instead of --ckpt")
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        m = compare_vase.load(args.model)
        what = args.model
    else:
        st = torch.load(args.ckpt, map_location="cpu")
        m = Qwen3(st.get("config", CONFIG))
        m.load_state_dict(st["model"])
        what = f"{args.ckpt} (step {st['step']}, {st['tokens']} tokens)"
    a, s = train.evaluate(m, random.Random(args.seed), args.count, args.k, args.n)
    print(f"{what}: K={args.k} N={args.n}, {args.count} fresh problems (seed {args.seed}): "
          f"exact answer {a:.3f}, exact solution {s:.3f}")


if __name__ == "__main__":
    main()
