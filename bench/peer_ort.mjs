// bench/peer_ort.mjs: ONNX Runtime peer of `finsent bench`, on the graphs
// bench/ort_export.py writes (fp32.onnx and int8.onnx of one shape or model
// directory). Prints one JSON object per measurement, with the fields of
// `finsent bench --json` and bench/peer_torch.py: median of --runs rounds of
// --iters batches after --warmup rounds.
//
//   node bench/peer_ort.mjs --dir OUTDIR --precision fp32|int8
//        [--seq-len N --batch N | --texts] [--threads N] [--runs N]
//        [--warmup N] [--iters N] [--layers L --hidden H --intermediate I]
//   node bench/peer_ort.mjs --dir OUTDIR --check
//
// fixed mode: --batch rows of --seq-len random ids, every token real.
// texts mode: the batches of OUTDIR/texts.json, each padded to its longest
// item with an attention mask (what ONNX Runtime users do).
// OUTDIR/texts_bN.json holds the batches of --batch N.
// --check: the fp32 graph against torch's outputs in OUTDIR/check.json, the
// int8 graph against the fp32 graph (max abs diff of the probabilities,
// argmax agreement), on fixed-mode inputs and on texts_bN.json when present.
//
// Session: intra-op threads = --threads, inter-op 1, every graph
// optimization, sequential execution; everything else ONNX Runtime's
// defaults (its intra-op pool spins between ops, as users get it).
// onnxruntime-node is installed into bench/node_modules by bench/compare.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = {
    dir: null, precision: 'fp32', seqLen: 32, batch: 32, threads: 2, runs: 5, warmup: 1, iters: 8,
    texts: false, check: false, layers: 4, hidden: 256, intermediate: 1024, vocab: 12000,
  };
  const num = (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad number ${v}`);
    return n;
  };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    switch (k) {
      case '--dir': a.dir = v(); break;
      case '--precision': a.precision = v(); break;
      case '--seq-len': a.seqLen = num(v()); break;
      case '--batch': a.batch = num(v()); break;
      case '--threads': a.threads = num(v()); break;
      case '--runs': a.runs = num(v()); break;
      case '--warmup': a.warmup = num(v()); break;
      case '--iters': a.iters = num(v()); break;
      case '--layers': a.layers = num(v()); break;
      case '--hidden': a.hidden = num(v()); break;
      case '--intermediate': a.intermediate = num(v()); break;
      case '--vocab': a.vocab = num(v()); break;
      case '--heads': num(v()); break; // the graph has them; accepted for bench/compare
      case '--texts': a.texts = true; break;
      case '--check': a.check = true; break;
      default: throw new Error(`unknown option ${k}`);
    }
  }
  if (!a.dir) throw new Error('--dir OUTDIR is required');
  if (a.precision !== 'fp32' && a.precision !== 'int8') throw new Error('--precision fp32|int8');
  return a;
}

async function session(dir, precision, threads) {
  return ort.InferenceSession.create(join(dir, `${precision}.onnx`), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
}

// rows: arrays of ids (ragged); padded to the longest with 0 and masked.
function feeds(rows) {
  const B = rows.length;
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(B * T);
  const mask = new Float32Array(B * T);
  rows.forEach((r, b) => r.forEach((id, t) => {
    ids[b * T + t] = BigInt(id);
    mask[b * T + t] = 1;
  }));
  return {
    feed: { ids: new ort.Tensor('int64', ids, [B, T]), mask: new ort.Tensor('float32', mask, [B, T]) },
    B, T, tokens: rows.reduce((s, r) => s + r.length, 0),
  };
}

function fromMasked(c) {
  // check.json rows carry explicit masks; keep ids where the mask is 1
  return c.ids.map((r, b) => r.filter((_, t) => c.mask[b][t] === 1));
}

function diff(x, y) {
  let d = 0;
  let agree = 0;
  const n = x.dims[0];
  const w = x.dims[1];
  for (let b = 0; b < n; b++) {
    let ax = 0;
    let ay = 0;
    for (let j = 0; j < w; j++) {
      const u = x.data[b * w + j];
      const v = y[b * w + j];
      d = Math.max(d, Math.abs(u - v));
      if (u > x.data[b * w + ax]) ax = j;
      if (v > y[b * w + ay]) ay = j;
    }
    if (ax === ay) agree++;
  }
  return { d, agree, n };
}

async function check(a) {
  const s32 = await session(a.dir, 'fp32', a.threads);
  const s8 = await session(a.dir, 'int8', a.threads);
  const cases = JSON.parse(readFileSync(join(a.dir, 'check.json'), 'utf8'));
  let ok = true;
  for (const c of cases) {
    // the exported graph on torch's own padded inputs (same mask)
    const B = c.ids.length;
    const T = c.ids[0].length;
    const feed = {
      ids: new ort.Tensor('int64', BigInt64Array.from(c.ids.flat().map(BigInt)), [B, T]),
      mask: new ort.Tensor('float32', Float32Array.from(c.mask.flat()), [B, T]),
    };
    const o32 = await s32.run(feed);
    const o8 = await s8.run(feed);
    for (const head of ['topic', 'sentiment']) {
      const t = diff(o32[head], c[head].flat());
      const q = diff(o8[head], o32[head].data);
      console.log(`check B=${B} T=${T} ${head}: ort fp32 vs torch max abs diff ${t.d.toExponential(2)}` +
        ` (argmax ${t.agree}/${t.n}); ort int8 vs ort fp32 max abs diff ${q.d.toExponential(2)}` +
        ` (argmax ${q.agree}/${q.n})`);
      if (t.d > 1e-4) ok = false;
    }
  }
  let texts = null;
  try {
    texts = JSON.parse(readFileSync(join(a.dir, `texts_b${a.batch}.json`), 'utf8'));
  } catch {
    texts = null;
  }
  if (texts) {
    const acc = { topic: [0, 0, 0], sentiment: [0, 0, 0] };
    for (const rows of texts.batches) {
      const f = feeds(rows);
      const o32 = await s32.run(f.feed);
      const o8 = await s8.run(f.feed);
      for (const head of ['topic', 'sentiment']) {
        const q = diff(o8[head], o32[head].data);
        acc[head] = [Math.max(acc[head][0], q.d), acc[head][1] + q.agree, acc[head][2] + q.n];
      }
    }
    for (const head of ['topic', 'sentiment']) {
      const [d, ag, n] = acc[head];
      console.log(`check texts ${head}: ort int8 vs ort fp32 max abs diff ${d.toExponential(2)},` +
        ` labels agree ${ag}/${n} (${(100 * ag / n).toFixed(2)}%)`);
    }
  }
  return ok ? 0 : 1;
}

function median(v) {
  const s = [...v].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function bench(a) {
  const sess = await session(a.dir, a.precision, a.threads);
  let batches;
  if (a.texts) {
    batches = JSON.parse(readFileSync(join(a.dir, `texts_b${a.batch}.json`), 'utf8')).batches.map(feeds);
  } else {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed;
    };
    const rows = [];
    for (let b = 0; b < a.batch; b++) {
      const r = [2];
      for (let t = 1; t < a.seqLen; t++) r.push(5 + (rnd() % (a.vocab - 5)));
      rows.push(r);
    }
    batches = [feeds(rows)];
  }
  const times = [];
  let items = 0;
  let toks = 0;
  for (let r = 0; r < a.warmup + a.runs; r++) {
    items = 0;
    toks = 0;
    const t0 = performance.now();
    for (let it = 0; it < a.iters; it++) {
      const b = batches[it % batches.length];
      await sess.run(b.feed);
      items += b.B;
      toks += b.tokens;
    }
    const dt = (performance.now() - t0) / 1e3;
    if (r >= a.warmup) times.push(dt);
  }
  const med = median(times);
  let flops = 0;
  const { layers: L, hidden: H, intermediate: I } = a;
  for (let it = 0; it < a.iters; it++) {
    const { B, T } = batches[it % batches.length];
    flops += L * (2 * B * T * (4 * H * H + 2 * H * I) + 4 * B * T * T * H) + 2 * B * H * H;
  }
  const r2 = (x, n) => Math.round(x * 10 ** n) / 10 ** n;
  console.log(JSON.stringify({
    engine: 'ort', precision: a.precision, mode: a.texts ? 'padded' : 'fixed', layers: L, hidden: H,
    seq: a.texts ? 0 : a.seqLen, batch: a.batch, threads: a.threads,
    items_per_s: r2(items / med, 2), tokens_per_s: r2(toks / med, 1), gflops: r2(flops / med * 1e-9, 2),
    ms_per_batch: r2(med * 1e3 / a.iters, 3), rss_mib: r2(process.resourceUsage().maxRSS / 1024, 1),
    ort: ort.env.versions.node,
  }));
  return 0;
}

try {
  const a = parseArgs(process.argv);
  process.exitCode = a.check ? await check(a) : await bench(a);
} catch (e) {
  console.error(`peer_ort: ${e.message}`);
  process.exitCode = 1;
}
