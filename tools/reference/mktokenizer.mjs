// mktokenizer.mjs trains a small byte-level BPE vocabulary in the layout of LLaDA's Hugging Face
// tokenizer and writes tokenizer.json + tokenizer_config.json into the folder it is given:
//
//   node tools/reference/mktokenizer.mjs testdata/tokenizer/llada-bpe
//
// The corpus is text this script generates (English sentences, GSM8K-style word problems with
// <think>/<answer>/\boxed{} answers, numbers, code, a little of other scripts), seeded, so the
// output is the same on every run. The pre-tokenizer is Llama-3's regex (Split, then ByteLevel
// without its own regex; LLaDA's own tokenizer.json could not be read here, so this layout is an
// assumption); training is the textbook BPE loop: count adjacent pairs over the words, merge the
// most frequent (ties: the lexicographically smallest pair), repeat. Special tokens follow the
// merges, in LLaDA-8B-Instruct's order and with its tokenizer_config.json keys.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const VOCAB_SIZE = 4096; // bytes + merges + specials

// LLaDA-8B-Instruct's special tokens in its order (its tokenizer_config.json has these, with
// 248 more reserved tokens): BOS, EOS (also the pad), GLM-style markers, reserved tokens, the
// diffusion mask, role and arithmetic markers, Llama-3's chat markers.
const SPECIALS = [
  "<|startoftext|>", "<|endoftext|>", "[CLS]", "[gMASK]", "<|reserved_token_0|>", "<|reserved_token_1|>",
  "<|reserved_token_2|>", "<|reserved_token_3|>", "<|mdm_mask|>", "<role>", "</role>", "<|arithmetic_start|>",
  "<|arithmetic_end|>", "<|number_start|>", "<|number_end|>", "<|start_header_id|>", "<|end_header_id|>",
  "<|eot_id|>",
];
const ADDITIONAL = ["<role>", "</role>", "<|arithmetic_start|>", "<|arithmetic_end|>", "<|number_start|>", "<|number_end|>"];

