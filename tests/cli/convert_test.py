#!/usr/bin/python3
"""`vase convert`: a Hugging Face directory written as GGUF runs the same.

For random tiny checkpoints from `vase make-model` (the Qwen3 tokenizer with its
merges and chat template, tied and untied; the testbed's byte tokenizer with a
padded vocabulary):
  * greedy decoding of a chat prompt gives the same tokens and bit-identical
    logits on the directory and on the converted GGUF (F32, and BF16 kept as is);
  * the GGUF's metadata, read here with an independent parser, carries the
    tokenizer (tokens, types, merges, special ids) and the chat template of the
    directory's tokenizer files;
  * a BF16 -> F32 conversion is exact, and a Q8_0 conversion gives the same
    logits as make-model's own Q8_0 GGUF of the same seed;
  * bad options fail with a message naming the problem.

usage: convert_test.py VASE QWEN3_TOKENIZER_DIR [TESTBED_TOKENIZER_DIR]
"""

import json
import os
import struct
import subprocess
import sys
import shutil
import tempfile

import numpy as np

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def run(cmd, expect_ok=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if expect_ok and r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stderr}")
    return r


def read_gguf_metadata(path, with_data=False):
    """key -> value for every metadata entry of a GGUF v3 file (arrays as lists)."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals[0]

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8")
        pos += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
              12: "d"}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        raise ValueError(f"type {t}")

    assert data[:4] == b"GGUF", path
    pos = 4
    version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    assert version == 3
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    tensors = {}
    for _ in range(n_tensors):
        name = string()
        nd = take("I")
        ne = [take("Q") for _ in range(nd)]
        t = take("I")
        tensors[name] = (ne, t, take("Q"))
    if with_data:
        align = meta.get("general.alignment", 32)
        return meta, tensors, (pos + align - 1) // align * align, data
    return meta, tensors


# Hugging Face -> GGUF tensor names (llama.cpp's), for the byte comparison.
GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
    "input_layernorm.weight": "attn_norm.weight", "post_attention_layernorm.weight": "ffn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight", "self_attn.k_norm.weight": "attn_k_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def read_safetensors(path):
    """name -> (dtype, shape, raw bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], data[8 + n + a:8 + n + b])
    return out


def read_gguf_tensors(path):
    """name -> (ggml type, ne, raw bytes) of an F32/F16/BF16 GGUF file."""
    meta, tensors, data_start, data = read_gguf_metadata(path, with_data=True)
    size = {0: 4, 1: 2, 30: 2}
    out = {}
    for name, (ne, t, off) in tensors.items():
        count = int(np.prod(ne))
        out[name] = (t, ne, data[data_start + off:data_start + off + count * size[t]])
    return out


def generate(vase, model, out_npy, n=16):
    r = run([vase, "generate", "-m", model, "--chat", "Start at c. Take 5 steps.\n:cb7 :ba0 :ad4 :dc9",
             "--temp", "0", "-n", str(n), "--ignore-eos", "--json", "--dump-logits", out_npy,
             "-t", "1"])
    return json.loads(r.stdout)["tokens"], np.load(out_npy)


def compare_runs(vase, hf, gguf, label, tmp, exact=True):
    tok_a, log_a = generate(vase, hf, os.path.join(tmp, "a.npy"))
    tok_b, log_b = generate(vase, gguf, os.path.join(tmp, "b.npy"))
    check(log_a.shape == log_b.shape, f"{label}: logits shapes {log_a.shape} {log_b.shape}")
    if exact:
        check(tok_a == tok_b, f"{label}: greedy tokens differ: {tok_a} vs {tok_b}")
    if exact and log_a.shape == log_b.shape:
        check(np.array_equal(log_a, log_b),
              f"{label}: logits differ by up to {np.abs(log_a - log_b).max()}")
    return log_a, log_b


