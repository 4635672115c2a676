"""A Qwen3 decoder in torch, written to match Hugging Face's Qwen3ForCausalLM (and so vase):
RMSNorm, per-head RMSNorm of q and k (QK-norm) before RoPE, rotate_half RoPE, grouped-query
attention, SwiGLU MLP, tied embeddings. Also the testbed tokenizer (one token per byte).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
SPECIAL_ID = {s: 256 + i for i, s in enumerate(SPECIALS)}
PAD, IM_END = SPECIAL_ID["<|endoftext|>"], SPECIAL_ID["<|im_end|>"]

CONFIG = dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4,
              num_key_value_heads=2, head_dim=32, intermediate_size=512, vocab_size=272,
              max_position_embeddings=4096, rms_norm_eps=1e-6, rope_theta=10000.0)


def encode(text):
    """Token ids of text: specials by name, every other byte as itself."""
    ids, i = [], 0
    while i < len(text):
        if text[i] == "<":
            for s in SPECIALS:
                if text.startswith(s, i):
                    ids.append(SPECIAL_ID[s])
                    i += len(s)
                    break
            else:
                ids.append(ord("<"))
                i += 1
            continue
        ids.extend(text[i].encode("utf-8"))
        i += 1
    return ids


def decode(ids):
    out = bytearray()
    for t in ids:
        if t < 256:
            out.append(t)
        elif t - 256 < len(SPECIALS):
            out += SPECIALS[t - 256].encode()
    return out.decode("utf-8", errors="replace")


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hd = (c["num_attention_heads"], c["num_key_value_heads"],
                                      c["head_dim"])
        d = c["hidden_size"]
        self.q_proj = nn.Linear(d, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, self.nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, d, bias=False)
        self.q_norm = RMSNorm(self.hd, c["rms_norm_eps"])
        self.k_norm = RMSNorm(self.hd, c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask, cache=None):
        B, T, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(B, T, self.nh, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(B, T, self.nkv, self.hd)).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        rep = self.nh // self.nkv
        q = q.reshape(B, self.nkv, rep * T, self.hd)  # query heads grouped by their kv head
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if mask is not None:
            scores = scores.view(B, self.nkv, rep, T, -1) + mask
            scores = scores.view(B, self.nkv, rep * T, -1)
        out = torch.softmax(scores, dim=-1) @ v
        out = out.view(B, self.nh, T, self.hd).transpose(1, 2).reshape(B, T, -1)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, m = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(d, m, bias=False)
        self.up_proj = nn.Linear(d, m, bias=False)
        self.down_proj = nn.Linear(m, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Qwen3(nn.Module):
    def __init__(self, c=CONFIG):
        super().__init__()
        self.c = dict(c)
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        self.register_buffer("inv_freq", inv.float(), persistent=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)

    def rope(self, positions):
        ang = positions.float()[:, None] * self.inv_freq[None, :]
        ang = torch.cat([ang, ang], dim=-1)
        return ang.cos(), ang.sin()

    def forward(self, ids, caches=None, start=0):
        """Logits [B, T, vocab] for ids [B, T] at positions start.. (caches: one dict per layer)."""
        B, T = ids.shape
        cos, sin = self.rope(torch.arange(start, start + T, device=ids.device))
        mask = None
        if T > 1:
            S = start + T
            mask = torch.full((T, S), float("-inf"), device=ids.device).triu(start + 1)
        x = self.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        return self.norm(x) @ self.embed_tokens.weight.t()

    @torch.no_grad()
    def greedy(self, prompts, max_new, stop=IM_END):
        """Greedy continuations of equal-length prompts [B, T] (token lists), with a KV cache."""
        ids = torch.tensor(prompts, device=self.inv_freq.device)
        caches = [dict() for _ in self.layers]
        logits = self.forward(ids, caches, 0)[:, -1]
        pos = ids.shape[1]
        out, done = [], torch.zeros(len(prompts), dtype=torch.bool, device=ids.device)
        for _ in range(max_new):
            nxt = logits.argmax(-1)
            out.append(nxt)
            done |= nxt == stop
            if bool(done.all()):
                break
            logits = self.forward(nxt[:, None], caches, pos)[:, -1]
            pos += 1
        toks = torch.stack(out, 1).tolist()
        return [t[:t.index(stop) + 1] if stop in t else t for t in toks]
