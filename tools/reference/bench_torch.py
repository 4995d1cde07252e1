#!/usr/bin/python3
"""PyTorch (CPU, float32) side of the benchmark table.

Prints one JSON object on stdout and a readable table on stderr.

Matmul section: for each (m, n, k), with X [m,k], W [n,k], dY [m,n]:
  fwd: Y  = X @ W.t()      [m,n]
  dX : dX = dY @ W         [m,k]
  dW : dW = dY.t() @ X     [n,k]
each 2*m*n*k FLOP; GFLOP/s from the median time (after warm-up).

Threads: torch.set_num_threads(--threads) for the OpenMP pool, and openblas_set_num_threads
(via ctypes) for Debian's OpenBLAS, which torch (BLAS_INFO=generic) does not configure.
OMP_WAIT_POLICY defaults to PASSIVE, see _pre_torch_env.

Model section: the demo-size LLaDA model (llada_ref.py), batch B x length L, random
weights (std 0.02, norm weights 1), random tokens, all keys valid.
  forward   : torch.no_grad() forward -> logits
  fwd+bwd   : forward + weighted CE loss + backward (grads reset to None before each rep)
FLOP count used for "effective GFLOP/s" (matmuls only; norms/softmax/RoPE/elementwise ignored):
  P_lin     = n_layers*(4*D*D + 3*D*F) + V*D        (weights in Linear layers incl. the head;
                                                     the embedding lookup is not a matmul)
  T         = B*L tokens
  fwd FLOP  = 2*P_lin*T + n_layers * 4*B*H*L*L*Dh   (QK^T and P.V: 2*B*H*L*L*Dh each, per layer)
  fwd+bwd   = 3 * fwd FLOP                          (backward = 2x forward for every matmul)
"""

