"""`vase eval` survives SIGKILL: kill it mid-grid, run the same command
again, and the grid completes with exactly the expected records, none twice.
Usage: resume_test.py VASE_BINARY WORK_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

VASE, WORK = sys.argv[1], sys.argv[2]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
model = os.path.join(WORK, "model")
subprocess.run([VASE, "make-model", "--shape", "tiny", "--dtype", "f32", "--format", "hf",
                "--seed", "3", "--out", model], check=True, capture_output=True)
out = os.path.join(WORK, "run")
records = os.path.join(out, "records.jsonl")
cmd = [VASE, "eval", "-m", model, "--task", "aime24,aime25", "--policy", "full,vase,rkv",
       "--budget", "64,128", "--kv-window", "16", "--samples", "2", "--limit", "2",
       "--max-tokens", "96", "--out", out, "-t", "2", "-q"]
# per task: full (1 cell) + vase (2) + rkv (2) = 5 cells x 2 problems x 2 samples
EXPECTED = 2 * 5 * 2 * 2


def count_lines():
    try:
        with open(records, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 300
while count_lines() < 8 and proc.poll() is None and time.time() < deadline:
    time.sleep(0.05)
if proc.poll() is not None:
    sys.exit("eval finished before it could be killed; make the grid larger")
proc.send_signal(signal.SIGKILL)
proc.wait()
killed_at = count_lines()
print(f"killed after {killed_at} records")
# Simulate a torn write as well: half a line at the end.
with open(records, "ab") as f:
    f.write(b'{"task": "aime24", "problem_id": "x", "pol')

subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
with open(records) as f:
    lines = [json.loads(line) for line in f if line.strip()]
keys = [(r["task"], r["problem_id"], r["policy"], r["budget"], r["seed"]) for r in lines]
print(f"records: {len(lines)}, unique: {len(set(keys))}, expected: {EXPECTED}")
assert len(lines) == EXPECTED, f"{len(lines)} records, expected {EXPECTED}"
assert len(set(keys)) == EXPECTED, "duplicated samples"
for r in lines:
    for field in ("completion", "extracted", "correct", "tokens", "hit_max_tokens", "loop", "cache"):
        assert field in r, f"record lacks {field}"
# A third run has nothing left to do and writes nothing.
subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
assert count_lines() == EXPECTED
assert os.path.exists(os.path.join(out, "report.md"))
print("resume test passed")
