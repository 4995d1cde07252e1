#!/usr/bin/python3
"""Our CPU backend beside PyTorch, interleaved: round after round, `demo bench -json` then
bench_torch.py, so that both sides see the same drift of a noisy machine (this VM's speed moves
by up to 30 % between minutes). Prints each round's ratios and the median over rounds.

    go build -o /tmp/demo ./demo
    /usr/bin/python3 tools/reference/bench_pair.py --demo /tmp/demo --rounds 3

Ratios are ours / PyTorch's rate (> 1: we are faster). The sampling row compares our sampling
step (forward + sample + reveal, a 128 × 25-token rollout) with PyTorch's forward alone at
64 × 64, as the CPU issue's target is stated. OPENBLAS_CORETYPE is removed from PyTorch's
environment, so OpenBLAS runs the kernels it picks for this CPU.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Our matmul keys (C[m,n] over k, transposes) and the PyTorch case computing the same product:
# (m, n, k, op) of bench_torch.py, where fwd is X·Wᵀ, dX is dY·W and dW is dYᵀ·X.
MATMULS = [
    ("512x512x512", (512, 512, 512, "fwd")),
    ("1024x1024x1024", (1024, 1024, 1024, "fwd")),
    ("4096x128x128_tB", (4096, 128, 128, "fwd")),
    ("4096x384x128_tB", (4096, 384, 128, "fwd")),
    ("4096x128x384_tB", (4096, 128, 384, "fwd")),
    ("4096x32x128_tB", (4096, 32, 128, "fwd")),
    ("4096x128x384", (4096, 384, 128, "dX")),
    ("384x128x4096_tA", (4096, 384, 128, "dW")),
]


def run_json(cmd, env=None):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def torch_env():
    """The environment without OPENBLAS_CORETYPE: a core-type override (some machines of this
    project's kind set Haswell) would hold OpenBLAS to AVX2 kernels on a CPU with AVX-512, and
    the comparison is with what OpenBLAS picks for the CPU itself."""
    return {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}


def one_round(args):
    ours = run_json([args.demo, "bench", "-json", "-device", "cpu", "-time", args.time])
    torch = run_json([sys.executable, os.path.join(HERE, "bench_torch.py"), "--threads", str(args.threads)],
                     env=torch_env())
    tm = {(r["m"], r["n"], r["k"], r["op"]): r["gflops"] for r in torch["matmul"]}
    rows = {}
    for key, tkey in MATMULS:
        rows["matmul " + key] = (ours["matmul_gflops"][key], tm[tkey])
    model = torch["model"]
    rows["model forward tok/s"] = (ours["forward_tokens_per_s"], model["forward"]["tokens_per_s"])
    rows["model fwd+bwd tok/s"] = (ours["train_tokens_per_s"], model["fwd_bwd"]["tokens_per_s"])
    rows["sampling step vs torch forward tok/s"] = (ours["sample_tokens_per_s"], model["forward"]["tokens_per_s"])
    return ours, (torch.get("openblas") or {}).get("config"), rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True, help="a built demo binary (go build -o /tmp/demo ./demo)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time", default="1s", help="demo bench -time")
    ap.add_argument("--json", help="also write every round's numbers here")
    args = ap.parse_args()
    rounds = []
    for i in range(args.rounds):
        ours, openblas, rows = one_round(args)
        peak = ours["peak_gflops"]
        rounds.append({"peak_gflops": peak, "peak_isa": ours["peak_isa"], "gemm_kernel": ours["gemm_kernel"],
                       "openblas": openblas, "rows": rows, "loadavg": os.getloadavg()})
        print(f"round {i + 1}: FMA peak {peak:.1f} GFLOP/s ({ours['peak_isa']}), gemm kernel {ours['gemm_kernel']}, "
              f"OpenBLAS {openblas}, load {os.getloadavg()[0]:.2f}", file=sys.stderr)
        for name, (o, t) in rows.items():
            print(f"  {name:<40} ours {o:>10.1f}  torch {t:>10.1f}  ratio {o / t:5.2f}", file=sys.stderr)
    print(f"median over {args.rounds} rounds (ours, torch, ratio of the medians, median and range of the round "
          f"ratios; on a shared machine the round ratio is the steadier figure):")
    for name in rounds[0]["rows"]:
        o = statistics.median(r["rows"][name][0] for r in rounds)
        t = statistics.median(r["rows"][name][1] for r in rounds)
        ratios = [r["rows"][name][0] / r["rows"][name][1] for r in rounds]
        print(f"  {name:<40} {o:>10.1f} {t:>10.1f}  {o / t:5.2f}  {statistics.median(ratios):5.2f} "
              f"[{min(ratios):.2f}, {max(ratios):.2f}]")
    peaks = [r["peak_gflops"] for r in rounds]
    mm = statistics.median(r["rows"]["matmul 1024x1024x1024"][0] for r in rounds)
    print(f"  FMA peak ({rounds[0]['peak_isa']}) median {statistics.median(peaks):.1f} GFLOP/s; "
          f"matmul 1024³ ({rounds[0]['gemm_kernel']} kernel) at {100 * mm / statistics.median(peaks):.0f} % of it")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rounds, f, indent=1)


if __name__ == "__main__":
    main()
