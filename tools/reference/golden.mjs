// golden.mjs writes the tokenizer and chat-template goldens the Go tests compare against, from
// independent implementations: @huggingface/transformers' PreTrainedTokenizer built from the two
// JSON files (no network) and @huggingface/jinja.
//
//   npm install --ignore-scripts   # once; onnxruntime's install script needs a network
//   node tools/reference/golden.mjs testdata/tokenizer/llada-bpe > testdata/tokenizer/golden.json
//
// Variants of the tokenizer exercise paths the shipped file does not: each is the folder's files
// with a patch applied, written into golden.json beside its cases, and the Go test applies the
// same patch (core/tokenizer/golden_test.go).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PreTrainedTokenizer } from "@huggingface/transformers";
import { Template } from "@huggingface/jinja";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node tools/reference/golden.mjs TOKENIZER_DIR > golden.json");
  process.exit(2);
}
const baseJSON = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const baseConfig = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));

// The corpus. Left out on purpose: U+0085 and U+FEFF, where JavaScript's \s (the reference)
// and Oniguruma's (Hugging Face's Rust tokenizers, and regexp2 here) disagree.
const texts = [
  "",
  " ",
  "a",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "It's DON'T they'll we'VE I'm you'd she's",
  "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
  "<think>\n48 / 2 = 24\n48 + 24 = 72\n</think>\n<answer>\n\\boxed{72}\n</answer>",
  "#### 1,234,567.89 and -0.5 and 3/4 and \\frac{3}{4} and 1e-9",
  "1234567890 12345 000 007 3.14159265358979",
  "two  spaces,   three,    four.",
  "trailing spaces   ",
  "   leading spaces",
  "tabs\tand\t\ttabs\n\nnewlines\r\nCRLF\rCR",
  "\n\n\n",
  " \n \n  \n",
  "mixed \t \n whitespace \u00a0nbsp\u2003em\u3000ideographic\u2028line\u2029para",
  "func main() {\n\tfmt.Println(\"hello, world\")\n}\n",
  "def f(x):\n    return x ** 2  # square\n",
  "if (a && b || !c) { x += y[i] >> 2; } // done",
  "naïve café façade Ünïcödé",
  "東京は日本の首都です。数学很有趣。안녕하세요",
  "Привет, мир! γεια σου κόσμε مرحبا بالعالم नमस्ते दुनिया",
  "emoji 🙂🚀✨ 👍🏽 family 👨‍👩‍👧‍👦 flag 🇯🇵 keycap 1️⃣",
  "combining e\u0301 a\u0300 n\u0303 and zero\u200bwidth",
  "math ∑∫√∞ ≤ ≥ ≠ ± × ÷ → ∀x∈ℝ",
  "<|startoftext|>Hello<|endoftext|>",
  "text<|eot_id|>more text <|mdm_mask|><|mdm_mask|> end",
  "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>",
  "partial <|eot_id and <|mdm_mask| and <| |> and |>",
  "<|mdm_mask|>",
  "a <|eot_id|> b  <|eot_id|>  c",
  "control \u0001\u0002\u0007\u001b[0m bytes",
  "quotes ' \" ` ’ “ ” « »",
  "URL https://example.com/path?q=1&r=2#frag and email a.b@c.org",
  "ALL CAPS SENTENCE WITH NUMBERS 42 AND SYMBOLS !!!",
  "x".repeat(300),
  "ab ".repeat(50),
  "9".repeat(40),
  " ".repeat(33) + "end",
];

// Variants: a name, a patch to tokenizer.json and tokenizer_config.json, and how to apply it.
const variants = [
  { name: "llada", patch: {} },
  { name: "gpt2-regex", patch: { pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true } } },
  { name: "ignore-merges", patch: { ignore_merges: true } },
  { name: "digits", patch: { digits: true } },
  { name: "merge-pairs", patch: { merges_as_pairs: true } },
  { name: "strip", patch: { lstrip: ["<|eot_id|>"], rstrip: ["<|eot_id|>", "<|start_header_id|>"] } },
  { name: "cleanup", patch: { clean_up_tokenization_spaces: true } },
];