import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _pre_torch_env():
    """Must run before `import torch` (libgomp reads its env when it is loaded).

    Debian's torch runs elementwise ops on an OpenMP pool (libgomp) and matmuls on
    OpenBLAS's own pthread pool. With the default active wait policy the idle OpenMP
    threads spin while OpenBLAS works, so on a 2-core box the two pools fight for the
    cores and the model step gets ~2x slower. Default here: OMP_WAIT_POLICY=PASSIVE
    (override with --omp-wait-policy active|env)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--omp-wait-policy", choices=("passive", "active", "env"), default="passive")
    a, _ = pre.parse_known_args()
    if a.omp_wait_policy != "env":
        os.environ["OMP_WAIT_POLICY"] = a.omp_wait_policy.upper()


if __name__ == "__main__":
    _pre_torch_env()

import torch  # noqa: E402

import llada_ref  # noqa: E402

MATMUL_SHAPES = [
    (512, 512, 512),
    (1024, 1024, 1024),
    (4096, 128, 128),
    (4096, 384, 128),
    (4096, 128, 384),
    (4096, 32, 128),
]

DEMO_CFG = dict(
    vocab_size=32, d_model=128, n_layers=4, n_heads=4, mlp_hidden_size=384,
    max_sequence_length=64, rope_theta=10000.0, rms_norm_eps=1e-5,
    mask_token_id=31, eos_token_id=30, pad_token_id=29,
)


def time_fn(fn, warmup, min_reps, min_time):
    """Median seconds per call: `warmup` untimed calls, then at least min_reps timed calls
    and until min_time seconds have been spent (cap 200 reps)."""
    for _ in range(warmup):
        fn()
    ts = []
    start = time.perf_counter()
    while len(ts) < min_reps or (time.perf_counter() - start < min_time and len(ts) < 200):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), len(ts)


def loaded_blas_libs():
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.split()[-1]
                base = os.path.basename(p)
                if any(s in base for s in ("blas", "mkl_", "libmkl", "blis", "lapack")):
                    libs.add(os.path.realpath(p))
    except OSError:
        pass
    return sorted(libs)


def set_openblas_threads(n, libs):
    """torch (BLAS_INFO=generic on Debian) does not tell OpenBLAS its thread count; do it."""
    for p in libs:
        if "openblas" not in os.path.basename(p):
            continue
        try:
            lib = ctypes.CDLL(p)
            lib.openblas_set_num_threads(ctypes.c_int(n))
            got = lib.openblas_get_num_threads()
            cfg = ctypes.c_char_p
            lib.openblas_get_config.restype = cfg
            return {"lib": p, "threads": int(got), "config": lib.openblas_get_config().decode()}
        except (OSError, AttributeError):
            continue
    return None


def env_info(threads):
    show = torch.__config__.show()
    blas_info = next((tok.split("=", 1)[1] for line in show.splitlines()
                      for tok in line.replace(",", " ").split() if tok.startswith("BLAS_INFO=")), None)
    pinfo = torch.__config__.parallel_info()
    thr_line = next((l.strip() for l in pinfo.splitlines() if "at::get_num_threads()" in l), None)
    libs = loaded_blas_libs()
    ob = set_openblas_threads(threads, libs)
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    return {
        "torch_version": torch.__version__,
        "threads": threads,
        "parallel_info_threads": thr_line,
        "parallel_backend": next((l.split(":", 1)[1].strip() for l in pinfo.splitlines()
                                  if l.startswith("ATen parallel backend")), None),
        "blas_info": blas_info,
        "blas_libs": libs,
        "openblas": ob,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "cpu_capability": next((l.split(":", 1)[1].strip() for l in show.splitlines()
                                if "CPU capability usage" in l), None),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": list(os.getloadavg()),
        "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                               "OPENBLAS_NUM_THREADS", "GOMP_SPINCOUNT")},
    }


def bench_matmul(args):
    out = []
    g = torch.Generator().manual_seed(0)
    for m, n, k in MATMUL_SHAPES:
        X = torch.randn(m, k, generator=g)
        W = torch.randn(n, k, generator=g)
        dY = torch.randn(m, n, generator=g)
        flop = 2.0 * m * n * k
        ops = {
            "fwd": lambda: torch.matmul(X, W.t()),
            "dX": lambda: torch.matmul(dY, W),
            "dW": lambda: torch.matmul(dY.t(), X),
        }
        for op, fn in ops.items():
            t, reps = time_fn(fn, args.warmup, args.min_reps, args.min_time)
            out.append({"m": m, "n": n, "k": k, "op": op, "ms": t * 1e3,
                        "gflops": flop / t / 1e9, "reps": reps})
    return out


def bench_model(args):
    cfg = llada_ref.parse_config(DEMO_CFG)
    B, L = args.batch, args.length
    V, D, H, F, NL = (cfg[k] for k in ("vocab_size", "d_model", "n_heads", "mlp_hidden_size", "n_layers"))
    Dh = D // H
    g = torch.Generator().manual_seed(0)
    params = llada_ref.init_params(cfg, g, std=0.02, dtype=torch.float32, requires_grad=True)
    tokens = torch.randint(0, V, (B, L), generator=g)
    key_mask = torch.ones(B, L, dtype=torch.int64)
    targets = torch.randint(0, V, (B, L), generator=g)
    masked = (torch.rand(B, L, generator=g) < 0.5).float()
    weights = masked / (B * L)

    p_lin = NL * (4 * D * D + 3 * D * F) + V * D
    T = B * L
    fwd_flop = 2.0 * p_lin * T + NL * 4.0 * B * H * L * L * Dh
    fb_flop = 3.0 * fwd_flop

    def fwd():
        with torch.no_grad():
            return llada_ref.forward(cfg, params, tokens, key_mask)

    def fwd_bwd():
        for p in params.values():
            p.grad = None
        loss = llada_ref.weighted_ce(llada_ref.forward(cfg, params, tokens, key_mask), targets, weights)
        loss.backward()
        return loss

    res = {"config": {k: cfg[k] for k in ("vocab_size", "d_model", "n_layers", "n_heads",
                                          "mlp_hidden_size", "max_sequence_length")},
           "batch": B, "length": L, "tokens": T, "params_linear": p_lin,
           "params_total": sum(p.numel() for p in params.values()),
           "flop_forward": fwd_flop, "flop_fwd_bwd": fb_flop}
    for name, fn, flop in (("forward", fwd, fwd_flop), ("fwd_bwd", fwd_bwd, fb_flop)):
        t, reps = time_fn(fn, args.warmup, args.min_reps, args.min_time)
        res[name] = {"ms": t * 1e3, "tokens_per_s": T / t, "gflops_effective": flop / t / 1e9, "reps": reps}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--min-reps", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds of timed reps per case (min)")
    ap.add_argument("--omp-wait-policy", choices=("passive", "active", "env"), default="passive",
                    help="OMP_WAIT_POLICY set before torch loads (env = leave the environment alone)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--length", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    info = env_info(a.threads)
    mm = bench_matmul(a)
    model = bench_model(a)
    result = {"bench": "torch", "dtype": "float32", **info, "matmul": mm, "model": model}
    result["loadavg_end"] = list(os.getloadavg())

    e = sys.stderr
    print(f"torch {info['torch_version']}  threads={a.threads}  [{info['parallel_info_threads']}]  "
          f"BLAS={info['blas_info']} {info['blas_libs']}", file=e)
    if info["openblas"]:
        print(f"OpenBLAS threads={info['openblas']['threads']} ({info['openblas']['config']})", file=e)
    print(f"cpu: {info['cpu']}  nproc={info['nproc']}  loadavg={info['loadavg']}  "
          f"OMP_WAIT_POLICY={info['env']['OMP_WAIT_POLICY']}", file=e)
    print(f"{'m':>6} {'n':>6} {'k':>6}  {'op':<4} {'ms':>10} {'GFLOP/s':>9}", file=e)
    for r in mm:
        print(f"{r['m']:>6} {r['n']:>6} {r['k']:>6}  {r['op']:<4} {r['ms']:>10.3f} {r['gflops']:>9.2f}", file=e)
    print(f"model d={DEMO_CFG['d_model']} layers={DEMO_CFG['n_layers']} heads={DEMO_CFG['n_heads']} "
          f"mlp={DEMO_CFG['mlp_hidden_size']} vocab={DEMO_CFG['vocab_size']}  B={model['batch']} "
          f"L={model['length']} ({model['tokens']} tokens)", file=e)
    for name in ("forward", "fwd_bwd"):
        r = model[name]
        print(f"  {name:<8} {r['ms']:>9.2f} ms  {r['tokens_per_s']:>10.0f} tok/s  "
              f"{r['gflops_effective']:>7.2f} GFLOP/s (effective)", file=e)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
