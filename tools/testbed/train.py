#!/usr/bin/python3
"""Trains the testbed Qwen3 model on the table-walk task (docs/testbed.md) on the CPU.

    nice -n 10 /usr/bin/python3 tools/testbed/train.py --minutes 110 \
        > tools/testbed/run/log.txt 2>&1 &

Problems are generated on the fly (gen.py), rendered as the exact engine prompt plus the
assistant turn; the loss covers the assistant turn only. Checkpoints go to RUN/ckpt.pt every
--ckpt-min minutes and a restart resumes from there (the learning-rate schedule follows the
training time recorded in the checkpoint). RUN/train.csv logs the loss; RUN/eval.csv the
greedy exact-answer accuracy on fresh default-difficulty problems.
"""
import argparse
import csv
import math
import os
import random
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402
from model import CONFIG, PAD, Qwen3, decode, encode  # noqa: E402

DEFAULT_K, DEFAULT_N = 32, 64


def sample_problem(rng, frac, p_default, n_cap=None, p_small=0.0, one_lap=False):
    """(K, N) for one training problem at training fraction frac (N <= n_cap if given;
    N <= K if one_lap); with probability p_small a small one-lap problem (K <= 12, N <= K)."""
    r = rng.random()
    if r < p_default:
        return DEFAULT_K, DEFAULT_N
    if r < p_default + p_small:
        k = rng.randint(2, 12)
        return k, rng.randint(1, k)
    k = rng.randint(2, 52) if rng.random() < 0.25 else rng.randint(2, 40)
    n_max = int(24 + (96 - 24) * min(1.0, frac / 0.3))
    return k, rng.randint(1, min(k, n_cap or n_max) if one_lap else (n_cap or n_max))


def example(rng, k, n):
    p = gen.generate(rng, k, n)
    prompt = encode(gen.render_prompt(p.question()))
    turn = encode(gen.assistant_turn(p))
    return prompt, turn


def make_batches(rng, frac, args, pool_tokens=4):
    """Batches [(ids [B, T], targets [B, T] (-100 outside the assistant turn), is_default [B])]
    from a pool of about pool_tokens * batch_tokens tokens of problems, sorted by length so
    that little padding is needed, in random order."""
    p_default = min(args.p_default_max, args.p_default_min +
                    (args.p_default_max - args.p_default_min) * frac / 0.4)
    pool, total = [], 0
    while total < pool_tokens * args.batch_tokens:
        k, n = sample_problem(rng, frac, p_default, args.n_cap, args.p_small, args.one_lap)
        prompt, turn = example(rng, k, n)
        pool.append((prompt, turn, (k, n) == (DEFAULT_K, DEFAULT_N)))
        total += len(prompt) + len(turn) - 1
    pool.sort(key=lambda e: len(e[0]) + len(e[1]))
    groups, cur = [], []
    for e in pool:
        length = len(e[0]) + len(e[1]) - 1
        if cur and length * (len(cur) + 1) > args.batch_tokens:
            groups.append(cur)
            cur = []
        cur.append(e)
    groups.append(cur)
    rng.shuffle(groups)
    batches = []
    for seqs in groups:
        longest = max(len(p) + len(t) - 1 for p, t, _ in seqs)
        ids = torch.full((len(seqs), longest), PAD, dtype=torch.long)
        tgt = torch.full((len(seqs), longest), -100, dtype=torch.long)
        for i, (prompt, turn, _) in enumerate(seqs):
            full = prompt + turn
            ids[i, :len(full) - 1] = torch.tensor(full[:-1])
            tgt[i, len(prompt) - 1:len(full) - 1] = torch.tensor(turn)
        batches.append((ids, tgt, torch.tensor([d for _, _, d in seqs])))
    return batches


def evaluate(model, rng, count, k=DEFAULT_K, n=DEFAULT_N, batch=50):
    """(exact-answer accuracy, exact-solution accuracy) of greedy decoding on fresh problems."""
    model.eval()
    right_answer = right_solution = 0
    for b0 in range(0, count, batch):
        probs = [gen.generate(rng, k, n) for _ in range(min(batch, count - b0))]
        prompts = [encode(gen.render_prompt(p.question())) for p in probs]
        want = [gen.assistant_turn(p) for p in probs]
        max_new = max(len(encode(w)) for w in want) + 16
        outs = model.greedy(prompts, max_new)
        for p, w, o in zip(probs, want, outs):
            text = decode(o)
            _, answer = gen.solve(p)
            tail = text.split("</think>")[-1]
            right_answer += "</think>" in text and tail.strip().startswith(
                "\\boxed{" + str(answer) + "}")
            right_solution += text == w
    model.train()
    return right_answer / count, right_solution / count


