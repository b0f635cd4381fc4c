// make_golden.mjs: golden WordPiece ids for finsent's C tokenizer, computed by
// Hugging Face's JavaScript tokenizers (@huggingface/tokenizers), an
// implementation independent of ours. Test tool only; the outputs are
// committed so ctest needs no node.
//
//   cd tests/reference/tokenizer && npm install --ignore-scripts && node make_golden.mjs
//
// Writes tests/data/tokenizer/<config>.jsonl. Line 1: {"config": {...},
// "generator": ...}; then one {"hex": <input bytes>, "text": <decoded>,
// "ids": [...]} per case, ids including [CLS]/[SEP], never truncated.
//
// The tokenizer is a tokenizer.json built in memory: BertNormalizer(clean_text,
// handle_chinese_chars, strip_accents, lowercase), BertPreTokenizer,
// WordPiece(vocab file, [UNK], "##", 100 chars), BertProcessing([CLS], [SEP]),
// no added tokens (so a literal "[CLS]" in text is plain text).
//
// One patch of the reference, to follow Python's BertTokenizer: tokenizers.js
// walks UTF-16 code units when spacing CJK ideographs, so ideographs above
// U+FFFF (U+20000-2FA1F) are never spaced; the patched method below walks code
// points. Inputs are bytes; invalid UTF-8 is decoded with TextDecoder (each
// maximal invalid subsequence -> U+FFFD, as Python's errors="replace").
// Cases avoid code points unassigned in Unicode 15 (utf8proc's version):
// Python drops them (category Cn) and tokenizers.js keeps them.
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const outDir = join(root, "tests", "data", "tokenizer");
const vocabPath = join(root, "tests", "data", "vocab", "bert-base-uncased.txt");
const sharedData = process.env.FINSENT_SHARED_DATA ?? "/work/shared/data";
const pkg = JSON.parse(
  readFileSync(join(here, "node_modules", "@huggingface", "tokenizers", "package.json"), "utf8"),
);

const vocabLines = readFileSync(vocabPath, "utf8").split("\n");
if (vocabLines[vocabLines.length - 1] === "") vocabLines.pop();
const vocab = Object.fromEntries(vocabLines.map((t, i) => [t, i]));

const isChinese = (cp) =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);

function makeTokenizer(cfg) {
  const json = {
    version: "1.0",
    added_tokens: [],
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: cfg.tokenize_chinese_chars,
      strip_accents: cfg.strip_accents,
      lowercase: cfg.do_lower_case,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
    post_processor: {
      type: "BertProcessing",
      sep: ["[SEP]", vocab["[SEP]"]],
      cls: ["[CLS]", vocab["[CLS]"]],
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
  };
  const tok = new Tokenizer(json, {});
  // The one patch (see the header): space CJK ideographs by code point.
  tok.normalizer.tokenize_chinese_chars = (text) => {
    let out = "";
    for (const ch of text) out += isChinese(ch.codePointAt(0)) ? ` ${ch} ` : ch;
    return out;
  };
  return tok;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: false });
const hexOf = (bytes) => Buffer.from(bytes).toString("hex");
const caseOfText = (text) => ({ bytes: enc.encode(text) });
const caseOfHex = (hex) => ({ bytes: Uint8Array.from(Buffer.from(hex, "hex")) });

// Hand-written cases: every behaviour the brief lists.
const handTexts = [
  "", " ", "\t\n\r   ", "\u00a0\u3000\u2028\u2029",
  "Héllo, WORLD!! $AAPL up 5%...", "中文abc", "can’t",
  "$1,234.56", "3.5%", "10-K", "Q3'24 EPS beat: $0.45 vs. $0.41 est.",
  "$TSLA -12.3% #stocks @elonmusk https://t.co/AbC123 &amp; RT",
  "Shares rose 2.5% to $1,050.00 (NYSE: XYZ); S&P 500 +0.4%.",
  "a".repeat(100), "a".repeat(101), "x".repeat(250) + " ok",
  "supercalifragilistic".repeat(5), "supercalifragilistic".repeat(5) + "x",
  "é".repeat(100), "é".repeat(101), "e\u0301".repeat(60), "a".repeat(99) + "é.",
  "a\u0000b", "a\u0001b\u007fc", "a\u000bb\u000cc d", "x\u0085y", "tab\tsep", "line1\r\nline2\n",
  "x\u200by", "zero\u200cwidth\u200djoiner", "\ufeffBOM start", "soft\u00adhyphen", "word\u2060joiner",
  "\ue000private\ue001use", "a\ufffdb",
  "Газпром снизил прогноз прибыли на 5%", "أرامكو السعودية ترفع الأسعار", "ΟΔΥΣΣΕΥΣ Σίσυφος",
  "रिलायंस इंडस्ट्रीज के शेयर", "ตลาดหุ้นไทยปิดบวก", "בורסת תל אביב", "삼성전자 주가 상승",
  "トヨタ自動車の株価が上昇", "Bitcoin比特币价格",
  "🚀🚀 to the moon 📈", "🇺🇸 flag", "👨‍👩‍👧 family", "👍🏽 nice", "$GME 💎🙌",
  "e\u0301cole Ame\u0301lie n\u0303", "\u0301 lone mark", "a\u0316\u0301b", "Ça va? Crème brûlée",
  "İstanbul İ", "ǅemal ǈ", "Straße ß", "ﬁnance ﬂow", "Ⅻ ① ⓐ Ⓑ", "ＡＢＣ　ｆｕｌｌ",
  "[CLS] [SEP] [UNK] [PAD] [MASK]", "[cls]",
  "«quoted» „Zitat“ ¿Qué? ¡Sí! — – … ‹›", "a/b\\c|d~e^f`g_h", "¥100 €50 £20 ₹30 ₿1",
  "Σ", "ΑΣ", "ΑΣ.", "ΑΣ.Β", "ΑΣ'", "ΑΣ'Β", "Σ'Α", "ΑΣΣ", "ΑΣ中", "ΑΣ 1", "ΑΣ1", "ΑΣ\u200bΒ",
  "ΑΣ\u0301", "ΑΣ:Β", "ΑΣ-Β", "ΑΣ^Β", "1Σ", ".Σ", "ΑΣ\u00adΒ", "ΟΔΟΣ.", "ΑΣ\u2028Β",
  "𠀀𠀁abc 𪜀 丽", "\uf900\uf901", "한국 경제", "中\u0301", "x中y", "ab中cd", "Ａ中",
  "Mañana, the NASDAQ-100 fell 1.2%—its worst day since March.",
  "Apple Inc. (AAPL) Q4 FY2023: revenue $89.5B, -1% Y/Y",
  "...!!!???", "-----", "@@@@", "###", "##ing", "un##known",
  "I\u0307", "\u0130\u0301",
];

