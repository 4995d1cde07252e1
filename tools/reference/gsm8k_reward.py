"""Golden format credits and final-answer extraction of the official AGRPO math reward.

Runs the regular expressions of probablyabot/agrpo's rewards.py (THINKING_TAG, ANSWER_TAG,
extract_boxed, parse_ans; re-typed here from that file's reading, math_verify left out) over
a corpus of completions and writes, for each, the thinking and answer format credits and the
string parse_ans hands to math_verify. rl/task's test compares its Go port with this file.

    python3 tools/reference/gsm8k_reward.py > testdata/gsm8k/reward-golden.json

Any Python 3 works: only the standard library is used.
"""
import json
import re
import sys

THINKING_TAG = re.compile(r"<think>\s*(.*?)\s*</think>", re.DOTALL | re.IGNORECASE)
ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL | re.IGNORECASE)


def extract_boxed(text):
    m = re.search(r"\\boxed\{", text)
    if not m:
        return None
    depth = 1
    for j in range(m.end(), len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[m.end():j]
    return None


def parse_ans(comp):
    m = ANSWER_TAG.search(comp)
    if m:
        comp = m.group(1).strip()
    b = extract_boxed(comp)
    if b:
        comp = b
    return comp


CORPUS = [
    "",
    "72",
    "<think>\n48/2 = 24, 48 + 24 = 72\n</think>\n<answer>\n\\boxed{72}\n</answer>",
    "<THINK>x</Think><Answer> 72 </ANSWER>",
    "<think>no close <answer>\\boxed{5}</answer>",
    "<answer>first</answer> <answer>second</answer>",
    "</answer><answer>  \n\t spaced \n </answer>",
    "<answer>\\boxed{\\frac{1}{2}}</answer>",
    "<answer>\\boxed{}</answer>",
    "<answer>\\boxed{12</answer>",
    "<answer>the answer is \\boxed{1{,}000} dollars</answer>",
    "\\boxed{7} outside, <answer>8</answer>",
    "no answer tag but \\boxed{42}",
    "<think></think><answer></answer>",
    "<think>a</think>\n<answer>\n$18\n</answer>",
    "<answer>\u00a0\u2003 nbsp \u3000</answer>",
    "<answer>\x1c sep \x1f</answer>",
    "<answer>\\boxed{a}\\boxed{b}</answer>",
    "<answer><answer>nested</answer></answer>",
    "<think>multi\nline\nreasoning</think><answer>-5</answer>",
]

out = []
for c in CORPUS:
    out.append({
        "completion": c,
        "thinking_format": 0.5 * bool(THINKING_TAG.search(c)),
        "answer_format": 0.5 * bool(ANSWER_TAG.search(c)),
        "parse_ans": parse_ans(c),
    })
json.dump({"generator": "tools/reference/gsm8k_reward.py", "cases": out}, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