def lr_at(args, t):
    if t < args.warmup_s:
        return args.lr * max(t, 1.0) / args.warmup_s
    frac = min(1.0, (t - args.warmup_s) / max(1.0, args.minutes * 60 - args.warmup_s))
    return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def save(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=os.path.join(HERE, "run"))
    ap.add_argument("--minutes", type=float, default=110, help="training time budget")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup-s", type=float, default=60)
    ap.add_argument("--batch-tokens", type=int, default=8192)
    ap.add_argument("--p-default-min", type=float, default=0.15)
    ap.add_argument("--p-default-max", type=float, default=0.6)
    ap.add_argument("--one-lap", action="store_true",
                    help="N <= K in every problem but the default ones: each lookup must read the "
                         "prompt's table, as no earlier line holds the entry")
    ap.add_argument("--n-cap", type=int, default=None,
                    help="cap on N of the mixed-in problems (instead of the growing 24..96)")
    ap.add_argument("--p-small", type=float, default=0.0,
                    help="share of small single-pass problems (K <= 12, N <= K)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ckpt-min", type=float, default=3)
    ap.add_argument("--eval-min", type=float, default=10)
    ap.add_argument("--eval-count", type=int, default=50)
    ap.add_argument("--target", type=float, default=0.98,
                    help="stop when a 200-problem check reaches this exact-answer accuracy")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    ckpt = os.path.join(args.run, "ckpt.pt")
    torch.manual_seed(args.seed)
    model = Qwen3(CONFIG).to(args.device)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95),
                            weight_decay=0.01)
    step, tokens, trained_s, last_eval_s = 0, 0, 0.0, 0.0
    if os.path.exists(ckpt):
        st = torch.load(ckpt, map_location=args.device)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        step, tokens, trained_s = st["step"], st["tokens"], st["trained_s"]
        last_eval_s = st.get("last_eval_s", trained_s)
        print(f"resumed from {ckpt}: step {step}, {tokens} tokens, {trained_s:.0f} s", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"params {n_params}, config {CONFIG}, args {vars(args)}", flush=True)
    rng = random.Random(args.seed * 1000003 + step)
    eval_rng = random.Random(args.seed * 7919 + 17 + step)

    train_csv = os.path.join(args.run, "train.csv")
    eval_csv = os.path.join(args.run, "eval.csv")
    new_t, new_e = not os.path.exists(train_csv), not os.path.exists(eval_csv)
    tf, ef = open(train_csv, "a", newline=""), open(eval_csv, "a", newline="")
    tw, ew = csv.writer(tf), csv.writer(ef)
    if new_t:
        tw.writerow(["step", "tokens", "loss", "loss_default", "tok_acc", "lr", "tokens_per_s",
                     "trained_s", "wall"])
    if new_e:
        ew.writerow(["step", "tokens", "trained_s", "count", "answer_acc", "solution_acc",
                     "wall"])

    def checkpoint():
        save(ckpt, dict(model=model.state_dict(), opt=opt.state_dict(), step=step,
                        tokens=tokens, trained_s=trained_s, last_eval_s=last_eval_s,
                        config=CONFIG))
        tf.flush()
        ef.flush()

    last_ckpt = time.time()
    t_log, tok_log = time.time(), 0
    budget_s = args.minutes * 60
    queue = []
    while trained_s < budget_s:
        t0 = time.time()
        frac = trained_s / budget_s
        if not queue:
            queue = make_batches(rng, frac, args)
        ids, tgt, is_def = (x.to(args.device) for x in queue.pop())
        lr = lr_at(args, trained_s)
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(ids)
        flat = torch.nn.functional.cross_entropy(
            logits.view(-1, logits.shape[-1]), tgt.view(-1), reduction="none").view(tgt.shape)
        mask = tgt != -100
        loss = flat.sum() / mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        n_tok = int(mask.sum())
        tokens += int((ids != PAD).sum())
        tok_log += int((ids != PAD).sum())
        step += 1
        trained_s += time.time() - t0
        if step % 5 == 0:
            with torch.no_grad():
                acc = float(((logits.argmax(-1) == tgt) & mask).sum()) / n_tok
                dm = mask & is_def[:, None]
                ld = float((flat * dm).sum() / dm.sum()) if bool(dm.any()) else float("nan")
            now = time.time()
            tps = tok_log / (now - t_log)
            t_log, tok_log = now, 0
            tw.writerow([step, tokens, f"{loss.item():.4f}", f"{ld:.4f}", f"{acc:.4f}",
                         f"{lr:.2e}", f"{tps:.0f}", f"{trained_s:.0f}",
                         time.strftime("%H:%M:%S", time.gmtime())])
            print(f"step {step} tok {tokens} loss {loss.item():.4f} def {ld:.4f} acc {acc:.4f} "
                  f"lr {lr:.2e} {tps:.0f} tok/s {trained_s:.0f}s", flush=True)
        if trained_s - last_eval_s >= args.eval_min * 60:
            last_eval_s = trained_s
            t1 = time.time()
            a, s = evaluate(model, eval_rng, args.eval_count)
            ew.writerow([step, tokens, f"{trained_s:.0f}", args.eval_count, f"{a:.3f}",
                         f"{s:.3f}", time.strftime("%H:%M:%S", time.gmtime())])
            ef.flush()
            print(f"eval step {step}: answer {a:.3f} solution {s:.3f} "
                  f"({time.time() - t1:.0f} s)", flush=True)
            if a >= args.target:
                a2, s2 = evaluate(model, eval_rng, 200)
                ew.writerow([step, tokens, f"{trained_s:.0f}", 200, f"{a2:.3f}", f"{s2:.3f}",
                             time.strftime("%H:%M:%S", time.gmtime())])
                print(f"eval200 step {step}: answer {a2:.3f} solution {s2:.3f}", flush=True)
                if a2 >= args.target:
                    checkpoint()
                    print("target reached", flush=True)
                    return
        if time.time() - last_ckpt >= args.ckpt_min * 60:
            checkpoint()
            last_ckpt = time.time()
    checkpoint()
    print("budget spent", flush=True)


if __name__ == "__main__":
    main()
