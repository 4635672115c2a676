#!/usr/bin/python3
"""Exports a train.py checkpoint as a Hugging Face Qwen3 directory that vase loads.

    /usr/bin/python3 tools/testbed/export.py [--ckpt tools/testbed/run/ckpt.pt]
        [--out models/testbed] [--dtype F32|BF16]

Writes config.json, generation_config.json, model.safetensors (HF Qwen3 tensor names,
tied embeddings so no lm_head.weight), tokenizer.json and tokenizer_config.json
(build_tokenizer.py).
"""
import argparse
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import build_tokenizer  # noqa: E402
from model import CONFIG, IM_END, PAD, SPECIAL_ID  # noqa: E402


def write_safetensors(path, tensors, dtype):
    """tensors: {name: float tensor}; dtype "F32" or "BF16" (round to nearest even)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().float().contiguous()
        if dtype == "BF16":
            data = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def hf_config(c, dtype):
    return {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": None, "eos_token_id": IM_END,
        "head_dim": c["head_dim"], "hidden_act": "silu", "hidden_size": c["hidden_size"],
        "initializer_range": 0.02, "intermediate_size": c["intermediate_size"],
        "max_position_embeddings": c["max_position_embeddings"],
        "max_window_layers": c["num_hidden_layers"], "model_type": "qwen3",
        "num_attention_heads": c["num_attention_heads"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_key_value_heads": c["num_key_value_heads"], "rms_norm_eps": c["rms_norm_eps"],
        "rope_scaling": None, "rope_theta": c["rope_theta"], "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16" if dtype == "BF16" else "float32",
        "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False,
        "vocab_size": c["vocab_size"],
    }


def generation_config():
    return {"bos_token_id": None, "do_sample": True,
            "eos_token_id": [IM_END, SPECIAL_ID["<|endoftext|>"]], "pad_token_id": PAD,
            "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0"}


def export(state, config, out, dtype):
    os.makedirs(out, exist_ok=True)
    tensors = {"model." + k: v for k, v in state.items()}
    write_safetensors(os.path.join(out, "model.safetensors"), tensors, dtype)
    for name, obj in (("config.json", hf_config(config, dtype)),
                      ("generation_config.json", generation_config())):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
    build_tokenizer.write(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", default=os.path.join(HERE, "run", "ckpt.pt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "testbed"))
    ap.add_argument("--dtype", choices=["F32", "BF16"], default="F32")
    args = ap.parse_args()
    st = torch.load(args.ckpt, map_location="cpu")
    export(st["model"], st.get("config", CONFIG), args.out, args.dtype)
    print(f"{args.out}: step {st['step']}, {st['tokens']} tokens, {st['trained_s']:.0f} s trained")


if __name__ == "__main__":
    main()
