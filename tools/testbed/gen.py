#!/usr/bin/python3
"""The "table walk" testbed task (docs/testbed.md, format: docs/testbed_format.md).

A table maps each of K keys to a next key (one random cycle through all keys) and a
digit; the model walks N steps from a start key, writing each step and the running
digit sum mod 10, and answers the final sum.

    /usr/bin/python3 tools/testbed/gen.py sample [--k 32 --n 64 --seed 1 --count 3]
    /usr/bin/python3 tools/testbed/gen.py check FILE.jsonl     # verify question/answer/solution
    /usr/bin/python3 tools/testbed/gen.py render-prompt [QUESTION]  # engine prompt (stdin if omitted)

check exits 1 naming the first record whose answer or solution differs from what
solve() derives from its question; 2 on unreadable input.
"""

import argparse
import json
import random
import re
import sys

KEYS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
INSTRUCTION = "\nPlease reason step by step, and put your final answer within \\boxed{}."


class Problem:
    def __init__(self, start, steps, entries):
        self.start = start        # key the walk starts at
        self.steps = steps        # N
        self.entries = entries    # list of (x, y, d) in display order (the walk's, from start)

    def question(self):
        table = " ".join(f":{x}{y}{d}" for x, y, d in self.entries)
        return f"Start at {self.start}. Take {self.steps} steps.\n{table}"


def generate(rng, k, n):
    """One problem with K keys and N steps, drawn from rng (a random.Random)."""
    if not 2 <= k <= len(KEYS):
        raise ValueError(f"K = {k} is out of range 2..{len(KEYS)}")
    if not 1 <= n <= 999:
        raise ValueError(f"N = {n} is out of range 1..999")
    keys = list(KEYS[:k])
    order = keys[:]
    rng.shuffle(order)  # the cycle order
    nxt = {order[i]: order[(i + 1) % k] for i in range(k)}
    digit = {x: rng.randrange(10) for x in keys}
    start = keys[rng.randrange(k)]
    # The table lists the entries in the walk's order from the start key: a model learns
    # that lookup in minutes, where a random order stayed at chance (docs/testbed.md).
    shown, x = [], start
    for _ in range(k):
        shown.append((x, nxt[x], digit[x]))
        x = nxt[x]
    return Problem(start, n, shown)


QUESTION_RE = re.compile(r"Start at ([A-Za-z])\. Take ([1-9][0-9]{0,2}) steps\.\n(.*)", re.S)
ENTRY_RE = re.compile(r":([A-Za-z])([A-Za-z])([0-9])")


def parse(question):
    """Problem from its question text; raises ValueError on malformed text."""
    m = QUESTION_RE.fullmatch(question)
    if not m:
        raise ValueError("question does not match 'Start at X. Take N steps.\\n<entries>'")
    entries = []
    for tok in m.group(3).split(" "):
        e = ENTRY_RE.fullmatch(tok)
        if not e:
            raise ValueError(f"malformed entry {tok!r}")
        entries.append((e.group(1), e.group(2), int(e.group(3))))
    k = len(entries)
    keys = [x for x, _, _ in entries]
    if k < 2 or sorted(keys) != sorted(KEYS[:k]):
        raise ValueError(f"entries must list each of the first {k} keys exactly once")
    nxt = {x: y for x, y, _ in entries}
    # One cycle through all keys.
    x, seen = keys[0], set()
    for _ in range(k):
        seen.add(x)
        x = nxt.get(x)
        if x is None:
            raise ValueError("next key outside the table")
    if len(seen) != k or x != keys[0]:
        raise ValueError("the next-key map is not one cycle through all keys")
    if m.group(1) not in nxt:
        raise ValueError(f"start key {m.group(1)} is not in the table")
    return Problem(m.group(1), int(m.group(2)), entries)


def solve(p):
    """(solution lines, answer digit) for problem p."""
    table = {x: (y, d) for x, y, d in p.entries}
    s, x, lines = 0, p.start, []
    for i in range(1, p.steps + 1):
        y, d = table[x]
        s = (s + d) % 10
        lines.append(f"{i}:{x}{y}{d}={s}\n")
        x = y
    return "".join(lines), s


def render_prompt(question):
    """The exact prompt vase feeds: Qwen3 chat template, one user message, thinking on."""
    return ("<|im_start|>user\n" + question + INSTRUCTION +
            "<|im_end|>\n<|im_start|>assistant\n")


def assistant_turn(p):
    lines, answer = solve(p)
    return "<think>\n" + lines + "</think>\n\n\\boxed{" + str(answer) + "}<|im_end|>"


def cmd_check(path):
    try:
        f = open(path, encoding="utf-8") if path != "-" else sys.stdin
    except OSError as e:
        print(f"{path}: {e.strerror}", file=sys.stderr)
        return 2
    count = 0
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
                q, ans, sol = rec["question"], rec["answer"], rec["solution"]
            except (ValueError, KeyError, TypeError) as e:
                print(f"{where}: not a record with question/answer/solution: {e}", file=sys.stderr)
                return 1
            try:
                p = parse(q)
            except ValueError as e:
                print(f"{where}: bad question: {e}", file=sys.stderr)
                return 1
            lines, answer = solve(p)
            if str(ans) != str(answer):
                print(f"{where}: answer {ans!r}, expected {answer!r}", file=sys.stderr)
                return 1
            if sol != lines:
                got, want = sol.splitlines(True), lines.splitlines(True)
                i = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                         min(len(got), len(want)))
                g = got[i] if i < len(got) else "<end>"
                w = want[i] if i < len(want) else "<end>"
                print(f"{where}: solution line {i + 1} is {g!r}, expected {w!r}", file=sys.stderr)
                return 1
            count += 1
    print(f"{path}: {count} records ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="print problems as JSONL question/answer/solution")
    s.add_argument("--k", type=int, default=32)
    s.add_argument("--n", type=int, default=64)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--count", type=int, default=3)
    c = sub.add_parser("check", help="verify a JSONL file of question/answer/solution")
    c.add_argument("file")
    r = sub.add_parser("render-prompt", help="print the engine prompt for a question")
    r.add_argument("question", nargs="?")
    args = ap.parse_args()
    if args.cmd == "sample":
        rng = random.Random(args.seed)
        for _ in range(args.count):
            p = generate(rng, args.k, args.n)
            lines, answer = solve(p)
            print(json.dumps({"question": p.question(), "answer": str(answer),
                              "solution": lines}))
        return 0
    if args.cmd == "check":
        return cmd_check(args.file)
    q = args.question if args.question is not None else sys.stdin.read()
    sys.stdout.write(render_prompt(q))
    return 0


if __name__ == "__main__":
    sys.exit(main())
