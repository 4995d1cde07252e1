#!/usr/bin/env python3
"""Tables of a seed sweep: mean ± sd (population) over the seeds of each configuration.

Run folders are grouped by name without their "-sN" seed suffix. For each group it prints test
accuracy at every evaluated step count at every periodic evaluation, the held-out accuracy
(`heldout.json`, from `demo eval -data`, when present and of the run's final model) and training diagnostics averaged over
the last 100 steps: rollout accuracy, fraction of groups with zero reward variance, gradient
norm.

  python3 tools/sweep/summarize.py RUNS_DIR [RUNS_DIR...]
"""
import collections
import json
import os
import re
import statistics
import sys


def ms(xs, scale=100, seeds=None):
    """Mean ± population sd; "(n of N)" when only n of the group's N seeds have the value."""
    xs = [x * scale for x in xs]
    if not xs:
        return "—"
    sd = statistics.pstdev(xs) if len(xs) > 1 else 0.0
    partial = f" ({len(xs)} of {seeds})" if seeds and len(xs) < seeds else ""
    return f"{statistics.mean(xs):.1f} ± {sd:.1f}{partial}"


def load(run):
    evals, train = {}, []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "eval" in rec:
                evals[rec["step"]] = {e["steps"]: e["accuracy"] for e in rec["eval"]}
            else:
                train.append(rec)
    held = {}
    hp = os.path.join(run, "heldout.json")
    if os.path.exists(hp) and os.path.getsize(hp) > 0:
        res = json.load(open(hp))
        # A run that did not finish was evaluated from its last checkpoint: not the final model.
        if res["checkpoint"].endswith("model.safetensors"):
            held = {e["steps"]: e["accuracy"] for e in res["results"]}
    return evals, train, held


def main():
    groups = collections.defaultdict(list)
    for root in sys.argv[1:]:
        for name in sorted(os.listdir(root)):
            if os.path.exists(os.path.join(root, name, "metrics.jsonl")):
                groups[re.sub(r"-s\d+$", "", name)].append(load(os.path.join(root, name)))
    for g, runs in sorted(groups.items()):
        print(f"\n### {g} ({len(runs)} seeds)\n")
        steps = sorted({s for ev, _, _ in runs for s in ev})
        ks = sorted({k for ev, _, _ in runs for e in ev.values() for k in e}, reverse=True)
        print("| step | " + " | ".join(f"test @{k}" for k in ks) + " |")
        print("|---|" + "---|" * len(ks))
        for s in steps:
            print(f"| {s} | " + " | ".join(ms([ev[s][k] for ev, _, _ in runs if s in ev and k in ev[s]], seeds=len(runs))
                                          for k in ks) + " |")
        hk = sorted({k for _, _, h in runs for k in h}, reverse=True)
        if hk:
            print("\nheld-out: " + ", ".join(f"@{k} {ms([h[k] for _, _, h in runs if k in h], seeds=len(runs))}" for k in hk))
        last = [[r for r in tr if r["step"] > tr[-1]["step"] - 100] for _, tr, _ in runs]
        diag = [("rollout accuracy", "accuracy", 100), ("zero-variance groups", "frac_reward_zero_std", 100),
                ("grad norm", "grad_norm", 1)]
        print("last 100 steps: " + ", ".join(
            f"{label} {ms([statistics.mean(r[key] for r in l) for l in last if l], scale)}" for label, key, scale in diag))


if __name__ == "__main__":
    main()
