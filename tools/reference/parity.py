#!/usr/bin/python3
"""Parity fixtures for the Go engine.

  parity.py DIR        reads DIR/model.safetensors + DIR/inputs.safetensors, computes in
                       float64 the logits, the weighted-CE loss and d loss / d param for every
                       parameter, writes DIR/expected.safetensors (all F32):
                         logits [B,L,V], loss [1], grad.<param name> (param shape)
                       __metadata__: format="agrpo-go/v1-parity", loss_f64=<repr of the f64 loss>
  parity.py --selftest [--keep DIR]
                       builds a small random checkpoint + inputs, runs the same pipeline, and
                       checks the float64 reference against (a) an independent loop-based numpy
                       forward, (b) central finite differences of the loss, (c) padding-key
                       invariance.

inputs.safetensors: I32 tokens [B,L], I32 key_mask [B,L] (1 real, 0 padding key),
                    I32 targets [B,L], F32 weights [B,L] (0 = ignored position).
"""

import argparse
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import llada_ref  # noqa: E402
import safetensors_io  # noqa: E402

INPUT_KEYS = {"tokens": np.int32, "key_mask": np.int32, "targets": np.int32, "weights": np.float32}


def load_inputs(path):
    t, _ = safetensors_io.read(path)
    for k, dt in INPUT_KEYS.items():
        if k not in t:
            raise ValueError(f"{path}: missing tensor {k}")
        if t[k].dtype != np.dtype(dt):
            raise ValueError(f"{path}: {k} has dtype {t[k].dtype}, want {np.dtype(dt)}")
        if t[k].ndim != 2 or t[k].shape != t["tokens"].shape:
            raise ValueError(f"{path}: {k} has shape {t[k].shape}, want {t['tokens'].shape}")
    return t


def compute(cfg, params, inputs):
    """float64 forward + backward. Returns (logits f64 tensor, loss f64 tensor, grads dict)."""
    tokens = torch.from_numpy(inputs["tokens"].astype(np.int64))
    key_mask = torch.from_numpy(inputs["key_mask"].astype(np.int64))
    targets = torch.from_numpy(inputs["targets"].astype(np.int64))
    weights = torch.from_numpy(inputs["weights"].astype(np.float64))
    V = cfg["vocab_size"]
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= V):
        raise ValueError("token id out of range")
    if tokens.shape[1] > cfg["max_sequence_length"]:
        raise ValueError("sequence longer than max_sequence_length")
    if bool((key_mask.sum(dim=1) == 0).any()):
        raise ValueError("a row has no valid key (softmax would be NaN)")
    for p in params.values():
        p.grad = None
        p.requires_grad_(True)
    logits = llada_ref.forward(cfg, params, tokens, key_mask)
    loss = llada_ref.weighted_ce(logits, targets, weights)
    loss.backward()
    grads = {k: v.grad.detach().clone() for k, v in params.items()}
    return logits.detach(), loss.detach(), grads


def run_dir(d):
    cfg, params = llada_ref.load_checkpoint(os.path.join(d, "model.safetensors"), torch.float64)
    inputs = load_inputs(os.path.join(d, "inputs.safetensors"))
    logits, loss, grads = compute(cfg, params, inputs)
    out = {"logits": logits.numpy().astype(np.float32), "loss": np.array([loss.item()], np.float32)}
    for k, g in grads.items():
        out["grad." + k] = g.numpy().astype(np.float32)
    meta = {"format": "agrpo-go/v1-parity", "loss_f64": repr(loss.item())}
    safetensors_io.write(os.path.join(d, "expected.safetensors"), out, meta)
    gnorm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    B, L = inputs["tokens"].shape
    print(
        f"parity: {d}/expected.safetensors B={B} L={L} V={cfg['vocab_size']} "
        f"D={cfg['d_model']} layers={cfg['n_layers']} heads={cfg['n_heads']} "
        f"loss={loss.item():.10g} weight_sum={float(inputs['weights'].sum()):.6g} "
        f"max|logit|={float(logits.abs().max()):.6g} |grad|={gnorm:.6g} params={len(grads)}"
    )
    return cfg, params, inputs, logits, loss, grads


# ---------------------------------------------------------------------------------- selftest


