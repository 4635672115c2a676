#!/usr/bin/env node
// Load test of `vase serve` (loopback only, bounded in time): N concurrent
// clients for D seconds mixing plain and streaming chat and completions,
// n = 2, clients that leave mid-request, and malformed requests. It starts
// the server itself on 127.0.0.1 and checks the acceptance rules:
//   - no 5xx response and no crash (the server exits 0 on SIGTERM at the end);
//   - every well-formed request is answered (200) or refused with 429;
//   - every malformed request gets a 4xx in OpenAI's error shape;
//   - peak RSS <= startup RSS + the KV memory limit + 64 MiB of slack (HTTP
//     buffers, JSON, allocator), where the KV limit is --max-seqs seats of
//     budget + window slots (printed by the server, read from /metrics).
// Prints the figures and writes them as JSON (--out); exits 1 if a rule fails.
//
//   node bench/load_test.mjs --vase build/release/bin/vase [--model DIR] \
//       [--duration 300] [--clients 32] [--max-seqs 8] [--max-queue 16] [--out FILE]
// Without --model a random tiny Qwen3 checkpoint is made with `vase make-model`.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const VASE = args.vase ?? 'build/release/bin/vase';
const DURATION = Number(args.duration ?? 300) * 1000;
const CLIENTS = Number(args.clients ?? 32);
const MAX_SEQS = args['max-seqs'] ?? '8';
const MAX_QUEUE = args['max-queue'] ?? '16';
const THREADS = args.threads ?? String(os.cpus().length);
const SLACK = 64 * 1024 * 1024;

const rnd = (n) => Math.floor(Math.random() * n);
const pick = (xs) => xs[rnd(xs.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rss(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return null;
  }
}

async function metrics(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const v = {};
  for (const line of text.split('\n')) {
    const m = /^(vase_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) v[m[1]] = Number(m[2]);
  }
  return v;
}

// ---- the server --------------------------------------------------------------
let tmp = null;
let model = args.model;
if (!model) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vase-load-'));
  model = path.join(tmp, 'model');
  execFileSync(VASE, ['make-model', '--shape', 'tiny', '--dtype', 'f32', '--format', 'hf', '--seed', '3', '--out', model],
    { stdio: 'ignore' });
}
const serverArgs = ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', '-t', THREADS,
  '--max-seqs', MAX_SEQS, '--max-queue', MAX_QUEUE, '--kv-policy', 'vase', '--kv-budget', '512',
  '--kv-window', '64', '--max-tokens', '256'];
const server = spawn(VASE, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
let serverErr = '';
server.stderr.on('data', (d) => { serverErr += d; });
let exitInfo = null;
const exited = new Promise((resolve) => server.on('exit', (code, signal) => { exitInfo = { code, signal }; resolve(); }));
const port = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (m) resolve(Number(m[1]));
  });
  exited.then(() => reject(new Error(`vase serve exited: ${serverErr}`)));
});
const base = `http://127.0.0.1:${port}`;
const start0 = await metrics(base);
const startupRss = start0.vase_startup_resident_bytes;
const kvLimit = start0.vase_kv_limit_bytes;
const bound = startupRss + kvLimit + SLACK;

// ---- the clients -----------------------------------------------------------------
const stats = {
  byScenario: {}, byStatus: {}, latencies: [], completionTokens: 0, fiveHundreds: 0, unanswered: [],
  badErrorShape: 0, malformed: 0, disconnects: 0,
};
const count = (scenario, status) => {
  stats.byScenario[scenario] ??= {};
  stats.byScenario[scenario][status] = (stats.byScenario[scenario][status] ?? 0) + 1;
  stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
  if (typeof status === 'number' && status >= 500) stats.fiveHundreds += 1;
};

const words = 'the a of to and in is it you that he was for on are with as his they be at one have this from'.split(' ');
const text = (n) => Array.from({ length: n }, () => pick(words)).join(' ');
const kvChoice = () => pick([{}, {}, { kv_policy: 'full' }, { kv_policy: 'streaming', kv_budget: 128, kv_window: 32 },
  { kv_policy: 'snapkv', kv_budget: 256, kv_window: 32 }, { kv_policy: 'vase', kv_budget: 64, kv_window: 16 }]);

function wellFormed() {
  const chat = Math.random() < 0.6;
  const body = {
    max_tokens: 16 + rnd(300), temperature: pick([0, 0.6, 1.0]), seed: rnd(1000), ignore_eos: Math.random() < 0.5,
    ...kvChoice(),
  };
  if (Math.random() < 0.15) body.n = 2;
  if (chat) {
    body.messages = [{ role: 'user', content: text(5 + rnd(200)) }];
    if (Math.random() < 0.3) body.chat_template_kwargs = { enable_thinking: false };
  } else {
    body.prompt = text(5 + rnd(300));
  }
  return { path: chat ? '/v1/chat/completions' : '/v1/completions', body };
}

