// The official OpenAI JavaScript client against `vase serve` on a random tiny
// Qwen3 checkpoint: chat, streaming chat with reasoning_content apart from
// content, n > 1, completions, models, health, metrics, a client leaving
// mid-stream, an error surfaced by the client, and greedy output equal
// token for token to `vase generate`.
//
// The checkpoint is random except for a chain wired into its embeddings and
// LM head: after the "\n" that ends Qwen3's generation prompt it writes
// "<think>Let think</think>\n\nHi!<|im_end|>", so a chat has reasoning to
// split. The chain's hidden dimensions are cut out of every layer's output,
// so other tokens keep their random behaviour.
//
// Run: VASE_BINARY=build/release/bin/vase VASE_NODE_DIR=tests/node node --test tests/server/openai_client_test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const VASE = process.env.VASE_BINARY;
const NODE_DIR = process.env.VASE_NODE_DIR;
assert.ok(VASE && fs.existsSync(VASE), `VASE_BINARY must name the built vase (got '${VASE}')`);
const require = createRequire(path.join(NODE_DIR ?? '.', 'package.json'));
let openaiModule;
try {
  openaiModule = require('openai');
} catch (e) {
  throw new Error(`the openai package is not installed in ${NODE_DIR}: run scripts/setup.sh (${e.message})`);
}
const OpenAI = openaiModule.OpenAI ?? openaiModule.default ?? openaiModule;

const THREADS = '2';
// "\n" <think> "Let" " think" </think> "\n\n" "Hi" "!" <|im_end|>
const CHAIN = [198, 151667, 10061, 1744, 151668, 271, 13048, 0, 151645];

let dir;
let server;
let baseURL;
let client;
const model = 'tiny-think';

// Writes the chain into a float32 safetensors checkpoint made by vase make-model.
function wireChain(modelDir) {
  const file = path.join(modelDir, 'model.safetensors');
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tensor = (name) => {
    const t = header[name];
    assert.ok(t, `${name} is missing`);
    assert.equal(t.dtype, 'F32');
    const start = 8 + headerLen + t.data_offsets[0];
    const cols = t.shape.length === 2 ? t.shape[1] : 1;
    return {
      rows: t.shape[0],
      cols,
      set: (r, c, v) => view.setFloat32(start + 4 * (r * cols + c), v, true),
    };
  };
  const config = JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
  const dims = CHAIN.slice(0, -1).map((_, i) => i);  // hidden dimensions of the chain
  const embed = tensor('model.embed_tokens.weight');
  const head = tensor('lm_head.weight');
  const norm = tensor('model.norm.weight');
  for (let t = 0; t < embed.rows; ++t) for (const d of dims) embed.set(t, d, 0);
  for (let l = 0; l < config.num_hidden_layers; ++l) {
    for (const name of [`model.layers.${l}.self_attn.o_proj.weight`, `model.layers.${l}.mlp.down_proj.weight`]) {
      const w = tensor(name);
      for (const d of dims) for (let c = 0; c < w.cols; ++c) w.set(d, c, 0);
    }
  }
  for (const d of dims) norm.set(d, 0, 1);
  for (let i = 0; i + 1 < CHAIN.length; ++i) {
    for (let c = 0; c < embed.cols; ++c) {
      embed.set(CHAIN[i], c, 0);
      head.set(CHAIN[i + 1], c, 0);
    }
    embed.set(CHAIN[i], dims[i], 50);
    head.set(CHAIN[i + 1], dims[i], 50);
  }
  fs.writeFileSync(file, buf);
}

