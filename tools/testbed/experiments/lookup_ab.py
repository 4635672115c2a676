#!/usr/bin/python3
"""Format experiment of 2026-11-23 (docs/testbed.md): trains a fresh testbed model for MINUTES
on one-lap problems (K in 2..12, N <= K: every lookup reads the prompt's table) and prints
every 90 s the teacher-forced accuracy of the lookups y1 and d1 on 30 K=8 N=8 problems.

    /usr/bin/python3 tools/testbed/experiments/lookup_ab.py A 13   # table entries ':xyd'
    /usr/bin/python3 tools/testbed/experiments/lookup_ab.py B 13   # value first ':ydx'
    /usr/bin/python3 tools/testbed/experiments/lookup_ab.py S 13   # ':xyd', QK-norm gains 2.5
    /usr/bin/python3 tools/testbed/experiments/lookup_ab.py R 13   # table inside the thinking
    /usr/bin/python3 tools/testbed/experiments/lookup_ab.py O 13   # entries in walk order

An optional third argument sets torch's threads (default 1). A and B ran side by side, S beside the main run. Variants A and B ran
before the norm weights were taken out of weight decay (which S and any rerun have).
"""
import math, os, random, sys, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gen
from model import CONFIG, Qwen3, encode, PAD
variant, minutes, seed = sys.argv[1], float(sys.argv[2]), 1
if variant == 'B':   # value first: ':ydx'
    gen.Problem.question = lambda self: f"Start at {self.start}. Take {self.steps} steps.\n" + " ".join(f":{y}{d}{x}" for x, y, d in self.entries)
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1); torch.manual_seed(seed)
m = Qwen3(CONFIG)
if variant == 'S':  # sharper attention possible from the start: QK-norm gains 2.5, not decayed
    for n_, p_ in m.named_parameters():
        if 'q_norm' in n_ or 'k_norm' in n_: p_.data.fill_(2.5)
nd = [p_ for n_, p_ in m.named_parameters() if 'norm' in n_]
de = [p_ for n_, p_ in m.named_parameters() if 'norm' not in n_]
opt = torch.optim.AdamW([dict(params=de), dict(params=nd, weight_decay=0.0)], lr=3e-3, betas=(0.9, 0.95), weight_decay=0.01)
rng = random.Random(seed)
SKIP = 2  # tokens of the assistant turn before the first line ("<think>", newline)


def render(p):
    """(prompt ids, assistant-turn ids): variant R moves the table out of the user turn into
    the start of the thinking, as untrained context (a diagnostic, not a task format)."""
    if variant == 'O':  # entries listed in the order of the walk from the start key
        nxt = {x: (y, d) for x, y, d in p.entries}
        order, x = [], p.start
        for _ in range(len(p.entries)):
            order.append((x,) + nxt[x])
            x = nxt[x][0]
        p = gen.Problem(p.start, p.steps, order)
    if variant != 'R':
        return encode(gen.render_prompt(p.question())), encode(gen.assistant_turn(p))
    head, table = p.question().split("\n", 1)
    turn = gen.assistant_turn(p)
    return (encode(gen.render_prompt(head) + "<think>\n" + table + "\n"),
            encode(turn[len("<think>\n"):]))


def ex(k, n):
    p = gen.generate(rng, k, n)
    pr, tu = render(p)
    return pr, tu, p
def batch():
    seqs, tot = [], 0
    while tot < 4096:
        k = rng.randint(2, 12); n = rng.randint(1, k)
        pr, tu, _ = ex(k, n); seqs.append((pr, tu)); tot += len(pr) + len(tu)
    L = max(len(a) + len(b) - 1 for a, b in seqs)
    ids = torch.full((len(seqs), L), PAD); tgt = torch.full((len(seqs), L), -100)
    for i, (pr, tu) in enumerate(seqs):
        f = pr + tu; ids[i, :len(f)-1] = torch.tensor(f[:-1]); tgt[i, len(pr)-1:len(f)-1] = torch.tensor(tu)
    return ids, tgt
def probe():
    prng = random.Random(99); ok = {'y': [0, 0], 'd': [0, 0]}
    m.eval()
    for _ in range(30):
        p = gen.generate(prng, 8, 8)
        pr, tu = render(p)
        with torch.no_grad():
            am = m(torch.tensor([(pr + tu)[:-1]]))[0].argmax(-1)
        lines, _ = gen.solve(p); off = len(pr) - 1 + (0 if variant == 'R' else SKIP)
        for ln in lines.splitlines(True):
            c = ln.index(':')
            for f, j in (('y', c + 2), ('d', c + 3)):
                t_idx = off + j - (len(pr) - 1)  # index of the field in the assistant turn
                ok[f][0] += int(am[len(pr) - 1 + t_idx] == tu[t_idx])
                ok[f][1] += 1
            off += len(ln)
    m.train()
    return ok['y'][0] / ok['y'][1], ok['d'][0] / ok['d'][1]
t0 = time.time(); step = 0; toks = 0; last = t0
while time.time() - t0 < minutes * 60:
    el = time.time() - t0
    lr = 3e-3 * min(1, el / 30)
    for g in opt.param_groups: g['lr'] = lr
    ids, tgt = batch()
    loss = torch.nn.functional.cross_entropy(m(ids).view(-1, 272), tgt.view(-1))
    opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0); opt.step()
    step += 1; toks += int((ids != PAD).sum())
    if time.time() - last > 90:
        last = time.time(); y, d = probe()
        print(f"{variant} {el:5.0f}s step {step} tok {toks} loss {loss.item():.3f} y1 {y:.3f} d1 {d:.3f}", flush=True)