def check_tokenizer_metadata(gguf, tok_dir, vocab_size, label):
    meta, tensors = read_gguf_metadata(gguf)
    tj = json.load(open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8"))
    tokens = meta["tokenizer.ggml.tokens"]
    types = meta["tokenizer.ggml.token_type"]
    check(len(tokens) == vocab_size and len(types) == vocab_size,
          f"{label}: {len(tokens)} tokens / {len(types)} types for vocab_size {vocab_size}")
    for text, i in tj["model"]["vocab"].items():
        if tokens[i] != text or types[i] != 1:
            check(False, f"{label}: token {i} is {tokens[i]!r} type {types[i]}, expected {text!r}")
            break
    for a in tj["added_tokens"]:
        check(tokens[a["id"]] == a["content"] and types[a["id"]] == (3 if a["special"] else 4),
              f"{label}: added token {a['content']!r}: {tokens[a['id']]!r} type {types[a['id']]}")
    used = set(tj["model"]["vocab"].values()) | {a["id"] for a in tj["added_tokens"]}
    for i in range(vocab_size):
        if i not in used:
            check(tokens[i] == f"[PAD{i}]" and types[i] == 5, f"{label}: unused id {i}: {tokens[i]!r}")
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    check(meta["tokenizer.ggml.merges"] == merges, f"{label}: merges differ")
    check(meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "qwen2",
          f"{label}: tokenizer model/pre {meta['tokenizer.ggml.model']} {meta['tokenizer.ggml.pre']}")
    ids = {a["content"]: a["id"] for a in tj["added_tokens"]}
    check(meta.get("tokenizer.ggml.eos_token_id") == ids["<|im_end|>"],
          f"{label}: eos_token_id {meta.get('tokenizer.ggml.eos_token_id')}")
    check(meta.get("tokenizer.ggml.bos_token_id") == ids["<|endoftext|>"],
          f"{label}: bos_token_id {meta.get('tokenizer.ggml.bos_token_id')}")
    cfg_path = os.path.join(tok_dir, "tokenizer_config.json")
    template = json.load(open(cfg_path, encoding="utf-8")).get("chat_template", "")
    check(meta.get("tokenizer.chat_template", "") == template, f"{label}: chat template differs")
    check(meta["general.architecture"] == "qwen3", f"{label}: architecture")
    return meta, tensors


def main():
    # ~330 MB of models per run: removed whatever the outcome.
    tmp = tempfile.mkdtemp(prefix="vase_convert_")
    try:
        return run_cases(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_cases(tmp):
    vase, qwen_tok = sys.argv[1], sys.argv[2]
    testbed_tok = sys.argv[3] if len(sys.argv) > 3 else ""

    cases = [("qwen3 tokenizer, bf16, untied", qwen_tok, "bf16", ["--no-tie"], 151936)]
    if testbed_tok and os.path.exists(os.path.join(testbed_tok, "tokenizer.json")):
        cases.append(("testbed tokenizer, f32, tied, vocab 272", testbed_tok, "f32",
                      ["--tie", "--vocab", "272"], 272))
    else:
        print("note: no testbed tokenizer; its case is skipped")

    for i, (label, tok, dtype, extra, vocab) in enumerate(cases):
        hf = os.path.join(tmp, f"hf{i}")
        run([vase, "make-model", "--shape", "tiny", "--tokenizer", tok, "--dtype", dtype,
             "--seed", str(10 + i), "--out", hf] + extra)
        gguf = os.path.join(tmp, f"m{i}.gguf")
        run([vase, "convert", "--model", hf, "--out", gguf])  # --dtype same
        meta, tensors = check_tokenizer_metadata(gguf, tok, vocab, label)
        want_type = {"f32": 0, "bf16": 30}[dtype]
        check(tensors["blk.0.attn_q.weight"][1] == want_type,
              f"{label}: attn_q stored as ggml type {tensors['blk.0.attn_q.weight'][1]}")
        check(tensors["blk.0.attn_norm.weight"][1] == 0, f"{label}: norms not F32")
        check(("output.weight" in tensors) == ("--no-tie" in extra),
              f"{label}: output.weight present = {'output.weight' in tensors}")
        compare_runs(vase, hf, gguf, label, tmp)

    # BF16 -> F32 widens every value exactly: compare the tensor bytes. (The logits only
    # agree closely: the BF16 and F32 matmul kernels round differently.)
    hf0 = os.path.join(tmp, "hf0")
    g32 = os.path.join(tmp, "bf16_to_f32.gguf")
    run([vase, "convert", "--model", hf0, "--out", g32, "--dtype", "f32"])
    st = read_safetensors(os.path.join(hf0, "model.safetensors"))
    gg = read_gguf_tensors(g32)
    check(len(gg) == len(st), f"bf16 -> f32: {len(gg)} GGUF tensors, {len(st)} safetensors")
    for name, (dtype, shape, raw) in st.items():
        gname = GGUF_NAMES.get(name)
        if name.startswith("model.layers."):
            layer = name.split(".")[2]
            gname = "blk." + layer + "." + GGUF_NAMES[".".join(name.split(".")[3:])]
        want = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        got = gg.get(gname)
        check(got is not None and got[0] == 0 and list(reversed(got[1])) == shape and
              np.array_equal(np.frombuffer(got[2], np.float32), want),
              f"bf16 -> f32: tensor {name} ({gname}) is not the exact widening")
    log_a, log_b = compare_runs(vase, hf0, g32, "bf16 -> f32", tmp, exact=False)
    if log_a.shape == log_b.shape:
        err = np.abs(log_a - log_b).max() / np.abs(log_a).max()
        check(err < 1e-2, f"bf16 -> f32: logits off by {err:.2e} of their range")

    # Q8_0: the same bytes as make-model's own Q8_0 GGUF of the same seed (both round the
    # same f32 values), so identical logits; and close to the F32 model.
    hf32 = os.path.join(tmp, "hf32")
    run([vase, "make-model", "--shape", "tiny", "--tokenizer", qwen_tok, "--dtype", "f32",
         "--seed", "7", "--out", hf32])
    q_conv = os.path.join(tmp, "conv_q8.gguf")
    q_made = os.path.join(tmp, "made_q8.gguf")
    run([vase, "convert", "--model", hf32, "--out", q_conv, "--dtype", "q8_0"])
    run([vase, "make-model", "--shape", "tiny", "--tokenizer", qwen_tok, "--dtype", "q8_0",
         "--format", "gguf", "--seed", "7", "--out", q_made])
    compare_runs(vase, q_made, q_conv, "q8_0 converted vs made", tmp)
    log_f, log_q = compare_runs(vase, hf32, q_conv, "f32 vs q8_0", tmp, exact=False)
    if log_f.shape == log_q.shape:
        err = np.abs(log_f[0] - log_q[0]).max() / np.abs(log_f[0]).max()
        check(err < 0.05, f"q8_0: first-step logits off by {err:.3f} of their range")

    # Bad options.
    for args, word in [(["--model", hf0, "--out", os.path.join(tmp, "x.gguf"), "--dtype", "q4"], "q4"),
                       (["--model", os.path.join(tmp, "nope"), "--out", os.path.join(tmp, "y.gguf")],
                        "nope"),
                       (["--model", g32, "--out", g32], "input")]:
        r = run([vase, "convert"] + args, expect_ok=False)
        check(1 <= r.returncode <= 127 and word in r.stderr,
              f"convert {' '.join(args)}: exit {r.returncode}, {r.stderr!r}")
    check(not os.path.exists(os.path.join(tmp, "x.gguf")) and
          not os.path.exists(os.path.join(tmp, "x.gguf.tmp")), "a failed convert left a file")

    if FAILURES:
        return 1
    print(f"ok: {len(cases)} checkpoints convert to GGUF with identical greedy tokens and logits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