def naive_forward(cfg, params, tokens, key_mask):
    """Independent loop-based numpy float64 forward written straight from the spec."""
    P = {k: v.detach().numpy().astype(np.float64) for k, v in params.items()}
    B, L = tokens.shape
    D, H, eps = cfg["d_model"], cfg["n_heads"], cfg["rms_norm_eps"]
    Dh, half = D // H, D // H // 2

    def rms(x, w):
        return x / math.sqrt(float(np.mean(x * x)) + eps) * w

    def rope(vec, l):  # vec [Dh], explicit pairwise rotation of (j, j+half)
        out = np.empty_like(vec)
        for j in range(half):
            a = l * cfg["rope_theta"] ** (-2.0 * j / Dh)
            c, s = math.cos(a), math.sin(a)
            out[j] = vec[j] * c - vec[j + half] * s
            out[j + half] = vec[j + half] * c + vec[j] * s
        return out

    logits = np.zeros((B, L, cfg["vocab_size"]))
    for b in range(B):
        x = np.stack([P["model.transformer.wte.weight"][tokens[b, l]] for l in range(L)])
        for i in range(cfg["n_layers"]):
            p = f"model.transformer.blocks.{i}."
            h = np.stack([rms(x[l], P[p + "attn_norm.weight"]) for l in range(L)])
            q, k, v = (h @ P[p + n + ".weight"].T for n in ("q_proj", "k_proj", "v_proj"))
            o = np.zeros((L, D))
            for hh in range(H):
                sl = slice(hh * Dh, (hh + 1) * Dh)
                qs = [rope(q[l, sl], l) for l in range(L)]
                ks = [rope(k[l, sl], l) for l in range(L)]
                for lq in range(L):
                    sc = [
                        float(np.dot(qs[lq], ks[lk])) / math.sqrt(Dh) if key_mask[b, lk] else -math.inf
                        for lk in range(L)
                    ]
                    m = max(sc)
                    e = [math.exp(s - m) if s != -math.inf else 0.0 for s in sc]
                    z = sum(e)
                    o[lq, sl] = sum((e[lk] / z) * v[lk, sl] for lk in range(L))
            x = x + o @ P[p + "attn_out.weight"].T
            h2 = np.stack([rms(x[l], P[p + "ff_norm.weight"]) for l in range(L)])
            g = h2 @ P[p + "ff_proj.weight"].T
            g = g / (1.0 + np.exp(-g))
            u = h2 @ P[p + "up_proj.weight"].T
            x = x + (g * u) @ P[p + "ff_out.weight"].T
        xf = np.stack([rms(x[l], P["model.transformer.ln_f.weight"]) for l in range(L)])
        logits[b] = xf @ P["model.transformer.ff_out.weight"].T
    return logits


def naive_loss(logits, targets, weights):
    tot = 0.0
    for b in range(logits.shape[0]):
        for l in range(logits.shape[1]):
            if weights[b, l] == 0:
                continue
            row = logits[b, l]
            m = row.max()
            lse = m + math.log(np.exp(row - m).sum())
            tot += float(weights[b, l]) * (lse - row[targets[b, l]])
    return tot


