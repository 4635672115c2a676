#!/usr/bin/env python3
"""Writes the generated part of the tokenizer conformance corpus.

english.txt, chinese.txt and code_snippets.txt are written by hand; this script
writes math.txt (problems from the evaluation data sets), code_repo.txt (this
repository's own sources), unicode.txt, whitespace.txt, numbers.txt, special.txt
and fuzz.txt. The committed files are the corpus; the script documents where they
came from. Texts in a file are separated by SEPARATOR.

    /usr/bin/python3 tests/data/tokenizer_corpus/make_corpus.py
"""
import json
import random
import subprocess
import unicodedata
from pathlib import Path

SEPARATOR = "\n=====vase-corpus-text=====\n"
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DATASETS = Path("/work/shared/datasets")


def write(name, texts):
    for t in texts:
        assert SEPARATOR not in t and t, name
    (HERE / name).write_text(SEPARATOR.join(texts), encoding="utf-8", newline="")


def jsonl(name):
    with open(DATASETS / name / "test.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def math_texts():
    texts = []
    for i, r in enumerate(jsonl("math")):
        if i % 5 == 0:
            texts.append(r["problem"] + "\n\n" + r["solution"])
    for r in jsonl("aime24")[:8]:
        texts.append(r["problem"] + "\n\n" + r["solution"])
    texts += [r["problem"] for r in jsonl("hmmt")[:20]]
    texts += [r["question"] for r in jsonl("minerva")[:30]]
    texts += [r["question"] for r in jsonl("olympiadbench")[:40]]
    return texts


def repo_texts():
    paths = ["src/util/error.h", "src/util/error.cpp", "src/util/mapped_file.h",
             "src/util/mapped_file.cpp", "src/util/rng.h", "src/ops/kernels.h",
             "src/model/config.h", "src/model/config.cpp", "src/model/tensor.h",
             "src/CMakeLists.txt", "CMakeLists.txt", "CMakePresets.json", ".clang-format",
             "scripts/setup.sh", "scripts/test.sh", "CONTRIBUTING.md"]
    texts = []
    for p in paths:
        src = subprocess.run(["git", "-C", str(REPO), "show", f"db12c65:{p}"],
                             capture_output=True, text=True)
        if src.returncode != 0:
            src = subprocess.run(["git", "-C", str(REPO), "show", f"HEAD:{p}"],
                                 capture_output=True, text=True, check=True)
        # Chunks of about 2 KB, cut at blank lines.
        chunk = ""
        for block in src.stdout.split("\n\n"):
            if chunk and len(chunk) + len(block) > 2000:
                texts.append(chunk)
                chunk = ""
            chunk = chunk + "\n\n" + block if chunk else block
        if chunk:
            texts.append(chunk)
    return texts


def unicode_texts():
    t = []
    zwj = "\u200d"
    tones = ["", "\U0001F3FB", "\U0001F3FC", "\U0001F3FD", "\U0001F3FE", "\U0001F3FF"]
    people = ["\U0001F44B", "\U0001F44D", "\U0001F9D1", "\U0001F469", "\U0001F468",
              "\U0001F476", "\U0001F64B", "\U0001F3C3", "\U0001F9D8", "\u270C\uFE0F"]
    t.append(" ".join(p + s for p in people for s in tones))
    families = ["\U0001F468" + zwj + "\U0001F469" + zwj + "\U0001F467" + zwj + "\U0001F466",
                "\U0001F469" + zwj + "\U0001F469" + zwj + "\U0001F466",
                "\U0001F468\U0001F3FD" + zwj + "\U0001F4BB",
                "\U0001F469\U0001F3FF" + zwj + "\U0001F52C",
                "\U0001F3F3\uFE0F" + zwj + "\U0001F308",
                "\U0001F3F4" + zwj + "\u2620\uFE0F",
                "\u2764\uFE0F" + zwj + "\U0001F525",
                "\U0001F9D1\U0001F3FB" + zwj + "\U0001F91D" + zwj + "\U0001F9D1\U0001F3FF",
                "\U0001F441\uFE0F" + zwj + "\U0001F5E8\uFE0F",
                "\U0001F415" + zwj + "\U0001F9BA"]
    t.append("Families and professions: " + " ".join(families) + "!")
    t.append("".join(families) + "\n" + "".join(families[::-1]))
    flags = ["\U0001F1FA\U0001F1F8", "\U0001F1E8\U0001F1F3", "\U0001F1EF\U0001F1F5",
             "\U0001F1E9\U0001F1EA", "\U0001F1EB\U0001F1F7", "\U0001F1E7\U0001F1F7",
             "\U0001F1EE\U0001F1F3", "\U0001F1F3\U0001F1EC",
             "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"]
    t.append("Flags: " + " ".join(flags) + " and together: " + "".join(flags))
    t.append("Keycaps: " + " ".join(c + "\uFE0F\u20E3" for c in "0123456789#*") + " \U0001F51F")
    t.append("I \u2764\uFE0F this \U0001F602\U0001F602\U0001F602 so much!!! \U0001F389\U0001F38A"
             "\U0001F973 Can't wait \U0001F60D\U0001F525\U0001F4AF #blessed @friend \U0001F914?")
    t.append("Status: \u2705 done, \u274C failed, \u26A0\uFE0F warning, \u2139\uFE0F info, "
             "\u23F3 pending, \U0001F680 deployed.\n\u2022 bullet\n\u25B6 play\n\u2605\u2606\u2605")
    t.append("".join(chr(c) for c in range(0x1F600, 0x1F650)))
    t.append(" ".join(chr(c) for c in range(0x1F300, 0x1F360)))
    scripts = {
        "Russian": "Съешь же ещё этих мягких французских булок, да выпей чаю. Москва — столица России.",
        "Greek": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η γλώσσα μου έδωσαν ελληνική.",
        "Arabic": "مرحبا بالعالم! هذه جملة عربية للاختبار، وفيها أرقام ١٢٣٤٥ وعلامات ترقيم؟",
        "Hebrew": "שלום עולם! זוהי בדיקה של טקסט בעברית, עם ניקוד: בְּרֵאשִׁית בָּרָא.",
        "Hindi": "नमस्ते दुनिया! यह हिंदी में एक परीक्षण वाक्य है। संख्याएँ: १२३४५।",
        "Thai": "สวัสดีชาวโลก นี่คือประโยคทดสอบภาษาไทย ไม่มีช่องว่างระหว่างคำ",
        "Georgian": "გამარჯობა მსოფლიო! ეს არის ქართული ტექსტი.",
        "Armenian": "Բարեւ աշխարհ! Սա հայերեն տեքստ է։",
        "Tamil": "வணக்கம் உலகம்! இது ஒரு தமிழ் சோதனை வாக்கியம்.",
        "Bengali": "হ্যালো বিশ্ব! এটি একটি বাংলা পরীক্ষামূলক বাক্য।",
        "Amharic": "ሰላም ልዑል! ይህ የአማርኛ ሙከራ ዓረፍተ ነገር ነው።",
        "Vietnamese": "Xin chào thế giới! Tiếng Việt có rất nhiều dấu: ắ ằ ẳ ẵ ặ ố ồ ổ ỗ ộ.",
        "Turkish": "İstanbul'da ılık bir akşam; Iğdır'dan gelen şoför çay içti.",
        "Polish": "Zażółć gęślą jaźń. Pchnąć w tę łódź jeża lub ośm skrzyń fig.",
        "German": "Größenwahn, Übermut und Äpfel: Straße, Maß, Fußgängerübergänge.",
        "French": "L'œuf, la cœur-de-bœuf et l'été à Noël: « déjà vu », naïveté, façade.",
        "Icelandic": "Þú ert ágætur; ég fór í bæinn og keypti ðþæö.",
        "Mongolian": "Монгол хэл ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
        "Tibetan": "བོད་ཡིག་ནི་ཡི་གེ་ཡིན།",
        "Khmer": "សួស្តីពិភពលោក",
        "Myanmar": "မင်္ဂလာပါကမ္ဘာလောက",
        "Sinhala": "ආයුබෝවන් ලෝකය",
    }
    for name, s in scripts.items():
        t.append(f"{name}: {s}")
    t.append(" | ".join(scripts.values()))
    t.append("Mixed: Hello мир 世界 κόσμε عالم 🌍 שלום दुनिया 세계 abc123 déjà-vu ñandú "
             "Ελλάδα東京Москва")
    t.append("Math symbols: ∀x∈ℝ, ∃y: x² + y² ≤ 1 ⇒ |x| ≤ 1; ∑ᵢ aᵢ = ∫₀¹ f(t) dt ≈ π/4 ± ε; "
             "A ⊆ B ∪ C, ¬(p ∧ q) ≡ ¬p ∨ ¬q, ∞ ≠ ℵ₀, √2 ∉ ℚ, ∂f/∂x, ∇·F, ⟨ψ|φ⟩.")
    t.append("Box drawing:\n┌──┬──┐\n│ab│cd│\n├──┼──┤\n│ef│gh│\n└──┴──┘\n░▒▓█ ▁▂▃▄▅▆▇█")
    t.append("Arrows and marks: ← ↑ → ↓ ↔ ↕ ⇐ ⇑ ⇒ ⇓ ⇔ ✓ ✗ ✔ ✘ ☐ ☑ ☒ ♠ ♣ ♥ ♦ ♪ ♫ ☀ ☁ ☂ ☃ ★ ☆")
    t.append("Currency: $1 €2 £3 ¥4 ₹5 ₽6 ₩7 ₪8 ₫9 ฿10 ₿0.001 ¢50 ₴12 ₺3,50")
    t.append("Quotes: “double” ‘single’ „German“ «French» ‹single› 「Japanese」 『double』 "
             "— em dash – en dash ‐ hyphen … ellipsis · middle dot ¶ § † ‡ • ′ ″")
    t.append("Spaces: a\u00a0b (nbsp) a\u2002b (en) a\u2003b (em) a\u2009b (thin) "
             "a\u200ab (hair) a\u202fb (narrow nbsp) a\u205fb (math) a\u3000b (ideographic) "
             "a\u1680b (ogham) a\u2028b (line sep) a\u2029b (para sep)")
    t.append("Zero width: a\u200bb (zwsp) a\u200cb (zwnj) a\u200db (zwj) a\u2060b (wj) "
             "a\u00adb (soft hyphen) \u200e\u200f (LRM RLM) \u202a\u202b\u202c\u202d\u202e")
    t.append("Variation selectors: \u2603\ufe0e \u2603\ufe0f \u263a\ufe0e \u263a\ufe0f "
             "\u8fbb\U000E0100 \u845b\U000E0100")
    t.append("Combining marks (NFC composes these): e\u0301 a\u0300 o\u0308 u\u0302 n\u0303 "
             "c\u0327 A\u030a E\u0301cole cafe\u0301 nai\u0308ve Zo\u0308e \u0391\u0301 "
             "\u03c9\u0342\u0345")
    t.append("Stacked combining marks: a\u0301\u0302\u0303\u0304 Z\u0351\u036b\u0343\u036a"
             "\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320"
             "\u034d A\u0332L\u0332G\u0332O\u0332 q\u0307\u0323 s\u0323\u0307 d\u0307\u0323")
    t.append("Singletons NFC replaces: \u212b (angstrom) \u2126 (ohm) \u212a (kelvin) "
             "\u1fef \u0340\u0341 \u0343 \u0374 \u037e \u0387 \u2000\u2001 "
             "\uf900\uf901\uf902 \ufa10\ufa12 \u2329\u232a")
    t.append("Already NFC, with compatibility characters NFC keeps: ﬁ ﬂ ﬀ ㎏ ㎞ ① ② ⅓ ¼ ² ³ "
             "ｶﾀｶﾅ Ⅻ ℌ ℍ ℕ ℡ ™ ℃ ℉ ſt")
    korean = "한국어 정규화 테스트: 안녕하세요, 세계! 훈민정음 가나다라마바사"
    t.append("Hangul decomposed to jamo (NFD): " + unicodedata.normalize("NFD", korean))
    t.append("Hangul precomposed: " + korean)
    for s in ["Ångström café naïve résumé coöperate façade jalapeño São Paulo Đắk Lắk",
              "Ελληνικά: ά έ ή ί ό ύ ώ ΐ ΰ ϊ ϋ",
              "Tiếng Việt: Người ta thường nói rằng học, học nữa, học mãi.",
              "のがぎぐげご ぱぴぷぺぽ ガギグゲゴ パピプペポ"]:
        t.append("NFD form: " + unicodedata.normalize("NFD", s))
        t.append("NFC form: " + unicodedata.normalize("NFC", s))
    t.append("Supplementary planes: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 𝑰𝒕𝒂𝒍𝒊𝒄 𝟘𝟙𝟚𝟛 𠀀𠀁𠀂 𪚥 𓀀𓀁𓀂 𐍈 🀄🃏")
    t.append("Control characters: a\x01b\x02c\x07d\x08e\x0bf\x0cg\x1bh\x1fi\x7fj\x00k end")
    t.append("\u00a1\u00bfQu\u00e9 tal? \u00a1Muy bien! \u00bfY t\u00fa?")
    t.append("Ligatures and digraphs: æ Æ œ Œ ß ẞ ĳ Ĳ ŉ ǆ ǅ Ǆ ǈ ǋ")
    t.append("Dingbats: " + "".join(chr(c) for c in range(0x2701, 0x2760)))
    t.append("Braille: " + "".join(chr(c) for c in range(0x2800, 0x2840)))
    t.append("Latin-1 supplement: " + "".join(chr(c) for c in range(0xa1, 0x100) if c != 0xad))
    t.append("Latin Extended-A: " + "".join(chr(c) for c in range(0x100, 0x180) if c != 0x17f))
    t.append("Cyrillic: " + "".join(chr(c) for c in range(0x400, 0x460)))
    t.append("Greek: " + "".join(chr(c) for c in range(0x391, 0x3ca) if unicodedata.category(chr(c)) != "Cn"))
    t.append("CJK punctuation: " + "".join(chr(c) for c in range(0x3001, 0x3040) if c != 0x302a))
    t.append("Hiragana: " + "".join(chr(c) for c in range(0x3041, 0x3097)))
    t.append("Katakana: " + "".join(chr(c) for c in range(0x30a1, 0x30fb)))
    return t


def whitespace_texts():
    t = ["", " ", "  ", "   ", "    ", " " * 8, " " * 17, " " * 64, "\t", "\t\t", "\t" * 9,
         "\n", "\n\n", "\n" * 7, "\r\n", "\r\n\r\n", "\r", "\r\r\n", "\n\r", " \n", "\n ",
         " \n ", "  \n  \n  ", "\t\n\t", " \t \t ", "\t \n \t", "\f", "\v", " \f\v ",
         "a  b", "a   b", "a    b", "a\tb", "a\t\tb", "a \tb", "a\t b", "a\nb", "a\n\nb",
         "a \nb", "a\n b", "a \n b", "a\r\nb", "a  \r\n  b", "a.  b", "a.\n\nb", "a,\tb",
         "end   ", "end\t\t", "end\n", "end\n\n\n", "end \n", "   start", "\tstart",
         "\n\nstart", " \n\n start", "x" + " " * 100 + "y", "x" + "\n" * 50 + "y",
         "  indented\n    more\n\tmixed\n  \t  both\n", "trailing \ntrailing  \ntrailing\t\n",
         "1 2  3   4    5     6", "-- --  --   --", "...   ...\t...\n...",
         "!\n!\n\n!\n\n\n!", "a\u00a0\u00a0b \u00a0 c", "a\u3000\u3000b", "a \u2003 b"]
    t = [s for s in t if s]
    rng = random.Random(7)
    pieces = [" ", "  ", "\t", "\n", "\r\n", "\n\n", "word", "Word", "42", ".", ",", "!?",
              "'s", "(", ")", "\u00e9", "\u4e2d", "\U0001F600", "-", "_", "#", "    "]
    for _ in range(60):
        t.append("".join(rng.choice(pieces) for _ in range(rng.randint(3, 40))))
    return t


def number_texts():
    t = ["0", "7", "42", "123", "1234", "12345", "1234567890", "3.14159265358979",
         "-273.15", "+1", "1e10", "6.022e23", "1.6E-19", "0x1F", "0xDEADBEEF", "0b101101",
         "0o755", "1,000", "1,234,567.89", "1.234.567,89", "1 000 000", "12:34:56",
         "2024-05-14", "14/05/2024", "05.14.2024", "+44 20 7946 0958", "(555) 123-4567",
         "192.168.0.1", "2001:db8::ff00:42:8329", "v1.2.3-rc.4+build.5", "ISBN 978-3-16-148410-0",
         "50%", "99.9%", "$3.50", "3x4", "1/2", "3/4", "22/7", "10^6", "2**32", "1_000_000",
         "007", "000123", "9" * 40, "1234567890" * 8, "3.14" * 10,
         "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "０１２３４５６７８９", "①②③④⑤", "ⅠⅡⅢⅣⅤⅫ",
         "½ ⅓ ¼ ⅛ ¾", "x² y³ z¹⁰ H₂O CO₂", "第1名 第２名 第三名", "No. 5, No.6, #7",
         "1st 2nd 3rd 4th 11th 21st 101st", "1990s '90s 90's", "1.0.0.127.in-addr.arpa"]
    rng = random.Random(11)
    for _ in range(60):
        n = rng.randint(1, 30)
        s = "".join(rng.choice("0123456789") for _ in range(n))
        sep = rng.choice([" ", ".", ",", "-", "", "+", "e", "\n", ":"])
        m = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
        t.append(s + sep + m)
    t.append(" ".join(str(i) for i in range(0, 300)))
    t.append(", ".join(str(i * i * 7919 % 1000003) for i in range(200)))
    t.append("\n".join(f"{i:>5} {i * 0.125:10.4f} {hex(i * 2654435761 % 2**32)}"
                       for i in range(1, 120)))
    return t


def special_texts():
    im_s, im_e = "<|im_start|>", "<|im_end|>"
    t = [
        f"{im_s}system\nYou are a helpful assistant.{im_e}\n{im_s}user\nWhat is 2+2?{im_e}\n"
        f"{im_s}assistant\n<think>\nThe user asks for 2+2. That is 4.\n</think>\n\n"
        f"2 + 2 = **4**.{im_e}\n",
        f"{im_s}user\nTranslate \"good morning\" to French.{im_e}\n{im_s}assistant\n"
        f"<think>\n\n</think>\n\nBonjour !{im_e}<|endoftext|>",
        f"{im_s}user\n请用中文回答：天空为什么是蓝色的？{im_e}\n{im_s}assistant\n<think>\n"
        f"用户问天空为什么是蓝色。这是瑞利散射：短波长的蓝光被大气分子散射得更多。\n</think>\n\n"
        f"因为瑞利散射。{im_e}",
        "<|endoftext|>", "<|endoftext|><|endoftext|><|endoftext|>", "<think>", "</think>",
        "<think></think>", "<think>\n\n</think>\n\n", " <think> ", "\n<think>\n", "a<think>b",
        "abc<|im_end|>def", "<|im_start|>", "<|im_end|>", "<|im_start|><|im_end|>",
        "<|im_start|>user<|im_end|>", "<|im_start", "im_start|>", "<|im_start|", "|im_start|>",
        "<<|im_start|>>", "<|<|im_start|>|>", "< think>", "<think >", "<THINK>", "<Think>",
        "</ think>", "<\\think>", "<|IM_START|>", "<|im-start|>", "<|endoftext|",
        "<|endoftext |>", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
        "{\"city\": \"Paris\"}}\n</tool_call>",
        "<tool_response>\n{\"temp_c\": 18}\n</tool_response>",
        "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n<|fim_middle|>return a + b",
        "<|repo_name|>vase<|file_sep|>src/main.cpp\nint main() {}\n",
        "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Describe the image.",
        "<|object_ref_start|>the cat<|object_ref_end|><|box_start|>(10,20),(30,40)<|box_end|>",
        "<|quad_start|><|quad_end|><|video_pad|><|vision_pad|><|fim_pad|>",
        "Text with <|im_end|> in the middle and </think> at the end</think>",
        "<think>" * 5 + "</think>" * 5,
        "<" * 10 + "|" * 10 + ">" * 10,
        "<|im_start|>\n\n\n<|im_end|>\n\n\n<|im_start|>   <|im_end|>   ",
        "Emoji after special<|im_end|>\U0001F600 and before\U0001F600<|im_start|>",
    ]
    conv = []
    for i in range(20):
        conv.append(f"{im_s}user\nQuestion {i}: compute {i} * {i + 3}.{im_e}\n{im_s}assistant\n"
                    f"<think>\nMultiply: {i} * {i + 3} = {i * (i + 3)}.\n</think>\n\n"
                    f"The answer is {i * (i + 3)}.{im_e}\n")
    t.append("".join(conv))
    return t


def fuzz_texts():
    """Random strings over a curated alphabet: every category the split regex cares
    about, but no code point where the JavaScript peer's regex knowingly differs from
    Hugging Face's (U+0085, U+180E, U+FEFF as whitespace; U+017F in contractions)."""
    rng = random.Random(1234)
    groups = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "0123456789",
        " ", "  ", "\t", "\n", "\r", "\r\n",
        "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL",
        ".,;:!?-_()[]{}<>/\\|@#$%^&*+=~`\"",
        "éèêëàâäôöûüçñßøåæœ",
        "абвгдежзийклмнопрстуфхцчшшщъыьэюя",
        "αβγδεζηθικλμνξοπρστυφχψω",
        "的一是不了人我在有他这为之大来以个中上们",
        "あいうえおかきくけこアイウエオカキクケコ",
        "가나다라마바사아자차카타파하",
        "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
        "אבגדהוזחטיכלמנסעפצקרשת",
        "०१२३४५६७८९٠١٢٣٤٥٦٧٨٩",
        "\u00a0\u3000\u2003\u2028",
        "\u0301\u0308\u0327\u0303",
        "😀😂🥲👍🏽👨‍👩‍👧🇫🇷❤️✨🔥",
        "½²③ⅫⅦ",
        "∑∫√∞≈≠≤≥±×÷",
        "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<|endoftext|>", "<|", "|>",
    ]
    t = []
    for _ in range(320):
        n = rng.randint(1, 60)
        s = ""
        for _ in range(n):
            g = rng.choice(groups)
            if len(g) > 4 and not g.startswith("<") and not g.startswith("'"):
                s += "".join(rng.choice(g) for _ in range(rng.randint(1, 4)))
            else:
                s += g
        t.append(s)
    return t


if __name__ == "__main__":
    write("math.txt", math_texts())
    write("code_repo.txt", repo_texts())
    write("unicode.txt", unicode_texts())
    write("whitespace.txt", whitespace_texts())
    write("numbers.txt", number_texts())
    write("special.txt", special_texts())
    write("fuzz.txt", fuzz_texts())