async function readSse(res, onChunk) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let done = false;
  let tokens = 0;
  while (true) {
    const { value, done: end } = await reader.read();
    if (end) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (event === 'data: [DONE]') { done = true; continue; }
      const j = JSON.parse(event.slice(6));
      if (j.error) throw new Error(`stream error: ${JSON.stringify(j.error)}`);
      if (j.usage) tokens = j.usage.completion_tokens;
      if (onChunk && onChunk(j) === false) return { done: false, tokens };
    }
  }
  return { done, tokens };
}

async function run(scenario) {
  const t0 = performance.now();
  if (scenario === 'plain' || scenario === 'stream') {
    const { path: p, body } = wellFormed();
    if (scenario === 'stream') Object.assign(body, { stream: true, stream_options: { include_usage: true } });
    let res;
    try {
      res = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    } catch (e) {
      count(scenario, 'connection-error');
      stats.unanswered.push(`${scenario}: ${e.message}`);
      return;
    }
    count(scenario, res.status);
    if (res.status === 200) {
      let tokens;
      if (scenario === 'stream') {
        const r = await readSse(res);
        if (!r.done) stats.unanswered.push('stream without [DONE]');
        tokens = r.tokens;
      } else {
        tokens = (await res.json()).usage.completion_tokens;
      }
      stats.completionTokens += tokens;
      stats.latencies.push(performance.now() - t0);
    } else {
      const j = await res.json().catch(() => null);
      if (!j?.error) stats.badErrorShape += 1;
      // 429 says Retry-After: 1; a client backs off that long, with jitter.
      if (res.status === 429) await sleep(1000 * Number(res.headers.get('retry-after') ?? 1) + rnd(500));
      else stats.unanswered.push(`${scenario}: HTTP ${res.status} ${JSON.stringify(j)}`);
    }
  } else if (scenario === 'disconnect') {
    // Leaves a stream after a few chunks, or a plain request after a moment.
    const { path: p, body } = wellFormed();
    body.max_tokens = 2000;
    body.ignore_eos = true;
    const stream = Math.random() < 0.5;
    body.stream = stream;
    const ctl = new AbortController();
    stats.disconnects += 1;
    try {
      const res = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body), signal: ctl.signal });
      count(scenario, res.status);
      if (res.status !== 200) {
        await res.text();
        if (res.status === 429) await sleep(1000 + rnd(500));
        else stats.unanswered.push(`${scenario}: HTTP ${res.status}`);
        return;
      }
      if (stream) {
        let n = 0;
        const leaveAfter = 1 + rnd(20);
        await readSse(res, () => ++n < leaveAfter);
        ctl.abort();
      } else {
        setTimeout(() => ctl.abort(), 50 + rnd(500));
        await res.text();
      }
    } catch {
      count(scenario, 'left');
    }
  } else {
    stats.malformed += 1;
    const kind = pick(['json', 'type', 'value', 'route', 'model', 'long', 'big', 'garbage', 'truncated']);
    if (kind === 'garbage' || kind === 'truncated') {
      // Raw sockets: a non-HTTP line, or a body shorter than its Content-Length.
      const status = await new Promise((resolve) => {
        const sock = net.connect(port, '127.0.0.1');
        let got = '';
        sock.setTimeout(15000, () => sock.destroy());
        sock.on('data', (d) => { got += d; });
        sock.on('error', () => {});
        sock.on('close', () => resolve(/^HTTP\/1\.1 (\d+)/.exec(got)?.[1] ?? 'closed'));
        sock.on('connect', () => {
          if (kind === 'garbage') sock.end('GARBAGE \x00\x01 NOT HTTP\r\n\r\n');
          else sock.end('POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"prompt": "hi"');
        });
      });
      count(`malformed-${kind}`, status === 'closed' ? 'closed' : Number(status));
      return;
    }
    const bodies = {
      json: '{"messages": [{"role": "user", "content": "hi"}',
      type: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 'ten' }),
      value: JSON.stringify({ prompt: 'hi', temperature: -4, kv_budget: 7 }),
      route: '{}',
      model: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      long: JSON.stringify({ prompt: 'hi', max_tokens: 1 << 20 }),
      big: JSON.stringify({ prompt: 'x'.repeat(5 << 20) }),
    };
    const p = kind === 'route' ? '/v1/unknown' : kind === 'json' || kind === 'type' || kind === 'model' ? '/v1/chat/completions' : '/v1/completions';
    try {
      const res = await fetch(base + p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: bodies[kind] });
      count(`malformed-${kind}`, res.status);
      const j = await res.json().catch(() => null);
      const shapeOk = j?.error && ['message', 'type', 'param', 'code'].every((k) => k in j.error);
      if (!shapeOk || res.status < 400 || res.status >= 500) stats.badErrorShape += 1;
    } catch (e) {
      // A body over the limit may be cut off before the 413 is read.
      count(`malformed-${kind}`, kind === 'big' ? 'closed' : 'connection-error');
      if (kind !== 'big') stats.unanswered.push(`malformed-${kind}: ${e.message}`);
    }
  }
}