function apply(patch) {
  const tj = structuredClone(baseJSON);
  const tc = structuredClone(baseConfig);
  if (patch.pre_tokenizer) tj.pre_tokenizer = patch.pre_tokenizer;
  // Digits between the Split and ByteLevel, as Falcon-style files have it.
  if (patch.digits) tj.pre_tokenizer.pretokenizers.splice(1, 0, { type: "Digits", individual_digits: true });
  if (patch.ignore_merges) tj.model.ignore_merges = true;
  if (patch.merges_as_pairs) tj.model.merges = tj.model.merges.map((m) => m.split(" "));
  for (const t of tj.added_tokens) {
    if (patch.lstrip?.includes(t.content)) t.lstrip = true;
    if (patch.rstrip?.includes(t.content)) t.rstrip = true;
  }
  if (patch.clean_up_tokenization_spaces !== undefined) tc.clean_up_tokenization_spaces = patch.clean_up_tokenization_spaces;
  return [tj, tc];
}

const out = { generator: "tools/reference/golden.mjs", tokenizer: dir, variants: [], chats: [] };
for (const v of variants) {
  const tok = new PreTrainedTokenizer(...apply(v.patch));
  const cases = texts.map((text) => {
    const ids = tok.encode(text, { add_special_tokens: false });
    return { text, ids, decoded: ids.length ? tok.decode(ids) : "" }; // decode refuses an empty list
  });
  out.variants.push({ name: v.name, patch: v.patch, cases });
}

// Chat templates: LLaDA's (through transformers' apply_chat_template, ids included), and two
// more with whitespace control and trim_blocks/lstrip_blocks-sensitive layout (through
// @huggingface/jinja, as transformers renders them).
const conversations = [
  [{ role: "user", content: "What is 2+2?" }],
  [{ role: "system", content: "You will be given a math problem.\nThink step by step." }, { role: "user", content: "  Natalia sold 48 clips.  \n" }],
  [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello! <think>ok</think>" }, { role: "user", content: "emoji 🙂 and <|mdm_mask|>" }],
  [{ role: "user", content: "" }],
];
const templates = {
  llada: baseConfig.chat_template,
  chatml: "{%- for message in messages %}\n    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n{%- endfor %}\n{%- if add_generation_prompt %}\n    {{- '<|im_start|>assistant\\n' }}\n{%- endif %}\n",
  blocks: "{% if messages[0]['role'] == 'system' %}\n  {% set system = messages[0]['content'] %}\n  {% set rest = messages[1:] %}\n{% else %}\n  {% set system = 'You are helpful.' %}\n  {% set rest = messages %}\n{% endif %}\n{{ bos_token }}[SYS] {{ system | upper }}\n{% for m in rest %}\n  {% if m['role'] == 'user' %}\n[U{{ loop.index }}] {{ m['content'] | trim }}\n  {% else %}\n[A] {{ m['content'] }}{{ eos_token }}\n  {% endif %}\n{% endfor %}\n{% if add_generation_prompt %}[A] {% endif %}",
};
const llada = new PreTrainedTokenizer(baseJSON, baseConfig);
for (const [name, template] of Object.entries(templates)) {
  for (const messages of conversations) {
    for (const add_generation_prompt of [false, true]) {
      const c = { template: name, messages, add_generation_prompt };
      if (name === "llada") {
        c.rendered = llada.apply_chat_template(messages, { tokenize: false, add_generation_prompt });
        c.ids = llada.apply_chat_template(messages, { tokenize: true, add_generation_prompt, return_tensor: false, return_dict: false });
      } else {
        c.rendered = new Template(template).render({
          messages, add_generation_prompt, bos_token: baseConfig.bos_token, eos_token: baseConfig.eos_token,
        });
      }
      out.chats.push(c);
    }
  }
}
out.templates = templates;
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
