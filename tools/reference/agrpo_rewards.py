"""Golden rewards of the official AGRPO reward functions, for rl/task's Go port.

Re-types probablyabot/agrpo's rewards.py from its reading (THINKING_TAG, ANSWER_TAG,
extract_boxed, parse_ans, the Countdown and Sudoku format and correctness rewards) and runs it
over a corpus of completions. math_verify is not available here, so:
- math (gsm8k): the file holds the format credits and the string parse_ans hands to
  math_verify; the numeric equivalence is tested in Go against hand-made cases;
- Countdown correctness: math_verify's value of the left side is replaced by an exact
  evaluation with the ast module and fractions.Fraction (+ - * / and parentheses only).

    python3 tools/reference/agrpo_rewards.py > testdata/agrpo-rewards.json

Any Python 3 works: only the standard library is used.
"""
import ast
import json
import re
import sys
from fractions import Fraction

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

def countdown_format_reward(comp, target, nums):
    r = 0.0
    if extracted_ans := ANSWER_TAG.search(comp):
        eq_text = extracted_ans.group(1).strip()
        if "=" in eq_text:
            s = eq_text.split("=")
            if len(s) > 2:
                r -= 0.5
            lhs, rhs = s[0].strip(), s[-1].strip()
            if re.match(r"^\d+$", rhs) and int(rhs) == target:
                r += 1 / 3
            if re.match(r"^[\d\s+\-*/()]+$", lhs):
                r += 1 / 3
            used_nums = [int(num) for num in re.findall(r"\d+", lhs)]
            if sorted(used_nums) == sorted(nums):
                r += 1 / 3
    return r


def exact_value(text):
    """The value of an expression of non-negative integers, + - * / and parentheses, or None."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and type(n.value) is int:
            return Fraction(n.value)
        if isinstance(n, ast.BinOp) and type(n.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            a, b = ev(n.left), ev(n.right)
            if a is None or b is None:
                return None
            if isinstance(n.op, ast.Add):
                return a + b
            if isinstance(n.op, ast.Sub):
                return a - b
            if isinstance(n.op, ast.Mult):
                return a * b
            return None if b == 0 else a / b
        return None

    return ev(tree)


def countdown_correctness_reward(comp, target, nums):
    if extracted_ans := ANSWER_TAG.search(comp):
        equation = extracted_ans.group(1).strip()
        if "=" not in equation:
            return 0.0
        lhs = equation.split("=", 1)[0]
        if sorted(int(num) for num in re.findall(r"\d+", lhs)) != sorted(nums):
            return 0.0
        return 3.0 if exact_value(lhs) == target else 0.0
    return 0.0


def sudoku_format_reward(comp, p):
    r = 0.0
    if extracted_ans := ANSWER_TAG.search(comp):
        grid_text = extracted_ans.group(1).strip()
        if len(grid_text) == 16:
            r += 0.25
            if "".join(sorted(grid_text)) == "1111222233334444":
                r += 0.25
            for i in range(16):
                if p[i] != "0" and p[i] != grid_text[i]:
                    break
            else:
                r += 0.5
    return r


def sudoku_correctness_reward(comp, p, ans):
    comp = parse_ans(comp).zfill(16)[:16]
    empty = match = 0
    for i in range(16):
        if p[i] == "0":
            empty += 1
            if ans[i] == comp[i]:
                match += 1
    return 3.0 * match / empty


COUNTDOWN = {"numbers": [3, 7, 12], "target": 33}
COUNTDOWN_CORPUS = [
    "", "<answer>12+3*7 = 33</answer>", "<answer>\n12 + 3 * 7 = 33\n</answer>", "<answer>3*7+12=33</answer>",
    "<answer>12+3*7</answer>", "<answer>12+3*7 = 34</answer>", "<answer>12+3*7 = 33 = 33</answer>",
    "<answer>12+7*3=33=x</answer>", "<answer>(12+3)*7 = 33</answer>", "<answer>12+21 = 33</answer>",
    "<answer>12+3*7+0 = 33</answer>", "<answer>12 + 3 x 7 = 33</answer>",
    "<answer>12+3*7 = 033</answer>", "<answer>12+3*7 = +33</answer>", "<answer>= 33</answer>",
    "<answer>12+3*7 =</answer>", "<think>try</think><answer>\t12+3*7\t=\t33\t</answer>",
    "12+3*7 = 33", "<answer>(12+3*7 = 33</answer>", "<answer>12/3*7 = 28</answer>",
    "<answer>7*(12-3)/3 = 21</answer>", "<answer>12+3*7 = 33</answer><answer>1=1</answer>",
    "<answer>99999999999999999999+3*7 = 33</answer>", "<answer>12+3*7\n= 33</answer>",
]
SUDOKU = {"puzzle": "3014002020004130", "solution": "3214142323414132"}
SUDOKU_CORPUS = [
    "", "<answer>3214142323414132</answer>", "<answer>\n3214142323414132\n</answer>",
    "<answer>3214142323414133</answer>", "<answer>1234123412341234</answer>", "<answer>4214142323414132</answer>",
    "<answer>321414232341413</answer>", "<answer>32141423234141322</answer>", "<answer>-214142323414132</answer>",
    "<answer>-14142323414132</answer>", "<answer>\\boxed{3214142323414132}</answer>", "3214142323414132",
    "<answer>3 2 1 4 1 4 2 3 2 3 4 1 4 1 3 2</answer>", "<answer>32141423234141３２</answer>",
    "<answer>\\boxed{}</answer>", "<answer>x</answer>", "<answer>+2</answer>", "<think>a</think><answer>3214142323414132</answer>",
]

out = {"generator": "tools/reference/agrpo_rewards.py", "math": [], "countdown": {**COUNTDOWN, "cases": []},
       "sudoku": {**SUDOKU, "cases": []}}
for c in CORPUS:
    out["math"].append({
        "completion": c,
        "thinking_format": 0.5 * bool(THINKING_TAG.search(c)),
        "answer_format": 0.5 * bool(ANSWER_TAG.search(c)),
        "parse_ans": parse_ans(c),
    })
for c in COUNTDOWN_CORPUS:
    out["countdown"]["cases"].append({
        "completion": c,
        "format": countdown_format_reward(c, COUNTDOWN["target"], COUNTDOWN["numbers"]),
        "correctness": countdown_correctness_reward(c, COUNTDOWN["target"], COUNTDOWN["numbers"]),
    })
for c in SUDOKU_CORPUS:
    out["sudoku"]["cases"].append({
        "completion": c,
        "format": sudoku_format_reward(c, SUDOKU["puzzle"]),
        "correctness": sudoku_correctness_reward(c, SUDOKU["puzzle"], SUDOKU["solution"]),
    })
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