const t0 = Date.now();
const end = t0 + DURATION;
let peak = { rss: 0, hwm: 0 };
const sampler = setInterval(() => {
  const r = rss(server.pid);
  if (r) peak = { rss: Math.max(peak.rss, r.rss), hwm: Math.max(peak.hwm, r.hwm) };
}, 500);
let progress = 0;
const ticker = setInterval(async () => {
  progress += 1;
  const m = await metrics(base).catch(() => null);
  if (m) {
    console.error(`[${Math.round((Date.now() - t0) / 1000)}s] active ${m.vase_active_sequences} queued ${m.vase_queued_requests} ` +
      `tokens/s ${m.vase_generation_tokens_per_second} generated ${m.vase_generated_tokens_total} ` +
      `rss ${(m.vase_resident_bytes / 2 ** 20).toFixed(1)} MiB`);
  }
}, 30000);

async function client() {
  while (Date.now() < end) {
    const r = Math.random();
    const scenario = r < 0.4 ? 'plain' : r < 0.75 ? 'stream' : r < 0.87 ? 'disconnect' : 'malformed';
    try {
      await run(scenario);
    } catch (e) {
      stats.unanswered.push(`${scenario}: ${e.message}`);
    }
  }
}
await Promise.all(Array.from({ length: CLIENTS }, client));
const wall = (Date.now() - t0) / 1000;
clearInterval(ticker);
clearInterval(sampler);
const final = await metrics(base);
const last = rss(server.pid);
if (last) peak = { rss: Math.max(peak.rss, last.rss), hwm: Math.max(peak.hwm, last.hwm) };
server.kill('SIGTERM');
await exited;
if (tmp) fs.rmSync(tmp, { recursive: true, force: true });

// ---- the figures -----------------------------------------------------------------------
const lat = stats.latencies.sort((a, b) => a - b);
const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] / 1000 : null);
const summary = {
  command: `node bench/load_test.mjs ${process.argv.slice(2).join(' ')}`,
  server_args: serverArgs.join(' '),
  clients: CLIENTS,
  duration_s: wall,
  requests_by_status: stats.byStatus,
  requests_by_scenario: stats.byScenario,
  completed: lat.length,
  latency_p50_s: q(0.5),
  latency_p95_s: q(0.95),
  client_completion_tokens: stats.completionTokens,
  server_generated_tokens: final.vase_generated_tokens_total - start0.vase_generated_tokens_total,
  tokens_per_s: (final.vase_generated_tokens_total - start0.vase_generated_tokens_total) / wall,
  jobs: {
    completed: final['vase_jobs_total{outcome="completed"}'], cancelled: final['vase_jobs_total{outcome="cancelled"}'],
    failed: final['vase_jobs_total{outcome="failed"}'], refused: final['vase_jobs_total{outcome="refused"}'],
  },
  eviction_passes: final.vase_eviction_passes_total,
  peak_rss_bytes: Math.max(peak.hwm, final.vase_peak_resident_bytes ?? 0),
  rss_bound_bytes: bound,
  bound_terms: { startup_rss: startupRss, kv_limit: kvLimit, slack: SLACK },
  server_exit: exitInfo,
  five_hundreds: stats.fiveHundreds,
  unanswered: stats.unanswered.slice(0, 20),
  unanswered_count: stats.unanswered.length,
  bad_error_shape: stats.badErrorShape,
};
const rules = {
  'no 5xx': summary.five_hundreds === 0 && summary.jobs.failed === 0,
  'no crash (exit 0 on SIGTERM)': exitInfo.code === 0,
  'well-formed: 200 or 429': summary.unanswered_count === 0,
  'malformed: 4xx in OpenAI shape': summary.bad_error_shape === 0,
  'peak RSS within the bound': summary.peak_rss_bytes <= bound,
};
summary.rules = rules;
if (args.out) fs.writeFileSync(args.out, JSON.stringify(summary, null, 2));
const mib = (b) => (b / 2 ** 20).toFixed(1);
console.log(JSON.stringify(summary, null, 2));
console.log(`\n${CLIENTS} clients for ${wall.toFixed(0)} s: ${lat.length} completed, p50 ${q(0.5)?.toFixed(2)} s, ` +
  `p95 ${q(0.95)?.toFixed(2)} s, ${summary.tokens_per_s.toFixed(1)} tokens/s; peak RSS ${mib(summary.peak_rss_bytes)} MiB ` +
  `<= bound ${mib(bound)} MiB (startup ${mib(startupRss)} + KV ${mib(kvLimit)} + slack ${mib(SLACK)})`);
for (const [rule, ok] of Object.entries(rules)) console.log(`${ok ? 'PASS' : 'FAIL'}  ${rule}`);
if (!exitInfo || exitInfo.code !== 0) console.log(serverErr.slice(-2000));
process.exit(Object.values(rules).every(Boolean) ? 0 : 1);
