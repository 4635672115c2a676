"""A small byte-level BPE tokenizer in Qwen3's tokenizer.json format.

256 byte tokens, a few merges learned from one sentence, and Qwen3's
special tokens, so that `vase make-model --tokenizer DIR --vocab N` writes
checkpoints of a few kilobytes. Used by tests/cli/bad_inputs_test.py and
fuzz/make_corpus.py.
"""

import json
import os

# Qwen2/Qwen3's pre-tokenizer split pattern (as in its tokenizer.json).
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

ADDED = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
         ("<think>", False), ("</think>", False)]

SAMPLE = "the cat sat on the mat and then the cat ate the rat in the hat"


def byte_level_chars():
    """GPT-2's bytes_to_unicode: the character standing for each byte."""
    printable = (list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256)))
    chars, extra = {}, 256
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(extra)
            extra += 1
    return chars


def learn_merges(n_merges):
    chars = byte_level_chars()
    words = [[chars[b] for b in (w if i == 0 else " " + w).encode()]
             for i, w in enumerate(SAMPLE.split(" "))]
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(sorted(counts), key=lambda p: counts[p])
        merges.append(best)
        for w in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == best:
                    w[i:i + 2] = [w[i] + w[i + 1]]
                else:
                    i += 1
    return merges


def tokenizer_json(n_merges=12):
    chars = byte_level_chars()
    vocab = {chars[b]: b for b in range(256)}
    merges = learn_merges(n_merges)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = [{"id": len(vocab) + i, "content": text, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": special}
             for i, (text, special) in enumerate(ADDED)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


def n_ids(n_merges=12):
    """Ids the tokenizer uses (the smallest vocab_size a model may have)."""
    return 256 + len(learn_merges(n_merges)) + len(ADDED)


def write(directory, n_merges=12):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(n_merges), f, ensure_ascii=False)
    config = {"eos_token": "<|im_end|>", "bos_token": None, "pad_token": "<|endoftext|>",
              "model_max_length": 131072}
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return directory
