#!/usr/bin/env python3
"""Configs of a recipe sweep: each variant of a sweep × seeds 1-3, written as TOML run configs.

  python3 tools/sweep/gen.py recipe .sweep/configs     # the sweep in docs/results.md (24 runs)
  python3 tools/sweep/gen.py next .sweep/configs       # the next one, not yet run
  bash tools/sweep/run.sh                              # on a GPU machine (see its header)

Every run starts from the task's shipped base: 16 prompts x G 8 at T 0.6, m 4, mu 1, beta 0,
`mean` scaling, constant lr, no warmup, eval every 100 steps at K, K/2, K/4 on the 500-problem
test split. A variant overrides some of these (keys as in configs/README.md).
"""
import os
import sys

K = {"sudoku": 16, "countdown": 12}

BASE = {
    "train.method": "agrpo", "train.steps": 400, "train.lr": 2e-5, "train.warmup_steps": 0,
    "train.schedule": "constant", "train.grad_clip": 1.0, "train.log_every": 5,
    "train.eval_every": 100, "train.checkpoint_every": 100,
    "rl.prompts_per_step": 16, "rl.group_size": 8, "rl.num_iterations": 1, "rl.beta": 0.0,
    "rl.rollout.temperature": 0.6, "rl.rollout.remasking": "low_confidence",
    "rl.agrpo.mc_samples": 4, "rl.agrpo.scaling": "mean",
    "rl.agrpo.likelihood": "tokens",  # what the recipe sweep measured; "exact" is a variant
}
MIXED = "MIXED"  # stands for [K, K/2, K/4] of the task

# A sweep maps a variant name to its overrides and the tasks it runs on.
SWEEPS = {
    "recipe": {
        "agrpo-lc-2e-5": ({}, ["sudoku", "countdown"]),
        "agrpo-lc-mixed-2e-5": ({"rl.rollout.mixed_steps": MIXED}, ["sudoku", "countdown"]),
        "diffugrpo-lc-2e-5": ({"train.method": "diffu-grpo"}, ["sudoku", "countdown"]),
        "agrpo-random-2e-5": ({"rl.rollout.remasking": "random"}, ["sudoku"]),
        "agrpo-lc-5e-5": ({"train.lr": 5e-5}, ["countdown"]),
    },
    # What the recipe sweep left open (docs/results.md): longer runs, diffu-GRPO on mixed steps,
    # the official semi-autoregressive random order, higher temperature, KL, std-scaled
    # advantages, and the exact likelihood of docs/exact-likelihood.md (at its own lr too).
    "next": {
        "recipe-1200": ({"rl.rollout.mixed_steps": MIXED, "train.steps": 1200, "train.eval_every": 200},
                        ["sudoku", "countdown"]),
        "diffugrpo-mixed": ({"train.method": "diffu-grpo", "rl.rollout.mixed_steps": MIXED}, ["sudoku", "countdown"]),
        "agrpo-random-block4": ({"rl.rollout.remasking": "random", "rl.rollout.block_length": 4}, ["sudoku", "countdown"]),
        "recipe-T1": ({"rl.rollout.mixed_steps": MIXED, "rl.rollout.temperature": 1.0}, ["sudoku", "countdown"]),
        "recipe-kl": ({"rl.rollout.mixed_steps": MIXED, "rl.beta": 0.04}, ["countdown"]),
        "recipe-std": ({"rl.rollout.mixed_steps": MIXED, "rl.scale_rewards": True}, ["countdown"]),
        "recipe-exact": ({"rl.rollout.mixed_steps": MIXED, "rl.agrpo.likelihood": "exact"}, ["sudoku", "countdown"]),
        "recipe-exact-1e-5": ({"rl.rollout.mixed_steps": MIXED, "rl.agrpo.likelihood": "exact", "train.lr": 1e-5},
                              ["sudoku", "countdown"]),
    },
}


def toml_value(v, k):
    if v == MIXED:
        return f"[{k}, {k // 2}, {k // 4}]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return repr(v)


def config(task, name, seed, overrides):
    keys = {**BASE, **overrides}
    sections = {}
    for key, v in keys.items():
        section, leaf = key.rsplit(".", 1)
        sections.setdefault(section, []).append(f"{leaf} = {toml_value(v, K[task])}")
    k = K[task]
    out = [f'[run]\nname = "{task}-{name}-s{seed}"\nseed = {seed}\nout_dir = "sweep-runs"\ndevice = "vulkan"',
           f'[task]\nname = "{task}"', f'[model]\ninit = "{task}-base"']
    out += [f"[{s}]\n" + "\n".join(lines) for s, lines in sections.items()]
    out.append(f"[eval]\nn = 500\nsteps = [{k}, {k // 2}, {k // 4}]")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SWEEPS:
        sys.exit(f"usage: gen.py {{{'|'.join(SWEEPS)}}} OUT_DIR")
    sweep, out = SWEEPS[sys.argv[1]], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for name, (overrides, tasks) in sweep.items():
        for task in tasks:
            for seed in (1, 2, 3):
                with open(os.path.join(out, f"{task}-{name}-s{seed}.toml"), "w") as f:
                    f.write(config(task, name, seed, overrides))


if __name__ == "__main__":
    main()
