"""Float64 numpy reference of the Qwen3 forward pass, written from the Hugging
Face modeling code's definition (RMSNorm, QK-norm, rotate_half RoPE, GQA,
SwiGLU), independent of vase's C++. Reads a Hugging Face safetensors directory.
"""
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def load_safetensors(directory):
    """Returns {name: float64 array} for every tensor of the directory."""
    files = []
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        with open(os.path.join(directory, name), "rb") as f:
            blob = f.read()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8 : 8 + n])
        base = 8 + n
        for key, info in header.items():
            if key == "__metadata__":
                continue
            start, end = info["data_offsets"]
            raw = np.frombuffer(blob[base + start : base + end], dtype=_DTYPES[info["dtype"]])
            if info["dtype"] == "BF16":
                raw = (raw.astype(np.uint32) << 16).view(np.float32)
            tensors[key] = raw.astype(np.float64).reshape(info["shape"])
    return tensors


class Qwen3Reference:
    def __init__(self, directory):
        with open(os.path.join(directory, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = load_safetensors(directory)
        c = self.cfg
        self.n_layers = c["num_hidden_layers"]
        self.n_heads = c["num_attention_heads"]
        self.n_kv = c["num_key_value_heads"]
        self.hd = c.get("head_dim") or c["hidden_size"] // self.n_heads
        self.eps = c["rms_norm_eps"]
        self.theta = c.get("rope_theta", 1000000.0)
        self.lm_head = self.w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else self.w["lm_head.weight"]

    def rmsnorm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * weight

    def rope(self, x, positions):
        # x: [T, heads, hd]; rotate_half layout.
        half = self.hd // 2
        inv_freq = 1.0 / (self.theta ** (np.arange(0, self.hd, 2, dtype=np.float64) / self.hd))
        ang = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]  # [T, half]
        cos = np.cos(ang)[:, None, :]
        sin = np.sin(ang)[:, None, :]
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)

    def logits(self, tokens):
        """Logits [T, vocab] of every position of `tokens` (causal)."""
        T = len(tokens)
        x = self.w["model.embed_tokens.weight"][np.asarray(tokens)]  # [T, dim]
        pos = np.arange(T)
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        group = self.n_heads // self.n_kv
        for l in range(self.n_layers):
            p = f"model.layers.{l}."
            h = self.rmsnorm(x, self.w[p + "input_layernorm.weight"])
            q = (h @ self.w[p + "self_attn.q_proj.weight"].T).reshape(T, self.n_heads, self.hd)
            k = (h @ self.w[p + "self_attn.k_proj.weight"].T).reshape(T, self.n_kv, self.hd)
            v = (h @ self.w[p + "self_attn.v_proj.weight"].T).reshape(T, self.n_kv, self.hd)
            q = self.rope(self.rmsnorm(q, self.w[p + "self_attn.q_norm.weight"]), pos)
            k = self.rope(self.rmsnorm(k, self.w[p + "self_attn.k_norm.weight"]), pos)
            out = np.empty((T, self.n_heads, self.hd))
            for j in range(self.n_heads):
                kv = j // group
                s = q[:, j, :] @ k[:, kv, :].T / np.sqrt(self.hd) + mask
                s = np.exp(s - s.max(axis=1, keepdims=True))
                s /= s.sum(axis=1, keepdims=True)
                out[:, j, :] = s @ v[:, kv, :]
            x = x + out.reshape(T, -1) @ self.w[p + "self_attn.o_proj.weight"].T
            h = self.rmsnorm(x, self.w[p + "post_attention_layernorm.weight"])
            g = h @ self.w[p + "mlp.gate_proj.weight"].T
            u = h @ self.w[p + "mlp.up_proj.weight"].T
            x = x + (g / (1.0 + np.exp(-g)) * u) @ self.w[p + "mlp.down_proj.weight"].T
        x = self.rmsnorm(x, self.w["model.norm.weight"])
        return x @ self.lm_head.T
