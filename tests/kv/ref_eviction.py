"""Brute-force float64 reference of shared/spec/eviction.md (sections 3 and 4).

Written plainly from the spec, independently of the C++ code: no identities,
no vectorised tricks beyond elementwise numpy. Reductions are arranged so that
equal inputs give bit-equal scores (deliberate ties must stay ties).

Every function works on one KV head:
  keys, values: [n, d] (float64), positions: [n] ints (ascending),
  queries: [g, W, d] -- the query windows of the g query heads of the group.
Deterministic modes return the kept candidate indices (sorted) and the
scores they were ranked by (for margin checks); sampling modes return the
exact inclusion law (see sampling_law).
"""
import itertools
import math

import numpy as np


def attention_scores(keys, queries, temperature=1.0, smooth=True):
    """Spec section 3, steps 1-4 in the spec's order."""
    n, d = keys.shape
    per_head = []
    for q_window in queries:  # one query head of the group: [W, d]
        # logits[t][i] = q_t . k_i / (sqrt(d) * T); last-axis sums: same order for every i
        logits = (q_window[:, None, :] * keys[None, :, :]).sum(axis=-1) / (math.sqrt(d) * temperature)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        a = e / e.sum(axis=1, keepdims=True)  # softmax over candidates, per query
        s = a.mean(axis=0)  # average over the window
        if smooth:
            pooled = np.zeros(n)
            for i in range(n):
                total = 0.0
                for j in range(i - 2, i + 3):
                    total += s[j] if 0 <= j < n else 0.0
                pooled[i] = total / 5.0
            s = pooled
        per_head.append(s)
    return np.mean(np.stack(per_head), axis=0)  # average over the group's query heads


def value_magnitude(values, kind="range"):
    if kind == "range":
        return values.max(axis=1) - values.min(axis=1)
    if kind == "l2":
        return np.sqrt((values * values).sum(axis=1))
    if kind == "var":
        return values.var(axis=1, ddof=1)
    raise ValueError(kind)


def redundancy(keys):
    """R-KV: unit keys (norm + 1e-8), cosine matrix, zero diagonal, column mean, softmax."""
    n = keys.shape[0]
    unit = keys / (np.sqrt((keys * keys).sum(axis=1, keepdims=True)) + 1e-8)
    cos = (unit[:, None, :] * unit[None, :, :]).sum(axis=-1)  # [j, i]
    for i in range(n):
        cos[i, i] = 0.0
    r = cos.mean(axis=0)  # column i: mean over j of cos(k_j, k_i)
    e = np.exp(r - r.max())
    return e / e.sum()


def top_k(score, k, eligible=None):
    """k best indices by descending score, ties to the lower index."""
    idx = [i for i in range(len(score)) if eligible is None or eligible[i]]
    idx.sort(key=lambda i: (-score[i], i))
    return idx[:k]


def is_sink(positions, sinks):
    return np.asarray(positions) < sinks


# ---- deterministic modes: return (kept sorted, ranking score used at the cut) ----

def streaming(n, keep, positions, sinks):
    score = [math.inf if positions[i] < sinks else float(positions[i]) for i in range(n)]
    return sorted(top_k(score, keep)), [(score, None)]


def snapkv(keys, queries, keep, temperature=1.0, smooth=True):
    s = attention_scores(keys, queries, temperature, smooth)
    return sorted(top_k(s, keep)), [(s, None)]


def rkv(keys, queries, keep, lam=0.5, temperature=1.0, smooth=True):
    s = lam * attention_scores(keys, queries, temperature, smooth) - (1 - lam) * redundancy(keys)
    return sorted(top_k(s, keep)), [(s, None)]


def value_topk(keys, values, queries, keep, n_large, temperature=1.0, smooth=True):
    mag = value_magnitude(values, "range")
    large = top_k(mag, n_large)
    s = attention_scores(keys, queries, temperature, smooth)
    eligible = [i not in large for i in range(len(s))]
    rest = top_k(s, keep - n_large, eligible)
    return sorted(large + rest), [(mag, None), (s, eligible)]


def evict_large(values, keep):
    neg = -value_magnitude(values, "range")
    return sorted(top_k(neg, keep)), [(neg, None)]


def cur(keys, values, g, keep, positions, sinks):
    kg = (keys[:, :, None] * g[None, :, :]).sum(axis=1)  # [n, r]
    vg = (values[:, :, None] * g[None, :, :]).sum(axis=1)
    s = (kg * kg).sum(axis=1) * (vg * vg).sum(axis=1)
    s = s / s.sum()
    s[is_sink(positions, sinks)] = 1.0
    return sorted(top_k(s, keep)), [(s, None)]


# ---- sampling modes: the exact law of the kept set ----

def successive_sampling_sets(weights, eligible, m):
    """Exact distribution of the set of m successive draws without replacement,
    each proportional to the remaining weights, over eligible candidates with
    weight > 0. Returns {frozenset: probability}. Enumerates ordered draws."""
    cand = [i for i in range(len(weights)) if eligible[i] and weights[i] > 0]
    assert m <= len(cand), "use fill_rule"
    law = {}
    for seq in itertools.permutations(cand, m):
        p = 1.0
        remaining = sum(weights[i] for i in cand)
        for i in seq:
            p *= weights[i] / remaining
            remaining -= weights[i]
        key = frozenset(seq)
        law[key] = law.get(key, 0.0) + p
    return law


def sampling_law(mode, keys, values, queries, keep, positions, sinks=4, n_large=0,
                 temperature=1.0, smooth=True):
    """{frozenset(kept): probability} for random, attn_sample and the vase modes."""
    n = keys.shape[0]
    if mode == "random":
        return successive_sampling_sets([1.0] * n, [True] * n, keep)
    s = attention_scores(keys, queries, temperature, smooth)
    if mode == "attn_sample":
        return with_fill(s, [True] * n, keep, fill_score=[-i for i in range(n)], base=[])
    kind = {"vase": "range", "vase_nosink": "range", "vase_l2": "l2", "vase_var": "var"}[mode]
    mag = value_magnitude(values, kind).astype(float)
    if mode != "vase_nosink":
        mag[is_sink(positions, sinks)] = math.inf
    large = top_k(mag, n_large)
    s = s.copy()
    s[large] = 0.0
    eligible = [i not in large for i in range(n)]
    return with_fill(s, eligible, keep - n_large, fill_score=mag, base=large)


def with_fill(weights, eligible, m, fill_score, base):
    positive = [i for i in range(len(weights)) if eligible[i] and weights[i] > 0]
    if len(positive) >= m:
        law = successive_sampling_sets(weights, eligible, m)
        return {frozenset(base) | k: p for k, p in law.items()}
    # Too few positive scores: all of them, then the best remaining by fill_score.
    rest_ok = [eligible[i] and i not in positive for i in range(len(weights))]
    fill = top_k(fill_score, m - len(positive), rest_ok)
    return {frozenset(base) | frozenset(positive) | frozenset(fill): 1.0}