async function metrics() {
  const text = await (await fetch(`${baseURL.replace(/\/v1$/, '')}/metrics`)).text();
  const values = {};
  for (const line of text.split('\n')) {
    const m = /^(vase_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values[m[1]] = Number(m[2]);
  }
  return values;
}

// Asynchronous on purpose: a synchronous child blocks the event loop, and a
// kept-alive socket that the server closes meanwhile (after 5 s idle; slow
// under the sanitizers) would be reused unseen, failing the next request
// with a connection error.
async function generate(args) {
  const { stdout } = await promisify(execFile)(
    VASE, ['generate', '-m', path.join(dir, 'model'), '-t', THREADS, '--json', ...args],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(stdout);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vase-openai-test-'));
  const modelDir = path.join(dir, 'model');
  execFileSync(VASE, ['make-model', '--shape', 'tiny', '--dtype', 'f32', '--format', 'hf', '--no-tie',
                      '--seed', '11', '--out', modelDir], { stdio: 'ignore' });
  wireChain(modelDir);
  server = spawn(VASE, ['serve', '-m', modelDir, '--model-name', model, '--port', '0', '-t', THREADS,
                        '--max-seqs', '4', '--max-queue', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += d; });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`vase serve did not start: ${stderr}`)), 30000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    server.on('exit', (code) => reject(new Error(`vase serve exited with ${code}: ${stderr}`)));
  });
  baseURL = `http://127.0.0.1:${port}/v1`;
  client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
    server.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, 'vase serve stops cleanly on SIGTERM');
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('chat: reasoning_content comes apart from content', async () => {
  const r = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'What is 2 + 2?' }], max_tokens: 32, temperature: 0,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  const c = r.choices[0];
  assert.equal(c.message.role, 'assistant');
  assert.equal(c.message.reasoning_content, 'Let think');
  assert.equal(c.message.content, 'Hi!');
  assert.equal(c.finish_reason, 'stop');
  assert.equal(r.usage.completion_tokens, CHAIN.length - 1);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(c.kv_cache.policy, 'full');
});

test('streaming chat: reasoning deltas first, then content, then [DONE]', async () => {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 32, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  const kinds = [];
  let reasoning = '';
  let content = '';
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      if (ch.delta.reasoning_content) {
        kinds.push('reasoning');
        reasoning += ch.delta.reasoning_content;
      }
      if (ch.delta.content) {
        kinds.push('content');
        content += ch.delta.content;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(reasoning, 'Let think');
  assert.equal(content, 'Hi!');
  assert.ok(kinds.indexOf('content') > kinds.lastIndexOf('reasoning'), `order: ${kinds}`);
  assert.ok(kinds.filter((k) => k === 'reasoning').length >= 2, 'reasoning arrives token by token');
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, CHAIN.length - 1);
});

test('enable_thinking=false: the prompt closes the think block', async () => {
  const r = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 8, temperature: 0,
    chat_template_kwargs: { enable_thinking: false }, return_token_ids: true,
  });
  // The generation prompt now ends with "</think>\n\n", whose last token is
  // not the chain's start: the random model answers, without reasoning.
  assert.equal(r.choices[0].message.reasoning_content, null);
  assert.equal(r.choices[0].token_ids[0] === CHAIN[1], false);
});

test('n = 2: two choices, plain and streaming', async () => {
  const r = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 8, temperature: 1.0, seed: 5, n: 2, ignore_eos: true,
  });
  assert.equal(r.object, 'text_completion');
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  for (const c of r.choices) assert.equal(c.finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 16);
  // The same seed gives the same two completions.
  const again = await client.completions.create({
    model, prompt: 'Once upon a time', max_tokens: 8, temperature: 1.0, seed: 5, n: 2, ignore_eos: true,
  });
  assert.deepEqual(again.choices.map((c) => c.text), r.choices.map((c) => c.text));

  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 32, temperature: 0.7, n: 2, stream: true,
  });
  const texts = ['', ''];
  const reasons = [null, null];
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      texts[ch.index] += ch.delta.content ?? '';
      if (ch.finish_reason) reasons[ch.index] = ch.finish_reason;
    }
  }
  assert.deepEqual(texts, ['Hi!', 'Hi!']);
  assert.deepEqual(reasons, ['stop', 'stop']);
});

