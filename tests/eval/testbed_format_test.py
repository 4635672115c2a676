#!/usr/bin/python3
"""The C++ and Python sides of the testbed agree (docs/testbed_format.md).

`vase testbed gen` problems for several K and N, and the eval tasks' problems,
go through tools/testbed/gen.py check, which re-derives answer and solution
from the question text with its own solver; every `prompt` field must equal
gen.py render-prompt of the question byte for byte. Then gen.py's own samples
go through `vase testbed solve`, which must reproduce their answers and
solutions. Bad options must fail with a message naming the option. Last, `vase
run` on a testbed problem with a random model: the problem shown, the token
counts and the 4x budget, both chains of thought checked step by step.

usage: testbed_format_test.py VASE GEN_PY
"""

import json
import os
import re
import subprocess
import sys
import tempfile


def run(cmd, stdin=None, expect_ok=True):
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if expect_ok and r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stderr}")
    return r


def main():
    vase, gen_py = sys.argv[1], sys.argv[2]
    py = sys.executable
    failures = []

    batches = []
    for k, n, count, seed in [(2, 1, 5, 0), (3, 7, 5, 1), (16, 24, 20, 2), (32, 64, 20, 3),
                              (52, 256, 5, 4), (52, 999, 2, 5), (7, 100, 10, 123456789)]:
        out = run([vase, "testbed", "gen", "--keys", str(k), "--steps", str(n), "--count",
                   str(count), "--seed", str(seed)]).stdout
        batches.append((f"K={k} N={n}", out))
    for task in ["testbed", "testbed-short", "testbed-long"]:
        out = run([vase, "testbed", "gen", "--task", task, "--count", "10"]).stdout
        batches.append((task, out))
    out = run([vase, "testbed", "gen", "--task", "testbed", "--first", "990", "--count", "10"]).stdout
    batches.append(("testbed 990..999", out))

    for label, out in batches:
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        if not rows:
            failures.append(f"{label}: no records")
            continue
        for row in rows:
            if set(row) != {"id", "question", "answer", "solution", "prompt"}:
                failures.append(f"{label}: fields {sorted(row)}")
        # gen.py re-solves each question and compares answer and solution.
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(out)
            path = f.name
        r = run([py, gen_py, "check", path], expect_ok=False)
        if r.returncode != 0:
            failures.append(f"{label}: gen.py check: {r.stderr.strip()}")
        if f"{len(rows)} records ok" not in r.stdout:
            failures.append(f"{label}: gen.py check did not report {len(rows)} records: {r.stdout!r}")
        # The engine prompt, byte for byte.
        for row in rows[:5]:
            want = run([py, gen_py, "render-prompt", row["question"]]).stdout
            if row["prompt"] != want:
                failures.append(f"{label} #{row['id']}: prompt {row['prompt']!r} != gen.py {want!r}")

    # A corrupted record must be caught by the check (the check is not vacuous).
    row = json.loads(batches[3][1].splitlines()[0])
    sol = row["solution"].splitlines(True)
    last = sol[-1]
    sol[-1] = last[:-2] + str((int(last[-2]) + 1) % 10) + "\n"
    row["solution"] = "".join(sol)
    r = run([py, gen_py, "check", "-"], stdin=json.dumps(row) + "\n", expect_ok=False)
    if r.returncode == 0:
        failures.append("gen.py check accepted a solution with a wrong last sum")

    # gen.py's problems, solved by vase from the question text alone.
    sample = run([py, gen_py, "sample", "--k", "20", "--n", "50", "--seed", "9", "--count",
                  "10"]).stdout
    solved = run([vase, "testbed", "solve"], stdin=sample).stdout
    for theirs, ours in zip(sample.splitlines(), solved.splitlines()):
        t, o = json.loads(theirs), json.loads(ours)
        if (t["question"], str(t["answer"]), t["solution"]) != (o["question"], o["answer"],
                                                               o["solution"]):
            failures.append(f"vase testbed solve disagrees with gen.py on {t['question']!r}")
    if len(solved.splitlines()) != 10:
        failures.append(f"vase testbed solve printed {len(solved.splitlines())} records, not 10")

    # Bad options: exit status 1..127 and a message naming the problem.
    for args, word in [(["--keys", "1"], "keys"), (["--keys", "53"], "keys"),
                       (["--steps", "0"], "steps"), (["--steps", "1000"], "steps"),
                       (["--count", "0"], "count"), (["--task", "aime25"], "aime25"),
                       (["--task", "nosuch"], "nosuch"),
                       (["--task", "testbed", "--first", "995", "--count", "10"], "995"),
                       (["--task", "testbed", "--keys", "5"], "keys")]:
        r = run([vase, "testbed", "gen"] + args, expect_ok=False)
        if not 1 <= r.returncode <= 127 or word not in r.stderr:
            failures.append(f"testbed gen {' '.join(args)}: exit {r.returncode}, {r.stderr!r}")
    r = run([vase, "testbed", "solve"], stdin='"Start at z. Take 3 steps.\\n:ab1 :ba2"\n',
            expect_ok=False)
    if not 1 <= r.returncode <= 127 or "line 1" not in r.stderr:
        failures.append(f"testbed solve of a bad question: exit {r.returncode}, {r.stderr!r}")

    # vase run on a testbed problem: a random model with the testbed tokenizer (its text is
    # noise; the flow, the budget and the step check are what is tested).
    tok_dir = os.path.dirname(os.path.abspath(gen_py))
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "m")
        run([vase, "make-model", "--shape", "tiny", "--vocab", "272", "--tokenizer", tok_dir,
             "--dtype", "f32", "--out", model])
        r = run([vase, "run", "--model", model, "--task", "testbed-short", "--problem", "3",
                 "-t", "1"])
        want = json.loads(run([vase, "testbed", "gen", "--task", "testbed-short", "--first", "3",
                               "--count", "1"]).stdout)
        out = r.stdout
        if f"problem  testbed-short #3 (answer {want['answer']})\n{want['question']}\n" not in out:
            failures.append(f"vase run: problem 3 of testbed-short not shown:\n{out[:400]}")
        m = re.search(r"prompt (\d+) \+ solution (\d+) tokens, up to (\d+) new; vase keeps (\d+) "
                      r"slots per head \(window (\d+)\)", out)
        if not m:
            failures.append(f"vase run: no budget line:\n{out}")
        else:
            prompt, solution, new, budget, window = map(int, m.groups())
            # One token per byte: the prompt and the assistant turn as gen.py writes them.
            specials = len("<|im_start|>") * 2 + len("<|im_end|>")
            turn = "\n" + want["solution"] + "\n\n\\boxed{" + want["answer"] + "}"
            if prompt != len(want["prompt"].encode()) - specials + 3 or \
                    solution != len(turn) + 3:  # + <think>, </think>, <|im_end|>
                failures.append(f"vase run: token counts {prompt}, {solution}")
            if budget % 16 or abs(budget - (prompt + solution) / 4) > 8 or not window < budget \
                    or budget % window or new < solution:
                failures.append(f"vase run: budget {budget}, window {window}, -n {new}")
        if out.count("steps: ") != 2 or "== full cache ==" not in out or "== vase ==" not in out:
            failures.append(f"vase run: missing step checks or sections:\n{out}")
        r = run([vase, "run", "--model", model, "--task", "testbed", "--problem", "1000"],
                expect_ok=False)
        if not 1 <= r.returncode <= 127 or "0..999" not in r.stderr:
            failures.append(f"vase run --problem 1000: exit {r.returncode}, {r.stderr!r}")

    if failures:
        print("\n".join("FAIL: " + f for f in failures))
        return 1
    print(f"ok: {sum(len(b[1].splitlines()) for b in batches)} problems agree with gen.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
