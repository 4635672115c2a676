#!/usr/bin/python3
"""Writes the seed corpora of fuzz/corpus/<target>/ (committed; run again only
to change them). Small valid inputs of every kind plus hand-made edge cases;
the model files come from `vase make-model` with the tiny tokenizer of
tests/cli/tiny_tokenizer.py, so they are a few kilobytes each.

Usage: fuzz/make_corpus.py PATH/TO/vase
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
import tiny_tokenizer  # noqa: E402

CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def make_models(vase, tmp):
    tok = tiny_tokenizer.write(os.path.join(tmp, "tok"))
    vocab = str(tiny_tokenizer.n_ids())
    small = ["--vocab", vocab, "--hidden", "8", "--intermediate", "16", "--layers", "1",
             "--heads", "2", "--kv-heads", "1", "--head-dim", "4"]
    q8 = ["--vocab", vocab, "--hidden", "32", "--intermediate", "32", "--layers", "1",
          "--heads", "2", "--kv-heads", "1", "--head-dim", "16"]
    runs = [("hf", "f32", small, ["--no-tie"]), ("hf", "bf16", small, ["--tie"]),
            ("gguf", "f32", small, ["--no-tie"]), ("gguf", "f16", small, ["--tie"]),
            ("gguf", "q8_0", q8, ["--no-tie"])]
    for fmt, dtype, shape, tie in runs:
        out = os.path.join(tmp, f"{fmt}-{dtype}" + (".gguf" if fmt == "gguf" else ""))
        subprocess.run([vase, "make-model", "--shape", "tiny", "--tokenizer", tok, "--format", fmt,
                        "--dtype", dtype, "--out", out, *shape, *tie], check=True,
                       stderr=subprocess.DEVNULL)
        if fmt == "gguf":
            put("gguf", f"tiny-{dtype}.gguf", open(out, "rb").read())
        else:
            put("safetensors", f"tiny-{dtype}.safetensors",
                open(os.path.join(out, "model.safetensors"), "rb").read())
            for name in ["config.json", "generation_config.json", "tokenizer_config.json"]:
                put("hf_config", f"{dtype}-{name}", open(os.path.join(out, name), "rb").read())
    put("tokenizer_json", "tiny.json", open(os.path.join(tok, "tokenizer.json"), "rb").read())


def safetensors_bytes(header, data=b""):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    put("safetensors", "empty-header", safetensors_bytes({}))
    put("safetensors", "metadata-only", safetensors_bytes({"__metadata__": {"format": "pt"}}))
    put("safetensors", "two-tensors", safetensors_bytes(
        {"a": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
         "b": {"dtype": "F16", "shape": [1, 3], "data_offsets": [16, 22]},
         "c": {"dtype": "BOOL", "shape": [], "data_offsets": [22, 23]}}, bytes(23)))


class Gguf:
    """A hand-written GGUF v3 file with metadata of every value type."""

    def __init__(self):
        self.kv = b""
        self.n = 0

    @staticmethod
    def string(s):
        b = s.encode()
        return struct.pack("<Q", len(b)) + b

    def add(self, key, type_id, payload):
        self.kv += self.string(key) + struct.pack("<I", type_id) + payload
        self.n += 1

    def bytes(self, tensors=()):
        head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), self.n) + self.kv
        infos, data = b"", b""
        for name, ne, ggml_type, payload in tensors:
            infos += self.string(name) + struct.pack("<I", len(ne))
            infos += b"".join(struct.pack("<Q", d) for d in ne)
            infos += struct.pack("<IQ", ggml_type, len(data))
            data += payload + bytes((-len(payload)) % 32)
        out = head + infos
        return out + bytes((-len(out)) % 32) + data


def gguf_seeds():
    g = Gguf()
    scalars = [(0, "<B", 7), (1, "<b", -7), (2, "<H", 7), (3, "<h", -7), (4, "<I", 7),
               (5, "<i", -7), (6, "<f", 0.5), (7, "<B", 1), (10, "<Q", 7), (11, "<q", -7),
               (12, "<d", 0.25)]
    for type_id, fmt, value in scalars:
        g.add(f"test.scalar_{type_id}", type_id, struct.pack(fmt, value))
    g.add("test.string", 8, Gguf.string("hello"))
    g.add("test.array_i32", 9, struct.pack("<IQ", 5, 3) + struct.pack("<3i", 1, -2, 3))
    g.add("test.array_bool", 9, struct.pack("<IQ", 7, 2) + bytes([0, 1]))
    g.add("test.array_str", 9, struct.pack("<IQ", 8, 2) + Gguf.string("a") + Gguf.string("bc"))
    g.add("general.alignment", 4, struct.pack("<I", 32))
    put("gguf", "all-value-types.gguf", g.bytes(
        [("t.f32", [4], 0, struct.pack("<4f", 1, 2, 3, 4)),
         ("t.f16", [2, 2], 1, bytes(8)),
         ("t.q8", [32], 8, struct.pack("<e", 1.0) + bytes(32)),
         ("t.other", [3], 12, b"")]))
    put("gguf", "header-only.gguf", Gguf().bytes())
    v2 = bytearray(Gguf().bytes())
    v2[4] = 2
    put("gguf", "version2.gguf", bytes(v2))


def npy_bytes(array, version=1):
    header = repr({"descr": array.dtype.str, "fortran_order": False,
                   "shape": array.shape}).encode()
    prefix = 10 if version == 1 else 12
    pad = (-(prefix + len(header) + 1)) % 64
    header += b" " * pad + b"\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + array.tobytes()


def npy_seeds():
    rng = np.random.default_rng(0)
    put("npy", "f32-2x3", npy_bytes(rng.standard_normal((2, 3)).astype("<f4")))
    put("npy", "f64-1d", npy_bytes(rng.standard_normal(5)))
    put("npy", "i32-0d", npy_bytes(np.array(7, dtype="<i4")))
    put("npy", "i64-empty", npy_bytes(np.zeros((0, 4), dtype="<i8")))
    put("npy", "v2-f32", npy_bytes(np.ones((1, 2, 2), dtype="<f4"), version=2))


def evict_seeds():
    rng = np.random.default_rng(1)
    # Parameter bytes: policy index, keep, n_large + 1, sinks, repeat, flags (see fuzz_evict.cpp).
    from_names = ["streaming", "random", "snapkv", "attn_sample", "rkv", "vase", "value_topk",
                  "cur", "evict_large"]
    all_names = ["full", "streaming", "random", "snapkv", "attn_sample", "rkv", "vase", "vase_l2",
                 "vase_var", "vase_nosink", "value_topk", "cur", "cur_fixed", "evict_large",
                 "quest"]
    keys = rng.standard_normal((2, 12, 4)).astype("<f4")
    values = rng.standard_normal((2, 12, 4)).astype("<f4")
    queries = rng.standard_normal((4, 3, 4)).astype("<f4")
    proj = rng.standard_normal((4, 2)).astype("<f4")
    sep = b"--npy--"
    for name in from_names:
        flags = 2 | 1 if name in ("snapkv", "attn_sample", "rkv", "vase", "value_topk") else 1
        if name == "cur":
            flags |= 4
        params = bytes([all_names.index(name), 6, 3, 1, 1, flags])
        blob = params + npy_bytes(keys) + sep + npy_bytes(values) + sep + npy_bytes(queries)
        if name == "cur":
            blob += sep + npy_bytes(proj)
        put("evict", name, blob)


def chat_seeds():
    # Layout (fuzz_chat_template.cpp): add_generation_prompt, enable_thinking, tool count,
    # tools (NUL-terminated), message count, per message: role index (system, user,
    # assistant, tool, "", developer), content, has-reasoning, [reasoning], call count,
    # per call: name, arguments; then "prompt opened think" and the rest as free text.
    def z(text):
        return text.encode() + b"\0"
    tool = z(json.dumps({"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "number", "default": 1.5e-7}}}}}))
    conversation = (b"\x01\x01\x01" + tool + b"\x04" +
                    b"\x00" + z("You are kind.") + b"\x00\x00" +
                    b"\x01" + z("What is 2+2? <think>no</think>") + b"\x00\x00" +
                    b"\x02" + z("<think>\nadd\n</think>\n\n4") + b"\x00\x01" + z("f") +
                    z('{"x": 2}') +
                    b"\x03" + z("<tool_response>4</tool_response>") + b"\x00\x00" +
                    b"\x00" + b"<think>\nlet me see\n</think>\n\nanswer")
    put("chat_template", "conversation", conversation)
    put("chat_template", "reasoning-field", b"\x01\x00\x00\x02\x01" + z("hi") + b"\x00\x00" +
        b"\x02" + z("answer") + b"\x01" + z("thought") + b"\x00\x01" + b"<think>open")
    put("chat_template", "json", b"\x00\x00\x00\x00\x00" +
        b'[1, 2.5, -0.0, 1e300, 123456789012345678901, "x\\u00e9\\n", {"k": null, "b": true}]')


def tokenizer_seeds():
    put("tokenizer", "english", "Hello, world! It's 2024 and we'll test   spaces\n\n\ttabs.")
    put("tokenizer", "specials", "<|im_start|>user\nhi<|im_end|>\n<think>\n\n</think>\n\n")
    put("tokenizer", "unicode", "Caf\u00e9 cafe\u0301 \u4f60\u597d \U0001f600 \u0915\u093f")
    put("tokenizer", "invalid-utf8", b"ok \xff\xfe bad \xc3( \xe2\x82 end \xed\xa0\x80")


def request_seeds():
    put("request", "chat.json", json.dumps({
        "model": "qwen3", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            {"role": "assistant", "content": "4", "reasoning_content": "add",
             "tool_calls": [{"type": "function", "id": "c1",
                             "function": {"name": "add", "arguments": "{\"a\": 2}"}}]},
            {"role": "tool", "content": "4", "tool_call_id": "c1"},
            {"role": "user", "content": "thanks"}],
        "max_tokens": 64, "temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0,
        "seed": 7, "stop": ["\n\n"], "n": 2, "stream": True,
        "stream_options": {"include_usage": True}, "chat_template_kwargs":
        {"enable_thinking": False}, "kv_policy": "vase", "kv_budget": 256, "kv_window": 64,
        "kv_n_large": 32, "kv_sinks": 4, "kv_temperature": 1.0, "kv_lambda": 0.5,
        "kv_smooth": True, "kv_type": "bf16", "ignore_eos": False, "return_token_ids": True}))
    put("request", "completion-text.json", json.dumps(
        {"model": "x", "prompt": "Once upon", "max_completion_tokens": 8, "stop": "end"}))
    put("request", "completion-ids.json", json.dumps({"prompt": [1, 2, 3], "logprobs": None}))
    put("request", "unsupported.json", json.dumps(
        {"messages": [{"role": "user", "content": "x"}], "logprobs": True, "tools": [],
         "response_format": {"type": "json_object"}}))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    vase = os.path.abspath(sys.argv[1])
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    with tempfile.TemporaryDirectory() as tmp:
        make_models(vase, tmp)
    safetensors_seeds()
    gguf_seeds()
    npy_seeds()
    evict_seeds()
    chat_seeds()
    tokenizer_seeds()
    request_seeds()
    put("hf_config", "minimal.json", json.dumps(
        {"model_type": "qwen3", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
         "num_attention_heads": 2, "vocab_size": 300, "eos_token_id": [1, 2],
         "rope_scaling": {"rope_type": "default"}, "chat_template": [{"name": "default",
                                                                       "template": "x"}]}))


if __name__ == "__main__":
    main()
