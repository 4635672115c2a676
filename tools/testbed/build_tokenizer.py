#!/usr/bin/python3
"""Writes tools/testbed/tokenizer.json and tokenizer_config.json: a byte-level BPE
tokenizer of the Qwen2 kind with no merges (docs/testbed_format.md).

Token id b (0..255) is byte b, spelled with the GPT-2 byte-to-unicode symbol of b;
ids 256..260 are <|endoftext|>, <|im_start|>, <|im_end|>, <think>, </think>.
The chat template is Qwen3's, copied from third_party/qwen3-tokenizer/ when present.

    /usr/bin/python3 tools/testbed/build_tokenizer.py [OUT_DIR]
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
QWEN3_CONFIG = os.path.join(ROOT, "third_party", "qwen3-tokenizer", "tokenizer_config.json")
SPECIALS = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
            ("<think>", False), ("</think>", False)]
PRETOKENIZE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    """GPT-2's map from byte value to a printable unicode symbol."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
          list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def level(byte_level):
    return dict(byte_level, add_prefix_space=False, trim_offsets=False, use_regex=False)


def tokenizer_json():
    sym = bytes_to_unicode()
    vocab = {sym[b]: b for b in range(256)}
    added = [{"id": 256 + i, "content": text, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": special}
             for i, (text, special) in enumerate(SPECIALS)]
    bl = {"type": "ByteLevel"}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PRETOKENIZE}, "behavior": "Isolated",
             "invert": False},
            level(bl)]},
        "post_processor": level(bl), "decoder": level(bl),
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }


def tokenizer_config():
    cfg = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(256 + i): {"content": t, "lstrip": False,
                                                "normalized": False, "rstrip": False,
                                                "single_word": False, "special": s}
                                 for i, (t, s) in enumerate(SPECIALS)},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
        "errors": "replace", "model_max_length": 4096, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None,
    }
    if os.path.exists(QWEN3_CONFIG):
        with open(QWEN3_CONFIG, encoding="utf-8") as f:
            cfg["chat_template"] = json.load(f)["chat_template"]
    else:
        print(f"warning: {QWEN3_CONFIG} missing; no chat_template written", file=sys.stderr)
    return cfg


def write(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, obj in (("tokenizer.json", tokenizer_json()),
                      ("tokenizer_config.json", tokenizer_config())):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=2)
            f.write("\n")


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else HERE)
