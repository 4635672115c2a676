#!/usr/bin/python3
"""Draws the training loss (log scale) against tokens seen from train.csv as an SVG,
with the greedy exact-answer accuracies of eval.csv marked on a second axis.

    /usr/bin/python3 tools/testbed/plot.py tools/testbed/run docs/testbed_loss.svg
"""
import csv
import math
import os
import sys

W, H, L, R, T, B = 640, 360, 60, 60, 20, 45


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    run, out = sys.argv[1], sys.argv[2]
    # A resumed run logs again the steps after its checkpoint: keep the last row per step.
    rows = sorted({int(r["step"]): r for r in read(os.path.join(run, "train.csv"))}.values(),
                  key=lambda r: int(r["step"]))
    evals = [e for e in read(os.path.join(run, "eval.csv")) if e["count"]]
    pts = [(int(r["tokens"]), float(r["loss"])) for r in rows if float(r["loss"]) > 0]
    if not pts:
        sys.exit(f"{run}/train.csv: no rows")
    dpts = [(int(r["tokens"]), float(r["loss_default"])) for r in rows
            if r["loss_default"] not in ("", "nan") and float(r["loss_default"]) > 0]
    # Smooth with a running mean over 5 logged points.
    sm = [(pts[i][0], sum(p[1] for p in pts[max(0, i - 4):i + 1]) / (i + 1 - max(0, i - 4)))
          for i in range(len(pts))]
    xmax = max(p[0] for p in pts)
    lo = math.floor(math.log10(min(p[1] for p in sm)))
    hi = math.ceil(math.log10(max(p[1] for p in sm)))
    pw, ph = W - L - R, H - T - B

    def x(v):
        return L + pw * v / xmax

    def y(loss):
        return T + ph * (hi - math.log10(loss)) / (hi - lo)

    def ya(acc):
        return T + ph * (1 - acc)

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="11">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for e in range(lo, hi + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if 10.0 ** lo <= v <= 10.0 ** hi:
                s.append(f'<line x1="{L}" x2="{L + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                         f'stroke="#eee"/>')
                s.append(f'<text x="{L - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    step = 10 ** math.floor(math.log10(xmax))
    if xmax / step < 3:
        step /= 2
    v = 0.0
    while v <= xmax:
        s.append(f'<text x="{x(v):.1f}" y="{T + ph + 15}" text-anchor="middle">'
                 f'{v / 1e6:g}M</text>')
        v += step
    for a in (0, 0.5, 1):
        s.append(f'<text x="{L + pw + 4}" y="{ya(a) + 4:.1f}" fill="#c40">{a * 100:g}%</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(l):.1f}" for i, (t, l) in
                    enumerate(sm))
    if dpts:
        dpath = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(max(l, 10.0 ** lo)):.1f}"
                         for i, (t, l) in enumerate(dpts))
        s.append(f'<path d="{dpath}" fill="none" stroke="#999" stroke-width="1"/>')
    s.append(f'<path d="{path}" fill="none" stroke="#05a" stroke-width="1.5"/>')
    for e in evals:
        t, a = int(e["tokens"]), float(e["answer_acc"])
        s.append(f'<circle cx="{x(t):.1f}" cy="{ya(a):.1f}" r="3.5" fill="#c40"/>')
    s.append(f'<text x="{L + pw / 2}" y="{H - 8}" text-anchor="middle">tokens seen</text>')
    s.append(f'<text x="14" y="{T + ph / 2}" text-anchor="middle" '
             f'transform="rotate(-90 14 {T + ph / 2})">training loss (nats/token)</text>')
    s.append(f'<text x="{L + 8}" y="{T + 14}" fill="#05a">loss (assistant turn, mean of 5 '
             f'logs)</text>')
    s.append(f'<text x="{L + 8}" y="{T + 28}" fill="#999">loss of batches of default '
             f'problems (K=32 N=64) only</text>')
    s.append(f'<text x="{L + 8}" y="{T + 42}" fill="#c40">greedy exact-answer accuracy, '
             f'K=32 N=64</text>')
    s.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(s) + "\n")


if __name__ == "__main__":
    main()
