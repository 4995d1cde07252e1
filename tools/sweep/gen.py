#!/usr/bin/env python3
"""The configs of the recipe sweep in docs/results.md: 8 configurations x seeds 1-3, 400 steps.

  python3 tools/sweep/gen.py .sweep/configs     # then tools/sweep/run.sh on a GPU machine

Every run is 16 prompts x G 8 at T 0.6, m 4, mu 1, beta 0, `mean` scaling, constant lr, eval
every 100 steps at K, K/2, K/4 on the 500-problem test split; the variants change the method,
the rollout order, the rollout step counts and the learning rate.
"""
import os
import sys

K = {"sudoku": 16, "countdown": 12}
variants = {
  # name: (method, lr, remasking, mixed)
  "agrpo-lc-2e-5": ("agrpo", 2e-5, "low_confidence", False),
  "agrpo-lc-mixed-2e-5": ("agrpo", 2e-5, "low_confidence", True),
  "diffugrpo-lc-2e-5": ("diffu-grpo", 2e-5, "low_confidence", False),
}
extra = {"sudoku": {"agrpo-random-2e-5": ("agrpo", 2e-5, "random", False)},
         "countdown": {"agrpo-lc-5e-5": ("agrpo", 5e-5, "low_confidence", False)}}
out = sys.argv[1] if len(sys.argv) > 1 else "configs"
os.makedirs(out, exist_ok=True)
for task in K:
    k = K[task]
    for name, (method, lr, rm, mixed) in {**variants, **extra[task]}.items():
        for seed in (1, 2, 3):
            mixed_line = f"mixed_steps = [{k}, {k//2}, {k//4}]\n" if mixed else ""
            s = f'''[run]
name = "{task}-{name}-s{seed}"
seed = {seed}
out_dir = "sweep-runs"
device = "vulkan"
[task]
name = "{task}"
[model]
init = "{task}-base"
[train]
method = "{method}"
steps = 400
lr = {lr}
warmup_steps = 0
schedule = "constant"
grad_clip = 1.0
log_every = 5
eval_every = 100
checkpoint_every = 100
[rl]
prompts_per_step = 16
group_size = 8
num_iterations = 1
beta = 0.0
[rl.rollout]
temperature = 0.6
remasking = "{rm}"
{mixed_line}[rl.agrpo]
mc_samples = 4
importance_sampling = "uniform"
low_discrepancy = true
epsilon_low = 0.2
epsilon_high = 0.2
scaling = "mean"
[eval]
n = 500
steps = [{k}, {k//2}, {k//4}]
'''
            open(os.path.join(out, f"{task}-{name}-s{seed}.toml"), "w").write(s)