// Llama-3's pre-tokenizer pattern, as tokenizer.json writes it (Oniguruma syntax), and the same
// in JavaScript syntax (no inline (?i:) group) for training here.
const PATTERN = String.raw`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const JS_PATTERN = new RegExp(
  String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  "gu");

// LLaDA-8B-Instruct's chat template, as its tokenizer_config.json has it: Llama-3's turns, BOS
// before the first, and the assistant header always appended (it does not look at
// add_generation_prompt).
const CHAT_TEMPLATE = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}";

// mulberry32: a small seeded generator, so the corpus is reproducible.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(14);
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const names = ["Ava", "Ben", "Carla", "Dmitri", "Elif", "Farah", "Gus", "Hana", "Ines", "Jamal", "Kofi", "Lena", "Mateo", "Nadia", "Omar", "Priya"];
const things = ["apples", "marbles", "books", "stickers", "cookies", "pencils", "tickets", "shells", "cards", "coins", "eggs", "flowers", "boxes", "bottles", "stamps"];
const places = ["market", "library", "school", "garden", "bakery", "museum", "station", "harbor", "farm", "park"];
const verbs = ["buys", "sells", "finds", "gives away", "collects", "loses", "bakes", "packs", "counts", "shares"];
const units = ["dollars", "minutes", "hours", "miles", "kilograms", "liters", "meters", "days", "weeks", "cents"];
const adjectives = ["small", "large", "quiet", "bright", "early", "late", "careful", "quick", "patient", "curious", "heavy", "narrow"];
const sentences = [
  "The model writes its answer by unmasking a few tokens at every step.",
  "Reinforcement learning rewards the completions that reach the right answer.",
  "A diffusion language model predicts every masked position in parallel.",
  "We measure accuracy on the test split and report the mean reward.",
  "Each rollout is scored, and the advantage is the reward minus the group mean.",
  "The tokenizer splits text into pieces, maps bytes to characters and merges frequent pairs.",
  "It's a long way to the harbor, but they'll walk there before noon.",
  "She doesn't know whether the train we're taking stops at the museum.",
  "I've read the chapter twice; you'd think I'd remember the ending!",
  "What is the total cost, and how much change does he get back?",
  "Please think step by step, then give the final answer in a box.",
];
const code = [
  "func main() {\n\tfmt.Println(\"hello, world\")\n}\n",
  "for i := 0; i < n; i++ {\n\tsum += x[i] * y[i]\n}\n",
  "def reward(completion, answer):\n    return 3.0 if completion.strip() == answer else 0.0\n",
  "if err != nil {\n\treturn nil, fmt.Errorf(\"load %s: %w\", path, err)\n}\n",
  "const total = items.reduce((a, b) => a + b, 0);\n",
  "x = [1, 2, 3]\nprint(sum(x) / len(x))\n",
  "SELECT name, count(*) FROM orders GROUP BY name;\n",
];
const other = [
  "Le café est très bon, merci beaucoup.", "Über den Fluss fährt ein Boot.", "¿Dónde está la estación?",
  "Привет, как дела?", "東京は日本の首都です。", "数学很有趣。", "안녕하세요", "γεια σου κόσμε",
  "مرحبا بالعالم", "नमस्ते दुनिया", "🙂 🚀 ✨ 👍🏽 🎉", "naïve façade coöperate",
];

// Common English words, for sentences of random words: enough distinct words that the merges
// reach the vocabulary size.
const common = (
  "time year people way day man thing woman life child world school state family student group country problem hand part place case week company system program question work government number night point home water room mother area money story fact month lot right study book eye job word business issue side kind head house service friend father power hour game line end member law car city community name president team minute idea kid body information back parent face others level office door health person art war history party result change morning reason research girl guy moment air teacher force education " +
  "foot boy age policy everything process music market sense nation plan college interest death experience effect use class control care field development role effort rate heart drug show leader light voice wife police mind price report decision son view relationship town road arm difference value building action model season society tax director position player record paper space ground form event official matter center couple site project activity star table need court oil situation cost industry figure street image phone data picture practice piece land product doctor wall patient worker news test movie north love support technology step baby computer type attention film tree source organization hair window evidence population site truth " +
  "be have do say go get make know think take see come want look use find give tell work call try ask need feel become leave put mean keep let begin seem help talk turn start show hear play run move like live believe hold bring happen write provide sit stand lose pay meet include continue set learn change lead understand watch follow stop create speak read allow add spend grow open walk win offer remember consider appear buy wait serve die send expect build stay fall cut reach kill remain suggest raise pass sell require report decide pull return explain hope develop carry break receive agree support hit produce eat cover catch draw choose cause point listen realize place close involve " +
  "good new first last long great little own other old right big high different small large next early young important few public bad same able late hard major better economic strong possible whole free military true federal international full special easy clear recent certain personal open red difficult available likely short single medical current wrong private past foreign fine common poor natural significant similar hot dead central happy serious ready simple left physical general environmental financial blue democratic dark various entire close legal religious cold final main green nice huge popular traditional cultural " +
  "about after again against almost along already also although always among another around away because before behind below between both during each either enough even ever every except far however inside instead least less many maybe more most much near never often once only perhaps quite rather really since soon still such than then there therefore though through together toward under until upon usually very whether while within without yet " +
  "add subtract multiply divide equal equals sum total product quotient remainder fraction decimal percent ratio average mean median answer solve solution equation variable square root triangle circle rectangle area perimeter volume angle degree dozen half third quarter twice triple double hundred thousand million billion").split(" ");

function randomSentence() {
  const n = int(4, 14);
  const w = [];
  for (let i = 0; i < n; i++) w.push(pick(common));
  w[0] = w[0][0].toUpperCase() + w[0].slice(1);
  return w.join(" ") + pick([".", ".", ".", "?", "!", ",", ";", ":"]);
}

function wordProblem() {
  const a = int(2, 99), b = int(2, 60), c = int(2, 12);
  const n = pick(names), m = pick(names), t = pick(things), u = pick(units);
  const total = a * c - b;
  const q = `${n} ${pick(verbs)} ${a} ${t} at the ${pick(places)} every day for ${c} days. ` +
    `Then ${n} gives ${b} ${t} to ${m}. How many ${t} does ${n} have left?`;
  const think = `${n} has ${a} * ${c} = ${a * c} ${t}. After giving ${b} away, ${a * c} - ${b} = ${total}.`;
  return [q, `<think>\n${think}\n</think>\n<answer>\n\\boxed{${total}}\n</answer>`,
    `The trip takes ${int(1, 9)}.${int(0, 9)} ${u}, which is \\frac{${int(1, 9)}}{${int(2, 9)}} of the ${pick(adjectives)} route.`,
    `#### ${total.toLocaleString("en-US")}`];
}

