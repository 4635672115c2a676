"""`vase eval --endpoint` sends the grid to an OpenAI-compatible server (here
`vase serve` on a random tiny model, loopback only) and records every sample
once, with the server's cache statistics.
Usage: endpoint_test.py VASE_BINARY WORK_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

VASE, WORK = sys.argv[1], sys.argv[2]
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
model = os.path.join(WORK, "model")
subprocess.run([VASE, "make-model", "--shape", "tiny", "--dtype", "f32", "--format", "hf",
                "--seed", "4", "--out", model], check=True, capture_output=True)
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
server = subprocess.Popen([VASE, "serve", "-m", model, "--host", "127.0.0.1", "--port", str(port),
                           "-t", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    out = os.path.join(WORK, "run")
    subprocess.run([VASE, "eval", "--endpoint", url, "-m", model, "--task", "aime25",
                    "--policy", "full,vase", "--budget", "64", "--kv-window", "32", "--samples", "2",
                    "--limit", "2", "--max-tokens", "80", "--out", out, "-q"], check=True, timeout=600)
    with open(os.path.join(out, "records.jsonl")) as f:
        records = [json.loads(line) for line in f]
    keys = {(r["problem_id"], r["policy"], r["budget"], r["seed"]) for r in records}
    assert len(records) == 8 and len(keys) == 8, f"{len(records)} records, {len(keys)} distinct"
    vase = [r for r in records if r["policy"] == "vase"]
    assert all(r["cache"]["policy"] == "vase" and r["cache"]["budget"] == 64 for r in vase), vase[0]["cache"]
    assert all(r["endpoint"] == url for r in records)
    print("endpoint test passed: 8 records")
finally:
    server.terminate()
    server.wait(timeout=30)
