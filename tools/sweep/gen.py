#!/usr/bin/env python3
"""Configs of a recipe sweep: each variant of a sweep × seeds 1-3, written as TOML run configs.

  python3 tools/sweep/gen.py recipe .sweep/configs         # the recipe sweep (24 runs, docs/results.md)
  python3 tools/sweep/gen.py long .sweep/configs           # 1,200-step curves and the rest (21 runs)
  python3 tools/sweep/gen.py sudoku-1200 .sweep/configs    # two Sudoku variants at 1,200 steps (6 runs)
  python3 tools/sweep/gen.py push .sweep/configs           # schedule, lr and G 16 at 1,200 steps (12 runs)
  python3 tools/sweep/gen.py cpu-followups DIR             # run with `demo train -device cpu`
  python3 tools/sweep/gen.py later DIR                     # prepared, not run yet
  bash tools/sweep/run.sh                                  # on a GPU machine (see its header)

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
    # Run after the recipe sweep on the CPU backend (`demo train -device cpu`, docs/results.md).
    "cpu-followups": {
        "recipe-T1": ({"rl.rollout.mixed_steps": MIXED, "rl.rollout.temperature": 1.0}, ["countdown"]),
        "recipe-std": ({"rl.rollout.mixed_steps": MIXED, "rl.scale_rewards": True}, ["countdown"]),
        "recipe-exact": ({"rl.rollout.mixed_steps": MIXED, "rl.agrpo.likelihood": "exact"}, ["sudoku"]),
    },
    # The long sweep (docs/results.md): the recipe and diffu-GRPO on mixed steps for 1,200 steps with
    # an eval every 200 (their curves give the equal-wall-time comparison), the exact likelihood on
    # Countdown, and the official order (random inside small semi-autoregressive blocks).
    "long": {
        "recipe-1200": ({"rl.rollout.mixed_steps": MIXED, "train.steps": 1200, "train.eval_every": 200},
                        ["sudoku", "countdown"]),
        "diffugrpo-mixed-1200": ({"train.method": "diffu-grpo", "rl.rollout.mixed_steps": MIXED,
                                  "train.steps": 1200, "train.eval_every": 200}, ["sudoku", "countdown"]),
        "recipe-exact": ({"rl.rollout.mixed_steps": MIXED, "rl.agrpo.likelihood": "exact"}, ["countdown"]),
        "agrpo-random-block4": ({"rl.rollout.remasking": "random", "rl.rollout.block_length": 4},
                                ["sudoku", "countdown"]),
    },
    # Sudoku's accuracy at K flattens after 600 steps of the recipe with 60 % of groups at zero reward
    # variance: hotter rollouts (more variance per group), and a larger lr that decays.
    "sudoku-1200": {
        "recipe-1200-T1": ({"rl.rollout.mixed_steps": MIXED, "rl.rollout.temperature": 1.0, "train.steps": 1200,
                            "train.eval_every": 200}, ["sudoku"]),
        "recipe-1200-5e-5-cosine": ({"rl.rollout.mixed_steps": MIXED, "train.lr": 5e-5, "train.warmup_steps": 50,
                                     "train.schedule": "cosine", "train.steps": 1200, "train.eval_every": 200},
                                    ["sudoku"]),
    },
    # After the final table: Sudoku's schedule on Countdown, a larger lr on Sudoku, and twice the
    # rollouts per prompt (G 16 on 8 prompts: the same rollouts per step, more groups with a
    # correct answer, the lever against the pass@k ceiling) on both.
    "push": {
        "recipe-1200-5e-5-cosine": ({"rl.rollout.mixed_steps": MIXED, "train.lr": 5e-5, "train.warmup_steps": 50,
                                     "train.schedule": "cosine", "train.steps": 1200, "train.eval_every": 200},
                                    ["countdown"]),
        "recipe-1200-1e-4-cosine": ({"rl.rollout.mixed_steps": MIXED, "train.lr": 1e-4, "train.warmup_steps": 50,
                                     "train.schedule": "cosine", "train.steps": 1200, "train.eval_every": 200},
                                    ["sudoku"]),
        "recipe-1200-5e-5-cosine-g16": ({"rl.rollout.mixed_steps": MIXED, "train.lr": 5e-5, "train.warmup_steps": 50,
                                         "train.schedule": "cosine", "train.steps": 1200, "train.eval_every": 200,
                                         "rl.prompts_per_step": 8, "rl.group_size": 16}, ["sudoku", "countdown"]),
    },
    # Not run yet.
    "later": {
        "recipe-kl": ({"rl.rollout.mixed_steps": MIXED, "rl.beta": 0.04}, ["countdown"]),
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
