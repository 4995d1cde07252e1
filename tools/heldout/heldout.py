#!/usr/bin/env python3
"""Independent held-out problem sets for `demo eval -data`, made without the Go generators.

The Go tasks (rl/task) draw Sudoku puzzles by emptying a random grid cell by cell and Countdown
problems by weight over the expressions that reach a target. This script uses other methods and
other random streams, so a gain measured on its files is not a gain on one generator's quirks:

  Sudoku 4x4:  a full grid by randomised backtracking; then the number of empty cells is drawn
               uniformly from 6..12 and cells are emptied in random order, skipping any whose
               removal would make the solution non-unique (checked by counting solutions).
  Countdown:   three numbers drawn uniformly from 1..20 (with repeats, in draw order) and a
               target drawn uniformly from the integers 1..100 reachable with all three numbers
               and + - * / (exact fractions), so every problem is solvable.

  python3 tools/heldout/heldout.py --task sudoku --n 500 --seed 7 > testdata/heldout/sudoku.jsonl
"""
import argparse
import itertools
import json
import random
import sys
from fractions import Fraction


def sudoku_solutions(cells, limit):
    """Counts solutions of a 4x4 grid ('.' empty), stopping at limit."""
    try:
        i = cells.index('.')
    except ValueError:
        return 1
    r, c = divmod(i, 4)
    box = [(r // 2 * 2 + dr) * 4 + c // 2 * 2 + dc for dr in (0, 1) for dc in (0, 1)]
    used = {cells[r * 4 + k] for k in range(4)} | {cells[k * 4 + c] for k in range(4)} | {cells[k] for k in box}
    n = 0
    for d in '1234':
        if d not in used:
            cells[i] = d
            n += sudoku_solutions(cells, limit - n)
            cells[i] = '.'
            if n >= limit:
                break
    return n


def random_grid(rng):
    cells = ['.'] * 16

    def fill(i):
        if i == 16:
            return True
        r, c = divmod(i, 4)
        box = [(r // 2 * 2 + dr) * 4 + c // 2 * 2 + dc for dr in (0, 1) for dc in (0, 1)]
        used = {cells[r * 4 + k] for k in range(4)} | {cells[k * 4 + c] for k in range(4)} | {cells[k] for k in box}
        for d in rng.sample('1234', 4):
            if d not in used:
                cells[i] = d
                if fill(i + 1):
                    return True
                cells[i] = '.'
        return False

    fill(0)
    return cells


def sudoku(rng):
    cells = random_grid(rng)
    want = rng.randint(6, 12)
    empty = 0
    for i in rng.sample(range(16), 16):
        if empty == want:
            break
        keep = cells[i]
        cells[i] = '.'
        if sudoku_solutions(cells, 2) == 1:
            empty += 1
        else:
            cells[i] = keep
    return {"puzzle": ''.join(cells)}


OPS = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b if b else None]


def reachable(nums):
    out = set()
    for a, b, c in itertools.permutations([Fraction(x) for x in nums]):
        for f, g in itertools.product(OPS, repeat=2):
            for v in (g(f(a, b), c) if f(a, b) is not None else None,
                      g(a, f(b, c)) if f(b, c) is not None else None):
                if v is not None and v.denominator == 1 and 1 <= v <= 100:
                    out.add(int(v))
    return sorted(out)


def countdown(rng):
    while True:
        nums = [rng.randint(1, 20) for _ in range(3)]
        targets = reachable(nums)
        if targets:
            return {"numbers": nums, "target": rng.choice(targets)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["sudoku", "countdown"], required=True)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(f"heldout-{a.task}-{a.seed}")
    gen = sudoku if a.task == "sudoku" else countdown
    seen = set()
    while len(seen) < a.n:
        p = gen(rng)
        key = json.dumps(p, sort_keys=True)
        if key not in seen:
            seen.add(key)
            sys.stdout.write(json.dumps(p) + "\n")


if __name__ == "__main__":
    main()
