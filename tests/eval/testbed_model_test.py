#!/usr/bin/python3
"""The committed testbed model (models/testbed, docs/testbed.md) solves its task in vase.

    testbed_model_test.py VASE MODEL_DIR

For problems 0..4 of the eval task `testbed` (K=32, N=64), `vase run --temp 0` must show the
full cache writing all 64 steps right and grading the answer RIGHT, from the Hugging Face
directory and from its GGUF. This guards the model file, the loaders and the forward pass
together: a wrong weight, a broken RoPE or a bad tokenizer makes the walk deviate within a
few steps. An eval of one problem with --kv-window 24 (as in docs/results.md) must run
every cell, `full` included. (The accuracy over 200 problems is measured by `vase eval`, docs/results.md.)
"""
import json
import os
import subprocess
import sys
import tempfile


def main():
    vase, model = sys.argv[1], sys.argv[2]
    failures = []
    for path in (model, os.path.join(model, "testbed.gguf")):
        for problem in range(5):
            cmd = [vase, "run", "-m", path, "--task", "testbed", "--problem", str(problem),
                   "--temp", "0", "-t", "1"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                failures.append(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr[-300:]}")
                continue
            full = r.stdout.split("== full cache ==", 1)[-1].split("== vase ==", 1)[0]
            if "steps: all 64 right" not in full or "-> RIGHT" not in full:
                failures.append(f"{os.path.basename(path)} problem {problem}: full cache did not "
                                f"solve it:\n{full[-600:]}")
    # The grid of docs/results.md in miniature: window 24 for every cell, `full` included
    # (its default budget 4096 is no multiple of 24; full must ignore budget and window).
    with tempfile.TemporaryDirectory() as out:
        cmd = [vase, "eval", "-m", model, "--task", "testbed", "--policy", "full,vase",
               "--budget", "72", "--kv-window", "24", "--samples", "1", "--limit", "1",
               "--max-tokens", "700", "-t", "1", "-q", "--out", out]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            failures.append(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr[-300:]}")
        else:
            with open(os.path.join(out, "records.jsonl")) as f:
                records = [json.loads(line) for line in f if line.strip()]
            cells = sorted((x["policy"], x["correct"]) for x in records)
            if [c[0] for c in cells] != ["full", "vase"] or not cells[0][1]:
                failures.append(f"eval grid with --kv-window 24: records {cells}")
    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print("ok: the full cache solves problems 0..4 from the HF directory and the GGUF")
    return 0


if __name__ == "__main__":
    sys.exit(main())
