"""Numerics of the forward pass against the float64 numpy reference.

For several random tiny checkpoints (GQA ratios 1, 2, 4; tied and untied
embeddings; F32 weights) both of vase's paths (the scalar reference and the
threaded fast path) generate 64 greedy tokens; the float64 reference then
recomputes the logits of every step. Checks:
  * logits within 1e-4 relative error (max |vase - ref| / max |ref|) per step;
  * greedy tokens identical to the reference's argmax for all 64 steps;
  * the same checkpoint written as GGUF gives bitwise identical logits.
Usage: forward_ref_test.py VASE_BINARY WORK_DIR
"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ref"))
from qwen3_ref import Qwen3Reference  # noqa: E402

VASE, WORK = sys.argv[1], sys.argv[2]
STEPS = 64
TOLERANCE = 1e-4
PROMPT = [9707, 11, 1879, 0, 40, 1079, 264, 1273, 315, 279, 1849, 13]

SHAPES = [
    # name, hidden, layers, heads, kv heads, head_dim, intermediate, tied
    ("gqa1_tied", 64, 2, 4, 4, 16, 96, True),
    ("gqa2_untied", 64, 3, 4, 2, 16, 128, False),
    ("gqa4_untied", 96, 2, 8, 2, 24, 160, False),
    ("gqa4_tied_hd32", 128, 2, 8, 2, 32, 192, True),
]


def run(args):
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(args)}\n{proc.stderr}")
    return proc.stdout


def generate(model, dump, extra=()):
    out = run([VASE, "generate", "-m", model, "--prompt-ids", " ".join(map(str, PROMPT)),
               "-n", str(STEPS), "--temp", "0", "--ignore-eos", "--json", "-t", "2", "--kv-type", "f32",
               "--dump-logits", dump, *extra])
    return json.loads(out)["tokens"], np.load(dump).astype(np.float64)


failures = []
os.makedirs(WORK, exist_ok=True)
for seed, (name, hidden, layers, heads, kv, hd, inter, tied) in enumerate(SHAPES):
    hf = os.path.join(WORK, name)
    gguf = os.path.join(WORK, name + ".gguf")
    common = ["--shape", "tiny", "--hidden", str(hidden), "--layers", str(layers), "--heads", str(heads),
              "--kv-heads", str(kv), "--head-dim", str(hd), "--intermediate", str(inter),
              "--dtype", "f32", "--seed", str(100 + seed), "--tie" if tied else "--no-tie"]
    run([VASE, "make-model", *common, "--format", "hf", "--out", hf])
    run([VASE, "make-model", *common, "--format", "gguf", "--out", gguf])

    ref = Qwen3Reference(hf)
    for path_name, extra in (("fast", ()), ("reference", ("--reference",))):
        tokens, logits = generate(hf, os.path.join(WORK, f"{name}_{path_name}.npy"), extra)
        expected = ref.logits(PROMPT + tokens[:-1])[len(PROMPT) - 1 :]  # [STEPS, vocab]
        rel = np.abs(logits - expected).max(axis=1) / np.abs(expected).max(axis=1)
        greedy = expected.argmax(axis=1).tolist()
        print(f"{name} {path_name}: max rel error {rel.max():.2e}, greedy match "
              f"{sum(a == b for a, b in zip(greedy, tokens))}/{STEPS}")
        if rel.max() > TOLERANCE:
            failures.append(f"{name} {path_name}: relative error {rel.max():.2e} > {TOLERANCE}")
        if greedy != tokens:
            failures.append(f"{name} {path_name}: greedy tokens differ from the reference")
        if path_name == "fast":
            fast_tokens, fast_logits = tokens, logits
    g_tokens, g_logits = generate(gguf, os.path.join(WORK, f"{name}_gguf.npy"))
    same = g_tokens == fast_tokens and np.array_equal(g_logits, fast_logits)
    print(f"{name}: GGUF vs safetensors logits identical: {same}")
    if not same:
        failures.append(f"{name}: GGUF and safetensors logits differ")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print(f"{len(SHAPES) * 3} checks passed")
