#!/usr/bin/python3
"""A catalogue of bad inputs, each run through the real `vase` binary.

Every case builds a broken input (usually a corrupted copy of a tiny valid
checkpoint written by `vase make-model`), runs one command and requires:
exit status 1..127 (no signal, no sanitizer abort), no sanitizer report on
stderr, and every expected fragment in stderr -- the file (or option) and the
problem. tests/model/bad_inputs_test.cpp checks the loaders in-process; this
checks what a user sees. Run: bad_inputs_test.py PATH/TO/vase [-k SUBSTRING]
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tiny_tokenizer  # noqa: E402

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:", "Segmentation fault", "terminate called")

# Shape of the tiny models: hidden 8, 1 layer, 2 query heads and 1 KV head of 4,
# feed-forward 16 (the embedding is [vocab, 8], up_proj [16, 8]).
SHAPE = ["--hidden", "8", "--intermediate", "16", "--layers", "1", "--heads", "2",
         "--kv-heads", "1", "--head-dim", "4"]


# ---------------------------------------------------------------------------
# Reading the files we corrupt


def gguf_layout(data):
    """Offsets inside a GGUF v3 file: section boundaries, metadata values, tensors."""
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode()
        pos += n
        return s

    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    out = {"kv": {}, "tensors": {}}
    take("<4s")
    take("<I")
    n_tensors, n_kv = take("<QQ")
    out["header_end"] = pos
    for _ in range(n_kv):
        start = pos
        key = string()
        type_id = take("<I")
        value_at = pos
        if type_id == 8:
            string()
        elif type_id == 9:
            et, count = take("<IQ")
            for _ in range(count):
                if et == 8:
                    string()
                else:
                    pos += sizes[et]
        else:
            pos += sizes[type_id]
        out["kv"][key] = {"start": start, "type": type_id, "value": value_at, "end": pos}
    out["kv_end"] = pos
    for _ in range(n_tensors):
        start = pos
        name = string()
        n_dims = take("<I")
        ne_at = pos
        ne = [take("<Q") for _ in range(n_dims)]
        type_at = pos
        ggml_type, offset = take("<IQ")
        out["tensors"][name] = {"start": start, "name_at": start + 8, "ne_at": ne_at, "ne": ne,
                                "type_at": type_at, "offset_at": type_at + 4, "type": ggml_type,
                                "offset": offset, "end": pos}
    out["infos_end"] = pos
    out["data_start"] = (pos + 31) // 32 * 32
    return out


def safetensors_layout(data):
    n = struct.unpack_from("<Q", data, 0)[0]
    header = json.loads(data[8:8 + n])
    return n, header


def write_safetensors(path, header, body):
    text = json.dumps(header).encode()
    text += b" " * ((-(8 + len(text))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)


def npy_bytes(array, descr=None, fortran=False, header_extra="", version=1, shape=None):
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, %s}" % (
        descr or array.dtype.str, "True" if fortran else "False",
        repr(shape if shape is not None else array.shape), header_extra)
    header = header.encode()
    prefix = 10 if version == 1 else 12
    header += b" " * ((-(prefix + len(header) + 1)) % 64) + b"\n"
    size = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header + array.tobytes()


# ---------------------------------------------------------------------------
# The catalogue


class Catalogue:
    def __init__(self, vase, tmp):
        self.vase = vase
        self.tmp = tmp
        self.cases = []
        self.count = 0
        self.tok = tiny_tokenizer.write(os.path.join(tmp, "tok"))
        self.vocab = tiny_tokenizer.n_ids()
        self.hf = self.make_model("hf", "f32", "hf")
        self.gguf = self.make_model("gguf", "f32", "model.gguf")

    def make_model(self, fmt, dtype, name, extra=()):
        out = os.path.join(self.tmp, name)
        subprocess.run([self.vase, "make-model", "--shape", "tiny", "--tokenizer", self.tok,
                        "--vocab", str(self.vocab), "--format", fmt, "--dtype", dtype,
                        "--no-tie", "--out", out, *SHAPE, *extra],
                       check=True, stderr=subprocess.DEVNULL)
        return out

    def path(self, name):
        self.count += 1
        return os.path.join(self.tmp, f"{self.count:03d}-{name}")

    # Copies of the base models to corrupt.
    def hf_copy(self, name):
        d = self.path(name)
        shutil.copytree(self.hf, d)
        return d

    def gguf_bytes(self):
        with open(self.gguf, "rb") as f:
            return bytearray(f.read())

    def gguf_file(self, name, data):
        p = self.path(name + ".gguf")
        with open(p, "wb") as f:
            f.write(bytes(data))
        return p

    def add(self, name, args, expect, stdin=None, ok=False, known=None):
        """ok=True: the input is accepted (exit 0) and each `expect` is in stdout.
        known="why": a reported bug, expected to misbehave; the case fails once it
        behaves, so that the catalogue is updated when the bug is fixed."""
        self.cases.append({"name": name, "args": [str(a) for a in args], "expect": expect,
                           "stdin": stdin, "ok": ok, "known": known})

    def generate(self, name, model, expect, extra=()):
        self.add(name, ["generate", "-m", model, "-p", "the cat", "-n", "2", "-t", "1", *extra],
                 expect)

    def run(self, only=None):
        failures = 0
        known = 0
        ran = 0
        for case in self.cases:
            if only and only not in case["name"]:
                continue
            ran += 1
            proc = subprocess.run([self.vase, *case["args"]], input=case["stdin"],
                                  capture_output=True, timeout=120)
            out = proc.stdout.decode("utf-8", "replace")
            err = proc.stderr.decode("utf-8", "replace")
            problems = []
            if case["ok"]:
                if proc.returncode != 0:
                    problems.append(f"exit status {proc.returncode}, expected 0")
                missing = [e for e in case["expect"] if e not in out]
            else:
                if proc.returncode <= 0 or proc.returncode >= 128:
                    problems.append(f"exit status {proc.returncode}, expected 1..127")
                missing = [e for e in case["expect"] if e not in err]
            if missing:
                problems.append(f"stderr lacks {missing}")
            marks = [m for m in SANITIZER_MARKS if m in err]
            if marks:
                problems.append(f"crash or sanitizer report ({', '.join(marks)})")
            if case["known"]:
                if problems:
                    print(f"KNOWN {case['name']}: {case['known']} ({problems[0]})")
                    known += 1
                    continue
                problems = [f"behaves now; drop known={case['known']!r} from the catalogue"]
            status = "ok  " if not problems else "FAIL"
            print(f"{status} {case['name']}: exit {proc.returncode}: {err.strip()[:300]}")
            if problems:
                failures += 1
                command = " ".join(case["args"]).encode("utf-8", "surrogateescape")
                print("     command: vase " + command.decode("utf-8", "replace")[:400])
                for p in problems:
                    print("     " + p)
        print(f"\n{ran - failures - known} of {ran} bad-input cases behave as catalogued; "
              f"{known} known bugs (reported), {failures} failures")
        return failures


def gguf_cases(c):
    base = c.gguf_bytes()
    lay = gguf_layout(base)
    tensors = lay["tensors"]

    def edit(name, change, expect):
        data = bytearray(base)
        change(data)
        p = c.gguf_file(name, data)
        c.generate("gguf: " + name, p, [p] + expect)

    def set_u32(at, v):
        return lambda d: struct.pack_into("<I", d, at, v)

    def set_u64(at, v):
        return lambda d: struct.pack_into("<Q", d, at, v)

    def kv_value(key):
        return lay["kv"][key]["value"]

    edit("wrong magic", lambda d: d.__setitem__(slice(0, 4), b"GGML"), ["not a GGUF file"])
    edit("version 1", set_u32(4, 1), ["GGUF version 1 is not supported"])
    edit("version 4", set_u32(4, 4), ["unsupported GGUF version 4"])
    edit("big-endian version", set_u32(4, 3 << 24), ["unsupported GGUF version"])
    edit("absurd tensor count", set_u64(8, 1 << 60), ["tensor count", "is impossible"])
    edit("absurd metadata count", set_u64(16, 1 << 40), ["metadata count", "is impossible"])

    # Truncated at every section boundary and inside each section.
    embd = tensors["token_embd.weight"]
    first_data = lay["data_start"] + embd["offset"]
    cuts = {
        "empty file": 0, "inside the magic": 2, "after the magic": 4, "after the version": 8,
        "inside the counts": 20, "after the header": lay["header_end"],
        "inside the first key": lay["header_end"] + 10,
        "inside a metadata value": kv_value("tokenizer.ggml.tokens") + 100,
        "after the metadata": lay["kv_end"], "inside a tensor name": embd["start"] + 12,
        "inside tensor dimensions": embd["ne_at"] + 4, "after the tensor infos":
        lay["infos_end"], "at the data section": lay["data_start"],
        "inside the first tensor": first_data + 4, "one byte short": len(base) - 1,
    }
    for where, at in cuts.items():
        # "truncated GGUF file: ...", "... impossible for a file of N bytes (corrupt or
        # truncated?)" or "tensor ... lies past the end of the file (N bytes; truncated?)".
        p = c.gguf_file("truncated " + where, base[:at])
        c.generate(f"gguf: truncated {where} (byte {at})", p, [p, "truncated"])

    up = tensors["blk.0.ffn_up.weight"]
    edit("absurd dimension", set_u64(up["ne_at"], 1 << 50), ["absurd dimension"])
    edit("dimension product overflows", lambda d: [struct.pack_into("<Q", d, up["ne_at"] + 8 * i,
                                                                     1 << 39) for i in range(2)],
         ["overflows"])
    edit("zero dimensions", set_u32(up["ne_at"] - 4, 0), ["n_dims = 0"])
    edit("tensor offset past the end", set_u64(up["offset_at"], 1 << 30), ["past the end"])
    edit("overlapping tensors", set_u64(up["offset_at"], embd["offset"]), ["overlap"])
    edit("unaligned offset", set_u64(up["offset_at"], up["offset"] + 4),
         ["not a multiple of the alignment"])
    edit("unsupported tensor type Q4_K", set_u32(up["type_at"], 12),
         ["blk.0.ffn_up.weight", "Q4_K"])
    edit("missing tensor", lambda d: d.__setitem__(
        slice(up["name_at"], up["name_at"] + len("blk.0.ffn_up")), b"blk.0.ffn_uq"),
        ["missing tensor model.layers.0.mlp.up_proj.weight"])
    edit("shape differs from the metadata",
         set_u32(kv_value("qwen3.feed_forward_length"), 24),
         ["model.layers.0.mlp.gate_proj.weight", "expected [24, 8]"])
    nan_at = lay["data_start"] + tensors["output_norm.weight"]["offset"] + 4
    edit("NaN weight", lambda d: struct.pack_into("<f", d, nan_at, float("nan")),
         ["model.norm.weight contains NaN/Inf at element 1"])
    inf_at = first_data + 4 * 8 * 5
    edit("infinite weight", lambda d: struct.pack_into("<f", d, inf_at, float("-inf")),
         ["model.embed_tokens.weight contains NaN/Inf at element 40"])
    arch = kv_value("general.architecture") + 8
    edit("wrong architecture", lambda d: d.__setitem__(slice(arch, arch + 5), b"qwen2"),
         ["unsupported architecture qwen2"])
    model = kv_value("tokenizer.ggml.model") + 8
    edit("tokenizer model not gpt2", lambda d: d.__setitem__(slice(model, model + 4), b"bert"),
         ["tokenizer.ggml.model = bert is not supported"])
    edit("eos id outside the vocabulary", set_u32(kv_value("tokenizer.ggml.eos_token_id"), 99999),
         ["tokenizer.ggml.eos_token_id = 99999 is outside the vocabulary"])
    edit("metadata of the wrong type", set_u32(lay["kv"]["qwen3.block_count"]["value"] - 4, 6),
         ["qwen3.block_count"])
    edit("unknown value type", set_u32(lay["kv"]["qwen3.block_count"]["value"] - 4, 13),
         ["unknown value type 13"])
    edit("absurd string length", set_u64(lay["kv"]["general.name"]["value"], 1 << 62),
         ["truncated GGUF file"])


def safetensors_cases(c):
    with open(os.path.join(c.hf, "model.safetensors"), "rb") as f:
        base = f.read()
    n, header = safetensors_layout(base)
    body = base[8 + n:]

    def with_header(name, edit, expect):
        d = c.hf_copy(name)
        h = json.loads(json.dumps(header))
        edit(h)
        p = os.path.join(d, "model.safetensors")
        write_safetensors(p, h, body)
        c.generate("safetensors: " + name, d, [p] + expect)

    def raw(name, data, expect):
        d = c.hf_copy(name)
        p = os.path.join(d, "model.safetensors")
        with open(p, "wb") as f:
            f.write(data)
        c.generate("safetensors: " + name, d, [p] + expect)

    up = "model.layers.0.mlp.up_proj.weight"
    first = min(header.values(), key=lambda t: t["data_offsets"][0] if "data_offsets" in t
                else 1 << 62)
    cuts = {"empty file": (0, "truncated safetensors file"),
            "inside the header length": (5, "truncated safetensors file"),
            "inside the header": (8 + n // 2, "truncated safetensors file: header of"),
            "after the header": (8 + n, "truncated?"),
            "inside the first tensor": (8 + n + first["data_offsets"][1] - 2, "truncated?"),
            "one byte short": (len(base) - 1, "truncated?")}
    for where, (at, problem) in cuts.items():
        raw(f"truncated {where} (byte {at})", base[:at], [problem])
    raw("absurd header length", struct.pack("<Q", 1 << 40) + base[8:],
        ["header length 1099511627776 is not in 2.."])
    huge = b'{"a": 1e999}'
    raw("header with a number beyond double range", struct.pack("<Q", len(huge)) + huge,
        ["not valid JSON", "1e999"])
    raw("header that is not JSON", struct.pack("<Q", n) + b"{" + b"x" * (n - 1) + body,
        ["safetensors header is not valid JSON"])

    def offsets(name, new):
        def edit(h):
            h[name]["data_offsets"] = new(h[name]["data_offsets"])
        return edit

    with_header("offsets past the end", offsets(up, lambda o: [o[0] + (1 << 20),
                                                               o[1] + (1 << 20)]),
                ["lie outside the", "data bytes"])
    with_header("offsets disagree with the shape", offsets(up, lambda o: [o[0], o[1] - 4]),
                ["needs 512"])
    embd = header["model.embed_tokens.weight"]["data_offsets"]
    with_header("overlapping tensors", offsets(up, lambda o: [embd[0], embd[0] + o[1] - o[0]]),
                ["overlap"])

    def set_field(name, key, value):
        def edit(h):
            h[name][key] = value
        return edit

    with_header("wrong dtype I32", set_field(up, "dtype", "I32"), [up, "has dtype I32"])
    with_header("unknown dtype", set_field(up, "dtype", "F128"), [up, "unknown dtype F128"])
    with_header("absurd dimension", set_field(up, "shape", [1 << 41, 8]),
                ["invalid dimension"])
    with_header("negative dimension", set_field(up, "shape", [-16, 8]), ["invalid dimension"])
    with_header("shape product overflows", set_field(up, "shape", [1 << 40] * 3), ["overflows"])

    def rename(h):
        h[up.replace("up_proj", "up_prej")] = h.pop(up)
    with_header("missing tensor", rename, ["missing tensor " + up])

    def write_float(name, tensor, index, value, expect):
        d = c.hf_copy(name)
        p = os.path.join(d, "model.safetensors")
        data = bytearray(base)
        struct.pack_into("<f", data, 8 + n + header[tensor]["data_offsets"][0] + 4 * index, value)
        with open(p, "wb") as f:
            f.write(data)
        c.generate("safetensors: " + name, d, [p] + expect)

    write_float("NaN weight", up, 7, float("nan"), [up + " contains NaN/Inf at element 7"])
    write_float("infinite weight", "model.norm.weight", 3, float("inf"),
                ["model.norm.weight contains NaN/Inf at element 3"])


def hf_directory_cases(c):
    c.generate("hf: nonexistent path", os.path.join(c.tmp, "no-such-model"),
               ["no-such-model", "no such file or directory"])
    empty = c.path("empty-dir")
    os.makedirs(empty)
    c.generate("hf: directory without config.json", empty, [empty, "no config.json"])

    for name, problem in [("config.json", "invalid JSON"),
                          ("generation_config.json", "invalid JSON"),
                          ("tokenizer_config.json", "invalid JSON"),
                          ("tokenizer.json", "not valid JSON")]:
        d = c.hf_copy("bad-" + name)
        with open(os.path.join(d, name), "w") as f:
            f.write('{"hidden_size": 8,')
        c.generate(f"hf: truncated JSON in {name}", d, [os.path.join(d, name), problem])

    for name in ["config.json", "generation_config.json", "tokenizer_config.json"]:
        d = c.hf_copy("huge-number-" + name)
        with open(os.path.join(d, name), "w") as f:
            f.write('{"temperature": 1e999}')
        c.generate(f"hf: number beyond double range in {name}", d,
                   [os.path.join(d, name), "invalid JSON", "1e999"])

    d = c.hf_copy("config-not-object")
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write("[1, 2]")
    c.generate("hf: config.json is not an object", d,
               [os.path.join(d, "config.json"), "expected a JSON object"])

    def config_edit(name, edit, expect):
        d = c.hf_copy(name)
        p = os.path.join(d, "config.json")
        with open(p) as f:
            cfg = json.load(f)
        edit(cfg)
        with open(p, "w") as f:
            json.dump(cfg, f)
        c.generate("hf: " + name, d, expect(d, p))

    config_edit("config shape differs from the file",
                lambda cfg: cfg.update(intermediate_size=24),
                lambda d, p: [os.path.join(d, "model.safetensors"), "expected [24, 8]",
                              "config.json"])
    config_edit("vocab smaller than the tokenizer", lambda cfg: cfg.update(vocab_size=100),
                lambda d, p: [os.path.join(d, "tokenizer.json"), "vocab_size = 100"])
    config_edit("unsupported architecture",
                lambda cfg: cfg.update(architectures=["LlamaForCausalLM"], model_type="llama"),
                lambda d, p: [p, "unsupported architecture LlamaForCausalLM"])
    config_edit("MoE config", lambda cfg: cfg.update(num_experts=8),
                lambda d, p: [p, "MoE"])
    config_edit("heads not a multiple of KV heads",
                lambda cfg: cfg.update(num_key_value_heads=3),
                lambda d, p: [p, "not a multiple of num_key_value_heads"])
    config_edit("hidden_size a string", lambda cfg: cfg.update(hidden_size="8"),
                lambda d, p: [p, "hidden_size must be an integer"])
    config_edit("missing hidden_size", lambda cfg: cfg.pop("hidden_size"),
                lambda d, p: [p, "missing required key hidden_size"])

    d = c.hf_copy("generation-top-p")
    p = os.path.join(d, "generation_config.json")
    with open(p) as f:
        gen = json.load(f)
    gen["top_p"] = 1.5
    with open(p, "w") as f:
        json.dump(gen, f)
    c.generate("hf: generation_config top_p out of range", d, [p, "top_p = 1.5"])

    for missing, expect in [("tokenizer.json", "no tokenizer.json"),
                            ("model.safetensors", "no model.safetensors")]:
        d = c.hf_copy("without-" + missing)
        os.remove(os.path.join(d, missing))
        c.generate(f"hf: missing {missing}", d, [d, expect])

    d = c.hf_copy("bad-index")
    os.remove(os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write('{"weight_map": {"a": "../../etc/passwd"}}')
    c.generate("hf: shard index points outside the directory", d,
               [os.path.join(d, "model.safetensors.index.json"), "not a plain file name"])

    inner = os.path.join(c.hf, "model.safetensors")
    c.generate("hf: a file inside the directory", inner, [inner, "give the model directory"])

    d = c.hf_copy("foreign-template")
    p = os.path.join(d, "tokenizer_config.json")
    with open(p) as f:
        tc = json.load(f)
    tc["chat_template"] = "{% for m in messages %}{{ m.content }}{% endfor %}"
    with open(p, "w") as f:
        json.dump(tc, f)
    c.add("hf: --chat with a chat template that is not Qwen3's",
          ["generate", "-m", d, "--chat", "hi", "-n", "1", "-t", "1"],
          [d, "the chat template is not Qwen3's"])


def prompt_and_option_cases(c):
    m = c.gguf
    gen = ["generate", "-m", m, "-n", "2", "-t", "1"]
    # Invalid UTF-8 in a prompt is accepted: the tokenizer encodes each invalid
    # byte as its own byte token (as it must for any bytes; HF cannot receive
    # such text at all), and what is printed is valid UTF-8.
    bad = "caf\udce9 \udcff\udcfe the \udcc3"  # surrogateescape: the raw bytes e9, ff, fe, c3
    c.add("prompt: invalid UTF-8 in -p is encoded byte by byte", gen + ["-p", bad, "--temp", "0"],
          [], ok=True)
    c.add("prompt: invalid UTF-8 in --chat", gen + ["--chat", bad, "--temp", "0"], [], ok=True)
    c.add("prompt: invalid UTF-8 with --json output", gen + ["-p", bad, "--json", "--temp", "0"],
          ['"tokens"'], ok=True)
    c.add("prompt: invalid UTF-8 to vase tokenize", ["tokenize", "-m", m, "--ids", bad],
          ["255 254"], ok=True)
    c.add("prompt: empty", gen + ["-p", ""], ["give exactly one of -p/--prompt"])
    c.add("prompt: two kinds at once", gen + ["-p", "a", "--chat", "b"],
          ["give exactly one of"])
    c.add("prompt: token id that is not a number", gen + ["--prompt-ids", "1 x 2"],
          ["--prompt-ids: 'x' is not a token id"])
    c.add("prompt: token id outside the vocabulary", gen + ["--prompt-ids", "1 99999"],
          ["99999", "outside the vocabulary"])
    c.add("prompt: negative -n", ["generate", "-m", m, "-p", "a", "-n", "-1"],
          ["-n/--n-predict must be >= 0"])
    c.add("prompt: longer than the context", ["generate", "-m", m, "-p", "a", "-n", "50000"],
          ["exceed the model's context"])

    # Sampling parameters.
    for opt, value, expect in [("--top-p", "1.5", "top_p must be in (0, 1]"),
                               ("--top-p", "0", "top_p must be in (0, 1]"),
                               ("--min-p", "2", "min_p must be in [0, 1]"),
                               ("--temp", "inf", "temperature must be a finite number"),
                               ("--top-k", "x", "--top-k")]:
        c.add(f"sampling: {opt} {value}", gen + ["-p", "a", opt, value], [expect])
    # cmd_generate.cpp takes any value below 0 (and NaN) as "the model's default".
    for opt, value, expect in [("--temp", "nan", "temperature"), ("--temp", "-0.5", "temperature"),
                               ("--top-p", "-2", "top_p"), ("--min-p", "nan", "min_p")]:
        c.add(f"sampling: {opt} {value}", gen + ["-p", "a", opt, value], [expect],
              known="silently replaced by the model's default (reported)")
    c.add("sampling: --kv-type f8", gen + ["-p", "a", "--kv-type", "f8"], ["--kv-type", "f8"])
    unwritable = os.path.join(c.tmp, "no-such-dir", "logits.npy")
    c.add("output: --dump-logits into a missing directory",
          gen + ["-p", "a", "--dump-logits", unwritable], [unwritable, "cannot open for writing"])
    missing_prompt = os.path.join(c.tmp, "no-such-prompt.txt")
    c.add("tokenize: -f of a nonexistent file", ["tokenize", "-m", m, "-f", missing_prompt],
          [missing_prompt, "cannot open"])
    c.add("eval: no model", ["eval", "--task", "aime24"], ["give -m MODEL"])
    c.add("eval: budget that is not a number", ["eval", "-m", m, "--budget", "1024,lots"],
          ["--budget: 'lots' is not a positive integer"])
    c.add("eval: unknown task", ["eval", "-m", m, "--task", "nope", "--out",
                                 os.path.join(c.tmp, "eval-out")], ["unknown task 'nope'"])

    # KV-cache options: each rule of EvictionParams::validate.
    kv = gen + ["-p", "a", "--kv-policy"]
    for args, expect in [
            (["vase", "--kv-budget", "64", "--kv-window", "64"],
             "budget (64) must be greater than the window (64)"),
            (["vase", "--kv-budget", "100", "--kv-window", "32"],
             "budget (100) must be a multiple of the window (32)"),
            (["vase", "--kv-budget", "128", "--kv-window", "64", "--kv-n-large", "65"],
             "n_large (65) must be at most budget - window"),
            (["vase", "--kv-budget", "128", "--kv-window", "64", "--kv-n-large", "8",
              "--kv-sinks", "9"], "sinks (9) must be at most n_large (8)"),
            (["streaming", "--kv-budget", "128", "--kv-window", "64", "--kv-sinks", "65"],
             "sinks (65) must be at most budget - window (64)"),
            (["no_such_policy"], "unknown eviction policy 'no_such_policy'"),
            (["vase", "--kv-budget", "-128"], "budget must not be negative"),
            (["vase", "--kv-window", "-1"], "window must not be negative"),
            (["vase", "--kv-window", "0"], "window must be at least 1"),
            (["vase", "--kv-sinks", "-4"], "sinks must not be negative"),
            (["vase", "--kv-n-large", "-2"], "n_large must be >= 0, or -1"),
            (["vase", "--kv-temperature", "0"], "temperature must be a positive number"),
            (["rkv", "--kv-lambda", "1.5"], "lambda must be in [0, 1]"),
            (["vase", "--kv-budget", "lots"], "--kv-budget")]:
        c.add("kv: " + " ".join(args), kv + args, [expect])


def evict_cases(c):
    rng = np.random.default_rng(0)
    keys = rng.standard_normal((2, 16, 4)).astype("<f4")

    def npy(name, data):
        p = c.path(name + ".npy")
        with open(p, "wb") as f:
            f.write(data)
        return p

    good = npy("keys", npy_bytes(keys))
    queries = npy("queries", npy_bytes(rng.standard_normal((4, 3, 4)).astype("<f4")))
    out = os.path.join(c.tmp, "kept.npy")

    def evict(name, k, expect, policy="vase", keep="8", extra=(), values=None):
        # --sinks 1 fits every rule at --keep 8 (n_large defaults to keep / 4 = 2).
        sinks = [] if "--sinks" in extra else ["--sinks", "1"]
        c.add("evict: " + name, ["evict", "--policy", policy, "--keys", k, "--values",
                                 values or k, "--queries", queries, "--keep", keep, "--out", out,
                                 *sinks, *extra], expect)

    def bad_keys(name, data, expect, **kw):
        p = npy(name, data)
        evict(name, p, [p] + expect, **kw)

    bad_keys("not an npy file", b"keys,values\n1,2\n", ["not a .npy file"])
    full = npy_bytes(keys)
    bad_keys("truncated data", full[:-5], [".npy data has", "needs 512 bytes"])
    bad_keys("truncated header", full[:40], ["truncated .npy file"])
    bad_keys("version 3", full[:6] + b"\x03" + full[7:], ["unsupported .npy format version 3"])
    bad_keys("int32 keys", npy_bytes(keys.astype("<i4")), ["expected a float32 or float64",
                                                          "int32"])
    bad_keys("big-endian floats", npy_bytes(keys.astype(">f4")), ["unsupported .npy dtype '>f4'"])
    bad_keys("Fortran order", npy_bytes(keys, fortran=True), ["Fortran-order"])
    bad_keys("two dimensions", npy_bytes(keys.reshape(8, 16)), ["expected 3 dimensions, got 2"])
    bad_keys("unknown header key", npy_bytes(keys, header_extra="'extra': 1, "),
             ["unexpected key 'extra'"])
    bad_keys("absurd shape", npy_bytes(np.zeros(0, "<f4"), shape=(1 << 32, 1 << 32, 1 << 32)),
             ["overflows"])
    nan_keys = keys.copy()
    nan_keys[1, 2, 3] = np.nan
    bad_keys("NaN key", npy_bytes(nan_keys), ["--keys", "element 75 is not a finite"])
    inf_keys = keys.astype("<f8")
    inf_keys[0, 0, 1] = 1e300  # finite in float64, infinite in float32
    bad_keys("float64 beyond float32", npy_bytes(inf_keys), ["element 1 is not a finite"])
    other = npy("values-other-shape", npy_bytes(keys[:, :8]))
    evict("values of another shape", good, [other, "differs from --keys shape"], values=other)
    missing = os.path.join(c.tmp, "no-such.npy")
    evict("nonexistent keys", missing, [missing, "cannot open"])
    evict("keep more than the candidates", good, ["--keep 17"], keep="17")
    evict("negative keep", good, ["--keep -1"], keep="-1")
    evict("policy full never evicts", good, ["--policy full"], policy="full")
    evict("unknown policy", good, ["unknown eviction policy 'lru'"], policy="lru")
    evict("n_large above keep", good, ["--n-large 9: must be at most --keep 8"],
          extra=["--n-large", "9"])
    evict("sinks above n_large", good, ["--sinks 3", "sinks <= n_large (2)"],
          extra=["--n-large", "2", "--sinks", "3"])
    evict("temperature zero", good, ["--temperature 0"], extra=["--temperature", "0"])
    evict("lambda above one", good, ["--lambda 2"], policy="rkv", extra=["--lambda", "2"])
    q5 = npy("queries-dim5", npy_bytes(rng.standard_normal((4, 3, 5)).astype("<f4")))
    c.add("evict: queries with another head_dim",
          ["evict", "--policy", "snapkv", "--keys", good, "--values", good, "--queries", q5,
           "--keep", "8", "--out", out], [q5, "head_dim 5 differs from the keys' 4"])
    q3 = npy("queries-3heads", npy_bytes(rng.standard_normal((3, 3, 4)).astype("<f4")))
    c.add("evict: query heads not a multiple of KV heads",
          ["evict", "--policy", "snapkv", "--keys", good, "--values", good, "--queries", q3,
           "--keep", "8", "--out", out], [q3, "3 query heads is not a multiple of the 2 KV heads"])
    c.add("evict: attention policy without queries",
          ["evict", "--policy", "snapkv", "--keys", good, "--values", good, "--keep", "8",
           "--out", out], ["--queries is required"])
    proj = npy("projection", npy_bytes(rng.standard_normal((5, 2)).astype("<f4")))
    c.add("evict: cur projection with the wrong rows",
          ["evict", "--policy", "cur", "--keys", good, "--values", good, "--projection", proj,
           "--keep", "8", "--out", out], [proj, "has 5 rows, expected head_dim 4"])
    unwritable = os.path.join(c.tmp, "no-such-dir", "kept.npy")
    c.add("evict: output in a missing directory",
          ["evict", "--policy", "streaming", "--keys", good, "--values", good, "--keep", "8",
           "--out", unwritable], [unwritable, "cannot open for writing"])


def grade_cases(c):
    def grade(name, lines, expect):
        p = c.path(name + ".jsonl")
        with open(p, "wb") as f:
            f.write(lines)
        c.add("grade: " + name, ["grade", p], [p + expect[0]] + expect[1:])

    ok = b'{"task": "aime24", "completion": "\\\\boxed{3}", "answer": "3"}\n'
    grade("invalid JSON on line 2", ok + b'{"completion": "x", \n', [":2:", "invalid JSON"])
    grade("line that is not an object", ok + ok + b"[1, 2]\n", [":3:", "expected a JSON object"])
    grade("missing completion", b'{"answer": "3"}\n', [":1:", 'missing string field "completion"'])
    grade("missing answer", b'{"completion": "3"}\n', [":1:", 'missing field "answer"'])
    grade("answer of the wrong type", b'{"completion": "3", "answer": [3]}\n',
          [":1:", 'missing field "answer"'])
    grade("unknown task", b'{"task": "nope", "completion": "3", "answer": "3"}\n',
          [":1:", "nope"])
    grade("task not a string", b'{"task": 3, "completion": "3", "answer": "3"}\n',
          [":1:", '"task" must be a string'])
    grade("invalid UTF-8 inside JSON", b'{"completion": "\xff", "answer": "3"}\n',
          [":1:", "invalid JSON"])
    p = c.path("huge-number.jsonl")
    with open(p, "wb") as f:
        f.write(b'{"completion": "3", "answer": 1e999}\n')
    c.add("grade: number beyond double range", ["grade", p], [p + ":1:", "1e999"])
    missing = os.path.join(c.tmp, "no-such.jsonl")
    c.add("grade: nonexistent file", ["grade", missing], [missing, "cannot open"])


def tokenizer_cases(c):
    missing = os.path.join(c.tmp, "no-such-tokenizer")
    c.add("tokenize: nonexistent model", ["tokenize", "-m", missing, "x"],
          [missing, "no such file or directory"])
    text = c.path("notes.txt")
    with open(text, "w") as f:
        f.write("not a tokenizer")
    c.add("tokenize: a text file as the model", ["tokenize", "-m", text, "x"],
          [text, "not a tokenizer"])
    empty = c.path("no-tokenizer-dir")
    os.makedirs(empty)
    c.add("tokenize: directory without tokenizer.json", ["tokenize", "-m", empty, "x"],
          [empty, "no tokenizer.json"])

    def tok_json(name, edit, expect):
        d = c.path(name)
        os.makedirs(d)
        j = tiny_tokenizer.tokenizer_json()
        edit(j)
        p = os.path.join(d, "tokenizer.json")
        with open(p, "w") as f:
            json.dump(j, f)
        c.add("tokenize: " + name, ["tokenize", "-m", p, "the cat"], [p] + expect)

    tok_json("tokenizer.json without byte tokens",
             lambda j: j["model"]["vocab"].pop("a"), ["no token for byte 0x61"])
    tok_json("merge of unknown tokens", lambda j: j["model"]["merges"].append(["zz", "q"]),
             ['"zz" is not in the vocabulary'])
    tok_json("unsupported model type", lambda j: j["model"].update(type="WordPiece"),
             ["model type WordPiece is not supported"])
    tok_json("regex that does not compile", lambda j: j["pre_tokenizer"]["pretokenizers"][0]
             ["pattern"].update(Regex="(unclosed"), ["regex does not compile"])
    tok_json("added token id used twice", lambda j: j["added_tokens"][1].update(
        id=j["added_tokens"][0]["id"]), ["both have id"])


def make_model_cases(c):
    out = os.path.join(c.tmp, "never")
    base = ["make-model", "--out", out, "--tokenizer", c.tok]
    c.add("make-model: unknown shape", base + ["--shape", "qwen9"], ["unknown model shape 'qwen9'"])
    c.add("make-model: q8_0 safetensors", base + ["--shape", "tiny", "--dtype", "q8_0"],
          ["--dtype q8_0 needs --format gguf"])
    c.add("make-model: inconsistent heads", base + ["--shape", "tiny", "--heads", "3"],
          ["not a multiple of num_key_value_heads"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vase")
    ap.add_argument("-k", help="run only the cases whose name contains this")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vase-bad-inputs-") as tmp:
        c = Catalogue(os.path.abspath(args.vase), tmp)
        gguf_cases(c)
        safetensors_cases(c)
        hf_directory_cases(c)
        prompt_and_option_cases(c)
        evict_cases(c)
        grade_cases(c)
        tokenizer_cases(c)
        make_model_cases(c)
        print(f"{len(c.cases)} cases catalogued")
        failures = c.run(args.k)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