def selftest(keep=None):
    torch.set_num_threads(1)
    cfg = dict(
        vocab_size=23, d_model=32, n_layers=2, n_heads=4, mlp_hidden_size=48,
        max_sequence_length=16, rope_theta=10000.0, rms_norm_eps=1e-5,
        mask_token_id=22, eos_token_id=21, pad_token_id=20,
    )
    B, L = 3, 11
    gen = torch.Generator().manual_seed(1234)
    # larger std than training init so that the gradients are O(1e-2..1) and FD is meaningful
    params = llada_ref.init_params(cfg, gen, std=0.3)
    for name in params:  # non-trivial norm weights
        if name.endswith("norm.weight") or name.endswith("ln_f.weight"):
            params[name] = 1.0 + 0.2 * torch.randn(params[name].shape, generator=gen)
    rng = np.random.default_rng(42)
    tokens = rng.integers(0, 20, size=(B, L)).astype(np.int32)
    tokens[rng.random((B, L)) < 0.3] = cfg["mask_token_id"]
    key_mask = np.ones((B, L), np.int32)
    key_mask[1, 8:] = 0  # row 1: last 3 positions are padding keys
    tokens[1, 8:] = cfg["pad_token_id"]
    targets = rng.integers(0, cfg["vocab_size"], size=(B, L)).astype(np.int32)
    weights = (rng.random((B, L)) * 1.5 + 0.25).astype(np.float32)
    weights[rng.random((B, L)) < 0.35] = 0.0  # ignored positions
    weights[key_mask == 0] = 0.0
    targets[1, 9] = -100  # ignored target outside the vocab must be harmless

    d = keep or tempfile.mkdtemp(prefix="parity_selftest_")
    os.makedirs(d, exist_ok=True)
    llada_ref.save_checkpoint(os.path.join(d, "model.safetensors"), cfg, params)
    safetensors_io.write(
        os.path.join(d, "inputs.safetensors"),
        {"tokens": tokens, "key_mask": key_mask, "targets": targets, "weights": weights},
    )
    cfg2, p64, inputs, logits, loss, grads = run_dir(d)
    ok = True

    def report(name, err, tol, at_least=False):
        nonlocal ok
        good = err >= tol if at_least else err <= tol
        ok = ok and good
        rel = ">=" if at_least else "tol"
        print(f"  {'ok  ' if good else 'FAIL'} {name}: {err:.3e} ({rel} {tol:.0e})")

    # 0. round trip of the written files
    exp, meta = safetensors_io.read(os.path.join(d, "expected.safetensors"))
    rt = max(float(np.abs(exp["grad." + k] - g.numpy().astype(np.float32)).max()) for k, g in grads.items())
    report("expected.safetensors round trip (grads)", rt, 0.0)
    report("loss_f64 metadata", abs(float(meta["loss_f64"]) - loss.item()), 0.0)

    # 1. independent naive forward + loss
    nl = naive_forward(cfg2, p64, inputs["tokens"], inputs["key_mask"])
    report("max |logits - naive loop forward|", float(np.abs(nl - logits.numpy()).max()), 1e-11)
    nloss = naive_loss(nl, inputs["targets"], inputs["weights"].astype(np.float64))
    report("|loss - naive loss|", abs(nloss - loss.item()), 1e-10)

    # 2. central finite differences, eps 1e-6, a few coordinates of every kind of parameter
    tok = torch.from_numpy(inputs["tokens"].astype(np.int64))
    km = torch.from_numpy(inputs["key_mask"].astype(np.int64))
    tg = torch.from_numpy(inputs["targets"].astype(np.int64))
    wt = torch.from_numpy(inputs["weights"].astype(np.float64))

    def f():
        with torch.no_grad():
            return llada_ref.weighted_ce(llada_ref.forward(cfg2, p64, tok, km), tg, wt).item()

    eps = 1e-6
    worst_rel = worst_abs = gmax = 0.0
    gmin = math.inf
    n = 0
    prng = np.random.default_rng(7)
    for name, p in p64.items():
        flat_n = p.numel()
        idxs = list(prng.choice(flat_n, size=min(3, flat_n), replace=False))
        if name == "model.transformer.wte.weight":  # make sure a used row is probed
            idxs.append(int(inputs["tokens"][0, 0]) * cfg2["d_model"] + 5)
        for idx in idxs:
            flat = p.data.view(-1)
            old = flat[idx].item()
            flat[idx] = old + eps
            lp = f()
            flat[idx] = old - eps
            lm = f()
            flat[idx] = old
            fd = (lp - lm) / (2 * eps)
            ag = grads[name].view(-1)[idx].item()
            # FD round-off is ~ ulp(loss)/eps ~ 1e-8 absolute, so normalise by |g| + 1e-2
            rel = abs(fd - ag) / (abs(ag) + 1e-2)
            worst_rel = max(worst_rel, rel)
            worst_abs = max(worst_abs, abs(fd - ag))
            gmin = min(gmin, abs(ag))
            gmax = max(gmax, abs(ag))
            n += 1
    report(f"finite differences: worst |fd-g|/(|g|+1e-2) over {n} coords", worst_rel, 1e-6)
    print(f"    (worst |fd-g| {worst_abs:.2e}; probed |g| range {gmin:.2e}..{gmax:.2e})")

    # 3. padding keys have no influence on real positions
    tok2 = tok.clone()
    tok2[1, 8] = (tok2[1, 8] + 7) % cfg2["vocab_size"]
    tok2[1, 10] = 3
    with torch.no_grad():
        lg2 = llada_ref.forward(cfg2, p64, tok2, km)
    real = km.bool()
    report("padding-token change: max |Δ logits| at real positions",
           float((lg2 - logits)[real].abs().max()), 0.0)
    report("  (sanity) padded positions themselves do change", float((lg2 - logits)[~real].abs().max()), 1e-6, at_least=True)
    # and a real token change does reach other positions (attention is bidirectional)
    tok3 = tok.clone()
    tok3[1, 7] = (tok3[1, 7] + 1) % cfg2["vocab_size"]
    with torch.no_grad():
        lg3 = llada_ref.forward(cfg2, p64, tok3, km)
    report("  (sanity) real-token change reaches earlier positions (bidirectional)",
           float((lg3 - logits)[1, :7].abs().max()), 1e-6, at_least=True)

    print("selftest:", "PASS" if ok else "FAIL", f"(files in {d})")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", help="fixture directory (model.safetensors, inputs.safetensors)")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--keep", help="selftest: write the files to this directory instead of a temp dir")
    a = ap.parse_args()
    torch.set_num_threads(1)  # bit-reproducible float64 reductions
    if a.selftest:
        sys.exit(selftest(a.keep))
    if not a.dir:
        ap.error("DIR required (or --selftest)")
    run_dir(a.dir)


if __name__ == "__main__":
    main()