const handHex = [
  "ff", "61ff62", "c3", "61c362", "e282", "e2826162", "eda080", "c0af61", "f4908080",
  "f09f9a80f09f", "80", "fe6162", "61e2828262", "48c3a96c6c6fff20576f726c64",
  "ceb1cea3ff", "cea3ff61", "e4b8ade6", "2461aa6c",
];

function sampleReal() {
  const picks = [];
  const tsv = [
    "financial_phrasebank", "fiqa_semeval2017", "reuters21578_modapte", "sentfin",
    "stockemotions", "twitter_financial_news_sentiment", "twitter_financial_news_topic",
  ];
  const take = (lines, n) => {
    const ok = lines.filter((l) => l.length > 0 && Buffer.byteLength(l) <= 3000);
    const step = Math.max(1, Math.floor(ok.length / n));
    const out = [];
    for (let i = 0; i < ok.length && out.length < n; i += step) out.push(ok[i]);
    return out;
  };
  for (const name of tsv) {
    const lines = readFileSync(join(sharedData, name, "train.tsv"), "utf8").split("\n").slice(1);
    const texts = lines.map((l) => l.split("\t").slice(0, -1).join("\t"));
    picks.push(...take(texts, name.startsWith("reuters") ? 25 : 50));
  }
  for (const name of ["ectsum_transcripts.txt", "reuters21578.txt", "stocknet_tweets.txt"]) {
    const lines = readFileSync(join(sharedData, "corpus", name), "utf8").split("\n");
    picks.push(...take(lines, name.startsWith("stocknet") ? 60 : 25));
  }
  return picks;
}

const configs = [
  { name: "uncased", cfg: { do_lower_case: true, strip_accents: null, tokenize_chinese_chars: true }, real: true },
  { name: "cased", cfg: { do_lower_case: false, strip_accents: null, tokenize_chinese_chars: true }, real: true },
  { name: "lower_keep_accents", cfg: { do_lower_case: true, strip_accents: false, tokenize_chinese_chars: true } },
  { name: "strip_only", cfg: { do_lower_case: false, strip_accents: true, tokenize_chinese_chars: true } },
  { name: "no_cjk", cfg: { do_lower_case: true, strip_accents: null, tokenize_chinese_chars: false } },
];

// --all OUT: every line of every data file (not committed; a wider check run
// by hand with the C driver described in docs/tokenizer.md).
const allAt = process.argv.indexOf("--all");
if (allAt > 0) {
  const out = process.argv[allAt + 1];
  const { readdirSync, openSync, writeSync, closeSync } = await import("node:fs");
  const files = [];
  for (const d of readdirSync(sharedData, { withFileTypes: true })) {
    if (!d.isDirectory() || d.name === "vocab" || d.name === "licenses") continue;
    for (const f of readdirSync(join(sharedData, d.name)))
      if (f.endsWith(".tsv") || f.endsWith(".txt")) files.push(join(sharedData, d.name, f));
  }
  files.sort();
  for (const { name, cfg } of configs.slice(0, 2)) {
    const tok = makeTokenizer(cfg);
    const fd = openSync(`${out}.${name}.jsonl`, "w");
    writeSync(fd, JSON.stringify({ config: cfg, generator: `@huggingface/tokenizers ${pkg.version}` }) + "\n");
    let count = 0;
    for (const f of files) {
      for (const line of readFileSync(f, "utf8").split("\n")) {
        if (line.length === 0) continue;
        writeSync(fd, JSON.stringify({ text: line, ids: tok.encode(line).ids }) + "\n");
        count++;
      }
    }
    closeSync(fd);
    console.log(`${out}.${name}.jsonl: ${count} lines from ${files.length} files`);
  }
  process.exit(0);
}

const real = sampleReal();
mkdirSync(outDir, { recursive: true });
for (const { name, cfg, real: withReal } of configs) {
  const tok = makeTokenizer(cfg);
  const cases = [...handTexts.map(caseOfText), ...handHex.map(caseOfHex)];
  if (withReal) cases.push(...real.map(caseOfText));
  const lines = [JSON.stringify({ config: cfg, generator: `@huggingface/tokenizers ${pkg.version}` })];
  for (const c of cases) {
    const text = dec.decode(c.bytes);
    const { ids } = tok.encode(text);
    lines.push(JSON.stringify({ hex: hexOf(c.bytes), text, ids }));
  }
  writeFileSync(join(outDir, `${name}.jsonl`), lines.join("\n") + "\n");
  console.log(`${name}.jsonl: ${cases.length} cases`);
}