function corpus() {
  const parts = [];
  for (let i = 0; i < 6000; i++) {
    parts.push(...wordProblem());
    parts.push(pick(sentences), pick(sentences).toUpperCase().slice(0, 40), randomSentence(), randomSentence());
    if (i % 3 === 0) parts.push(pick(code));
    if (i % 5 === 0) parts.push(pick(other));
    if (i % 7 === 0) parts.push(`${int(0, 99999)} ${int(0, 999)}.${int(0, 99)} -${int(1, 500)} ${int(1, 9)}/${int(2, 9)}   \t\n\n`);
    parts.push(`The ${pick(adjectives)} ${pick(things)} cost ${int(1, 500)} ${pick(units)} at the ${pick(places)}.`);
  }
  return parts.join("\n");
}

// GPT-2's byte-level alphabet (bytes_to_unicode).
function byteAlphabet() {
  const chars = [];
  let n = 256;
  for (let b = 0; b < 256; b++) {
    const keep = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars.push(String.fromCodePoint(keep ? b : n++));
  }
  return chars;
}

function train(text) {
  const alphabet = byteAlphabet();
  const enc = new TextEncoder();
  const counts = new Map();
  for (const w of text.match(JS_PATTERN)) {
    const key = Array.from(enc.encode(w), (b) => alphabet[b]).join("\u0000");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const words = [...counts].map(([k, c]) => ({ syms: k.split("\u0000"), count: c }));
  const vocab = new Map(alphabet.map((c, i) => [c, i]));
  const merges = [];
  const nMerges = VOCAB_SIZE - 256 - SPECIALS.length;
  while (merges.length < nMerges) {
    const pairs = new Map();
    for (const w of words) {
      for (let i = 0; i + 1 < w.syms.length; i++) {
        const p = w.syms[i] + " " + w.syms[i + 1];
        pairs.set(p, (pairs.get(p) ?? 0) + w.count);
      }
    }
    let best = null, bestCount = 1; // a pair seen once is not worth a token
    for (const [p, c] of pairs) {
      if (c > bestCount || (c === bestCount && best !== null && p < best)) { best = p; bestCount = c; }
    }
    if (best === null) break;
    const [a, b] = best.split(" ");
    merges.push(best);
    vocab.set(a + b, vocab.size);
    for (const w of words) {
      const out = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) { out.push(a + b); i++; } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  return { vocab, merges };
}

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node tools/reference/mktokenizer.mjs OUTDIR");
  process.exit(2);
}
const { vocab, merges } = train(corpus());
const added = SPECIALS.map((content, i) => ({
  id: vocab.size + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
}));
const tokenizer = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: added,
  normalizer: null,
  pre_tokenizer: {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: PATTERN }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  },
  post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: false,
    vocab: Object.fromEntries(vocab), merges,
  },
};
// The keys of LLaDA-8B-Instruct's tokenizer_config.json; like it, no mask_token (the mask is
// found by its name) and a model_max_length of 1e30 ("no limit").
const config = {
  add_bos_token: false,
  add_eos_token: false,
  added_tokens_decoder: Object.fromEntries(added.map(({ id, ...rest }) => [String(id), rest])),
  additional_special_tokens: ADDITIONAL,
  bos_token: "<|startoftext|>",
  chat_template: CHAT_TEMPLATE,
  clean_up_tokenization_spaces: false,
  cls_token: "[CLS]",
  eos_token: "<|endoftext|>",
  fast_tokenizer: true,
  gmask_token: "[gMASK]",
  merges_file: null,
  model_input_names: ["input_ids", "attention_mask"],
  model_max_length: 1e30,
  pad_token: "<|endoftext|>",
  tokenizer_class: "PreTrainedTokenizerFast",
  trust_remote_code: true,
  vocab_file: null,
};
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizer, null, 1) + "\n");
writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
console.error(`${dir}: ${vocab.size} vocab (256 bytes + ${merges.length} merges) + ${added.length} special tokens`);
