#!/usr/bin/python3
"""Checks that vase runs an exported testbed model as torch does: greedy tokens and logits of
`vase generate --temp 0` against model.py's decoding, for a few fresh problems.

    /usr/bin/python3 tools/testbed/compare_vase.py VASE_BINARY MODEL_DIR|GGUF [--count 3] [-n 64]

Exits 1 when a greedy token differs or the logits differ by more than --tol.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402
from model import CONFIG, Qwen3, encode  # noqa: E402


def load(model_dir):
    """Qwen3 with the weights of model_dir/model.safetensors (F32 or BF16)."""
    with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    state = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        if h["dtype"] == "F32":
            t = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").copy())
        else:
            t = torch.from_numpy(np.frombuffer(data[a:b], dtype="<i2").copy()).view(
                torch.bfloat16).float()
        state[name[len("model."):]] = t.view(h["shape"])
    m = Qwen3(CONFIG)
    m.load_state_dict(state)
    return m.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vase")
    ap.add_argument("model")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--tol", type=float, default=2e-2)
    ap.add_argument("--extra", default="--kv-type f32", help="more vase generate options")
    args = ap.parse_args()
    # A GGUF file is compared with the torch weights of the HF directory beside it.
    m = load(args.model if os.path.isdir(args.model) else os.path.dirname(args.model))
    rng = random.Random(12345)
    ok = True
    for i in range(args.count):
        p = gen.generate(rng, args.k, args.steps)
        prompt = encode(gen.render_prompt(p.question()))
        want = m.greedy([prompt], args.n, stop=-1)[0]
        with torch.no_grad():
            ref = m(torch.tensor([prompt + want]))[0, len(prompt) - 1:-1].numpy()
        with tempfile.TemporaryDirectory() as tmp:
            npy = os.path.join(tmp, "logits.npy")
            cmd = [args.vase, "generate", "-m", args.model, "--prompt-ids",
                   " ".join(map(str, prompt)), "--temp", "0", "-n", str(args.n),
                   "--ignore-eos", "--json", "--dump-logits", npy] + args.extra.split()
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode != 0:
                print(res.stderr, file=sys.stderr)
                return 2
            got_logits = np.load(npy)
        k = min(len(got_logits), len(ref))
        diff = float(np.abs(got_logits[:k, :ref.shape[1]] - ref[:k]).max())
        got = [int(x) for x in got_logits.argmax(-1)]
        same = got == want[:len(got)]
        print(f"problem {i}: {len(got)} tokens, greedy tokens {'match' if same else 'DIFFER'}, "
              f"max |logit diff| {diff:.2e}")
        if not same:
            j = next(j for j in range(min(len(got), len(want))) if got[j] != want[j])
            print(f"  first difference at {j}: vase {got[j]} torch {want[j]}")
        ok &= same and diff <= args.tol
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