test('models, health and metrics', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [model]);
  const health = await fetch(baseURL.replace(/\/v1$/, '/health'));
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: 'ok' });
  const m = await metrics();
  for (const name of ['vase_generated_tokens_total', 'vase_generation_tokens_per_second', 'vase_active_sequences',
                      'vase_kv_reserved_bytes', 'vase_kv_allocated_bytes', 'vase_kv_limit_bytes',
                      'vase_eviction_passes_total', 'vase_evicted_tokens_total', 'vase_prompt_tokens_total']) {
    assert.ok(name in m, `${name} is in /metrics`);
  }
  assert.ok(m['vase_http_requests_total{route="/v1/chat/completions",status="200"}'] >= 2);
  assert.ok(m.vase_generated_tokens_total > 0);
});

test('errors reach the client as OpenAI errors', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
    (e) => e.status === 400 && e.param === 'messages' && e.type === 'invalid_request_error',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.code === 'model_not_found',
  );
  const raw = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"messages": [',
  });
  assert.equal(raw.status, 400);
  const body = await raw.json();
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(body.error.code, 'invalid_json');
});

test('a client that leaves mid-stream frees its sequence', async () => {
  const before = await metrics();
  const controller = new AbortController();
  const stream = await client.completions.create(
    {
      model, prompt: 'Once upon a time', max_tokens: 3000, ignore_eos: true, stream: true,
      kv_policy: 'streaming', kv_budget: 64, kv_window: 16,
    },
    { signal: controller.signal },
  );
  let chunks = 0;
  try {
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'text_completion');
      if (++chunks === 3) {
        controller.abort();
        break;
      }
    }
  } catch (e) {
    assert.equal(e.name, 'APIUserAbortError');  // the client's way of saying it left
  }
  assert.equal(chunks, 3);
  let m;
  for (let i = 0; i < 200; ++i) {
    m = await metrics();
    if (m.vase_active_sequences === 0 &&
        m['vase_jobs_total{outcome="cancelled"}'] === before['vase_jobs_total{outcome="cancelled"}'] + 1) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(m.vase_active_sequences, 0);
  assert.equal(m.vase_kv_reserved_bytes, 0);
  assert.equal(m['vase_jobs_total{outcome="cancelled"}'], before['vase_jobs_total{outcome="cancelled"}'] + 1);
  assert.ok(m.vase_generated_tokens_total - before.vase_generated_tokens_total < 3000);
});

test('greedy output is token for token what vase generate produces', async () => {
  // A raw prompt: the random part of the model speaks.
  const prompt = 'The quick brown fox jumps over';
  const want = await generate(['-p', prompt, '-n', '40', '--temp', '0']);
  const got = await client.completions.create({
    model, prompt, max_tokens: 40, temperature: 0, return_token_ids: true,
  });
  assert.deepEqual(got.choices[0].token_ids, want.tokens);
  assert.equal(got.choices[0].text, want.text);
  assert.equal(got.choices[0].finish_reason, want.finish_reason);
  assert.equal(got.usage.prompt_tokens, want.prompt_tokens);

  // A chat message, rendered by both with the Qwen3 template.
  const message = 'Say something.';
  const wantChat = await generate(['--chat', message, '-n', '40', '--temp', '0']);
  const gotChat = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: message }], max_tokens: 40, temperature: 0, return_token_ids: true,
  });
  assert.deepEqual(gotChat.choices[0].token_ids, wantChat.tokens);
  assert.equal(gotChat.usage.prompt_tokens, wantChat.prompt_tokens);

  // With eviction: a small budget on both sides.
  const kv = ['--kv-policy', 'vase', '--kv-budget', '32', '--kv-window', '8', '--ignore-eos'];
  const wantKv = await generate(['-p', prompt, '-n', '64', '--temp', '0', ...kv]);
  const gotKv = await client.completions.create({
    model, prompt, max_tokens: 64, temperature: 0, return_token_ids: true, ignore_eos: true,
    kv_policy: 'vase', kv_budget: 32, kv_window: 8, seed: 0,  // vase draws with the seed; generate's is 0
  });
  assert.deepEqual(gotKv.choices[0].token_ids, wantKv.tokens);
  assert.ok(gotKv.choices[0].kv_cache.eviction_passes > 0);
  assert.equal(gotKv.choices[0].kv_cache.eviction_passes, wantKv.cache.eviction_passes);
});
