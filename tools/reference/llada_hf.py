#!/usr/bin/python3
"""Test-sized LLaDA checkpoints in the Hugging Face layout, and their PyTorch reference.

  llada_hf.py make DIR [--dtype bf16|f32] [--shards N] [--vocab-size V] [--embedding-size E]
                       [--d-model D] [--n-layers N] [--n-heads H] [--n-kv-heads K] [--mlp F]
                       [--max-seq L] [--mask-id M] [--eos-id E] [--seed S]
      writes DIR/config.json (every key of LLaDA-8B's config, with these sizes) and random
      weights named and shaped as LLaDA's modeling code names them, in DIR/model.safetensors
      (--shards 1) or N shards with DIR/model.safetensors.index.json.
  llada_hf.py parity DIR OUT [--batch B] [--seq L] [--seed S]
      loads DIR as LLaDA's loader would (config.json, index, shards), draws inputs, and writes
      OUT/inputs.safetensors and OUT/expected.safetensors (float64 logits, weighted-CE loss and
      the gradient of every parameter, stored F32), in the format of parity.py.
  llada_hf.py --selftest
      checks the reference against llada_ref.forward (itself checked against a loop-based numpy
      forward by parity.py --selftest): equal at n_kv_heads = n_heads, and under grouped-query
      attention equal to llada_ref with k_proj and v_proj expanded to one head per query head.

The forward follows LLaDA's modeling_llada.py (LLaDALlamaBlock, RotaryEmbedding,
RMSLayerNorm, LLaDAModel.forward): x = wte[ids]; per block: h = attn_norm(x); q, k, v =
h·Wᵀ; heads (B, nh, T, hs) and (B, n_kv, T, hs); RoPE with inv_freq = 1/θ^(2i/hs), positions
cat(freqs, freqs), rotate_half on the two halves; k, v repeat_interleave'd to nh heads; scaled
dot-product attention with the attention mask as an additive bias (1 − mask)·finfo.min; x +=
attn_out(att); x += ff_out(silu(ff_proj(ff_norm(x))) · up_proj(ff_norm(x))); logits =
ff_out(ln_f(x)) over embedding_size entries. RMSLayerNorm: x·rsqrt(mean(x²) + eps)·w.
"""

import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import llada_ref  # noqa: E402
import safetensors_io  # noqa: E402

INDEX = "model.safetensors.index.json"


def llada_config(a):
    """config.json as LLaDA-8B-Instruct writes it, with the test sizes."""
    return {
        "activation_type": "silu",
        "alibi": False,
        "alibi_bias_max": 8.0,
        "architectures": ["LLaDAModelLM"],
        "attention_dropout": 0.0,
        "attention_layer_norm": False,
        "attention_layer_norm_with_affine": True,
        "auto_map": {
            "AutoConfig": "configuration_llada.LLaDAConfig",
            "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
            "AutoModel": "modeling_llada.LLaDAModelLM",
        },
        "bias_for_layer_norm": False,
        "block_group_size": 1,
        "block_type": "llama",
        "d_model": a.d_model,
        "embedding_dropout": 0.0,
        "embedding_size": a.embedding_size,
        "eos_token_id": a.eos_id,
        "flash_attention": False,
        "include_bias": False,
        "include_qkv_bias": False,
        "init_cutoff_factor": None,
        "init_device": "meta",
        "init_fn": "mitchell",
        "init_std": 0.02,
        "input_emb_norm": False,
        "layer_norm_type": "rms",
        "layer_norm_with_affine": True,
        "mask_token_id": a.mask_id,
        "max_sequence_length": a.max_seq,
        "mlp_hidden_size": a.mlp,
        "mlp_ratio": 4,
        "model_type": "llada",
        "multi_query_attention": None,
        "n_heads": a.n_heads,
        "n_kv_heads": a.n_kv_heads,
        "n_layers": a.n_layers,
        "pad_token_id": a.eos_id,
        "precision": "amp_bf16",
        "residual_dropout": 0.0,
        "rms_norm_eps": 1e-05,
        "rope": True,
        "rope_full_precision": True,
        "rope_theta": 500000.0,
        "scale_logits": False,
        "transformers_version": "4.46.3",
        "use_cache": False,
        "vocab_size": a.vocab_size,
        "weight_tying": False,
    }


def effective_n_kv_heads(cfg):
    """LLaDA's ModelConfig.effective_n_kv_heads."""
    kv, mqa = cfg.get("n_kv_heads"), cfg.get("multi_query_attention")
    if kv is None:
        return 1 if mqa is True else cfg["n_heads"]
    if mqa is None:
        return kv
    want = 1 if mqa else cfg["n_heads"]
    if kv != want:
        raise ValueError("n_kv_heads and multi_query_attention disagree")
    return kv


def param_shapes(cfg):
    """name -> shape, as LLaDAModel with LLaDALlamaBlock creates them (Linear: [out, in])."""
    D, F = cfg["d_model"], cfg["mlp_hidden_size"]
    E = cfg["embedding_size"] or cfg["vocab_size"]
    KV = effective_n_kv_heads(cfg) * (D // cfg["n_heads"])
    shapes = {"model.transformer.wte.weight": (E, D)}
    for i in range(cfg["n_layers"]):
        p = f"model.transformer.blocks.{i}."
        shapes[p + "attn_out.weight"] = (D, D)
        shapes[p + "ff_out.weight"] = (D, F)
        shapes[p + "attn_norm.weight"] = (D,)
        shapes[p + "ff_norm.weight"] = (D,)
        shapes[p + "q_proj.weight"] = (D, D)
        shapes[p + "k_proj.weight"] = (KV, D)
        shapes[p + "v_proj.weight"] = (KV, D)
        shapes[p + "ff_proj.weight"] = (F, D)
        shapes[p + "up_proj.weight"] = (F, D)
    shapes["model.transformer.ln_f.weight"] = (D,)
    shapes["model.transformer.ff_out.weight"] = (E, D)
    return shapes


def make(a):
    if a.embedding_size < a.vocab_size:
        raise SystemExit("--embedding-size must be at least --vocab-size")
    a.mask_id = a.vocab_size - 1 if a.mask_id is None else a.mask_id
    a.eos_id = a.vocab_size - 2 if a.eos_id is None else a.eos_id
    cfg = llada_config(a)
    gen = torch.Generator().manual_seed(a.seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if len(shape) == 1:  # norm weights near 1, not exactly, so their gradients matter
            t = 1 + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:  # ~1/√fan_in, so activations neither vanish nor explode
            t = torch.randn(shape, generator=gen, dtype=torch.float64) / math.sqrt(shape[1])
        params[name] = t.to(torch.float32)
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    store = {k: (v.to(torch.bfloat16) if a.dtype == "bf16" else v.numpy()) for k, v in params.items()}
    names = list(param_shapes(cfg))  # model order, so each shard holds whole layers
    if a.shards == 1:
        safetensors_io.write(os.path.join(a.dir, "model.safetensors"), store, {"format": "pt"})
    else:
        per = -(-len(names) // a.shards)
        weight_map, total = {}, 0
        for s in range(a.shards):
            shard = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
            part = {n: store[n] for n in names[s * per : (s + 1) * per]}
            safetensors_io.write(os.path.join(a.dir, shard), part, {"format": "pt"})
            for n in part:
                weight_map[n] = shard
                total += params[n].numel() * (2 if a.dtype == "bf16" else 4)
        with open(os.path.join(a.dir, INDEX), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
            f.write("\n")
    print(f"make: {a.dir} {a.dtype} shards={a.shards} params={sum(p.numel() for p in params.values())}")


def load(d, dtype=torch.float64):
    """(cfg, params) from a folder, read as LLaDA's from_pretrained would: the index when present."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    idx = os.path.join(d, INDEX)
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for fn in files:
        t, _ = safetensors_io.read(os.path.join(d, fn))
        tensors.update(t)
    shapes = param_shapes(cfg)
    if set(tensors) != set(shapes):
        raise ValueError(f"{d}: tensors {sorted(set(tensors) ^ set(shapes))[:4]} do not match the config")
    params = {}
    for n, shape in shapes.items():
        if tuple(tensors[n].shape) != shape:
            raise ValueError(f"{d}: {n} has shape {tensors[n].shape}, want {shape}")
        params[n] = torch.from_numpy(tensors[n]).to(dtype)
    return cfg, params


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotary(hs, T, theta, dtype):
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    freqs = torch.einsum("i , j -> i j", torch.arange(T, dtype=torch.float64), inv_freq)
    positions = torch.cat((freqs, freqs), dim=-1)
    return positions.sin()[None, None].to(dtype), positions.cos()[None, None].to(dtype)


def rotate_half(x):
    B, nh, T, hs = x.size()
    x1, x2 = x.view(B, nh, T, 2, hs // 2).unbind(dim=-2)
    return torch.cat((-x2, x1), dim=-1)


def forward(cfg, P, input_ids, attention_mask, linear=None):
    """LLaDAModel.forward with LLaDALlamaBlock, in the params' dtype. linear(module, x), if given,
    replaces every projection x @ W.t() (module is LLaDA's path, e.g. model.transformer.blocks.0.q_proj)."""
    lin = linear or (lambda m, x: x @ P[m + ".weight"].t())
    B, T = input_ids.shape
    C, nh = cfg["d_model"], cfg["n_heads"]
    nkv, hs, eps = effective_n_kv_heads(cfg), C // nh, cfg["rms_norm_eps"]
    x = P["model.transformer.wte.weight"][input_ids.long()]
    dtype = x.dtype
    bias = (1.0 - attention_mask.to(dtype).view(B, -1)[:, None, None, :]) * torch.finfo(dtype).min
    sin, cos = rotary(hs, T, cfg["rope_theta"], dtype)
    for i in range(cfg["n_layers"]):
        p = f"model.transformer.blocks.{i}."
        h = rms_norm(x, P[p + "attn_norm.weight"], eps)
        q = lin(p + "q_proj", h).view(B, T, nh, hs).transpose(1, 2)
        k = lin(p + "k_proj", h).view(B, T, nkv, hs).transpose(1, 2)
        v = lin(p + "v_proj", h).view(B, T, nkv, hs).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if nkv != nh:
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hs) + bias, dim=-1) @ v
        x = x + lin(p + "attn_out", att.transpose(1, 2).contiguous().view(B, T, C))
        h = rms_norm(x, P[p + "ff_norm.weight"], eps)
        g = torch.nn.functional.silu(lin(p + "ff_proj", h)) * lin(p + "up_proj", h)
        x = x + lin(p + "ff_out", g)
    x = rms_norm(x, P["model.transformer.ln_f.weight"], eps)
    return lin("model.transformer.ff_out", x)


def draw_inputs(cfg, B, L, seed):
    """tokens, key mask (left padding in row 1, a padding key inside row 2), CE targets, weights."""
    gen = torch.Generator().manual_seed(seed)
    E = cfg["embedding_size"] or cfg["vocab_size"]
    tokens = torch.randint(0, cfg["vocab_size"], (B, L), generator=gen)
    masked = torch.rand((B, L), generator=gen) < 0.4
    tokens[masked] = cfg["mask_token_id"]
    key_mask = torch.ones((B, L), dtype=torch.int64)
    if B > 1:
        key_mask[1, :3] = 0
    if B > 2:
        key_mask[2, L // 2] = 0
    targets = torch.randint(0, E, (B, L), generator=gen)
    weights = masked.to(torch.float64) * (0.5 + torch.rand((B, L), generator=gen, dtype=torch.float64))
    return tokens, key_mask, targets, weights


def write_inputs(out, tokens, key_mask, targets, weights):
    """inputs.safetensors in out (created): the Go parity tests' inputs."""
    os.makedirs(out, exist_ok=True)
    i32 = lambda t: t.numpy().astype(np.int32)  # noqa: E731
    safetensors_io.write(
        os.path.join(out, "inputs.safetensors"),
        {"tokens": i32(tokens), "key_mask": i32(key_mask), "targets": i32(targets), "weights": weights.numpy().astype(np.float32)},
    )


def parity(a):
    cfg, P = load(a.dir)
    tokens, key_mask, targets, weights = draw_inputs(cfg, a.batch, a.seq, a.seed)
    for p in P.values():
        p.requires_grad_(True)
    logits = forward(cfg, P, tokens, key_mask)
    loss = llada_ref.weighted_ce(logits, targets, weights)
    loss.backward()
    write_inputs(a.out, tokens, key_mask, targets, weights)
    out = {"logits": logits.detach().numpy().astype(np.float32), "loss": np.array([loss.item()], np.float32)}
    for n, p in P.items():
        out["grad." + n] = p.grad.numpy().astype(np.float32)
    safetensors_io.write(os.path.join(a.out, "expected.safetensors"), out, {"format": "agrpo-go/v1-parity", "loss_f64": repr(loss.item())})
    print(f"parity: {a.out} B={a.batch} L={a.seq} loss={loss.item():.10g} max|logit|={float(logits.abs().max()):.4g}")


LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"]  # AGRPO's train.yaml


def lora_parity(a):
    """PEFT's LoRA on a folder, in float64, written from PEFT's definition: every nn.Linear whose
    module path equals a target or ends with "." + target (PEFT's check_target_module_exists, so
    "ff_out" also takes the head model.transformer.ff_out) computes
    base(x) + lora_B(lora_A(dropout(x))) * scaling, scaling = lora_alpha / r, dropout p = 0.
    A [r, in] is drawn as kaiming_uniform_(a=sqrt(5)) draws it, U(-1/sqrt(in), 1/sqrt(in)); B
    [out, r] is random (PEFT starts it at zero, which would leave A's gradient zero). Writes
    adapter_model.safetensors (PEFT's names, float32, the values the reference uses), inputs and
    adapter_config.json (PEFT's keys), expected.safetensors with logits, loss and grad.<adapter name>."""
    cfg, P = load(a.dir)
    tokens, key_mask, targets, weights = draw_inputs(cfg, a.batch, a.seq, a.seed)
    gen = torch.Generator().manual_seed(a.seed + 100)
    scaling = a.alpha / a.r
    AB = {}
    for name, W in P.items():
        mod = name[: -len(".weight")]
        if name.endswith("wte.weight") or W.dim() != 2 or not any(mod == t or mod.endswith("." + t) for t in LORA_TARGETS):
            continue
        out, inn = W.shape
        A = (torch.rand((a.r, inn), generator=gen, dtype=torch.float64) * 2 - 1) / math.sqrt(inn)
        B = torch.randn((out, a.r), generator=gen, dtype=torch.float64) * 0.3
        AB[mod] = (A.float().double().requires_grad_(True), B.float().double().requires_grad_(True))

    def linear(m, x):
        y = x @ P[m + ".weight"].t()
        if m in AB:
            A, B = AB[m]
            y = y + ((x @ A.t()) @ B.t()) * scaling
        return y

    logits = forward(cfg, P, tokens, key_mask, linear)
    loss = llada_ref.weighted_ce(logits, targets, weights)
    loss.backward()
    write_inputs(a.out, tokens, key_mask, targets, weights)
    adapters, out = {}, {"logits": logits.detach().numpy().astype(np.float32), "loss": np.array([loss.item()], np.float32)}
    for m, (A, B) in AB.items():
        for ab, t in (("A", A), ("B", B)):
            name = f"base_model.model.{m}.lora_{ab}.weight"
            adapters[name] = t.detach().numpy().astype(np.float32)
            out["grad." + name] = t.grad.numpy().astype(np.float32)
    safetensors_io.write(os.path.join(a.out, "adapter_model.safetensors"), adapters, {"format": "pt"})
    # adapter_config.json with the keys PEFT's LoraConfig.save_pretrained writes that bear on the math
    peft = {"peft_type": "LORA", "task_type": None, "base_model_name_or_path": a.dir, "r": a.r, "lora_alpha": a.alpha,
            "lora_dropout": 0.0, "target_modules": LORA_TARGETS, "bias": "none", "fan_in_fan_out": False,
            "use_rslora": False, "use_dora": False, "modules_to_save": None, "layers_to_transform": None,
            "rank_pattern": {}, "alpha_pattern": {}, "init_lora_weights": True, "inference_mode": True}
    with open(os.path.join(a.out, "adapter_config.json"), "w") as f:
        json.dump(peft, f, indent=2, sort_keys=True)
        f.write("\n")
    meta = {"format": "agrpo-go/v1-parity", "loss_f64": repr(loss.item()), "lora_r": str(a.r), "lora_alpha": repr(a.alpha)}
    safetensors_io.write(os.path.join(a.out, "expected.safetensors"), out, meta)
    print(f"lora: {a.out} r={a.r} alpha={a.alpha} adapted={len(AB)} loss={loss.item():.10g}")


def selftest():
    class A:
        pass

    worst = 0.0
    for kv in (4, 2, 1):
        a = A()
        a.d_model, a.n_layers, a.n_heads, a.n_kv_heads, a.mlp, a.max_seq = 32, 2, 4, kv, 40, 16
        a.vocab_size, a.embedding_size, a.mask_id, a.eos_id = 29, 32, 28, 27
        cfg = llada_config(a)
        gen = torch.Generator().manual_seed(kv)
        P = {n: torch.randn(s, generator=gen, dtype=torch.float64) / math.sqrt(s[-1]) + (1 if len(s) == 1 else 0) for n, s in param_shapes(cfg).items()}
        tokens, key_mask, _, _ = draw_inputs(cfg, 3, 11, kv)
        got = forward(cfg, P, tokens, key_mask)
        # llada_ref knows multi-head attention only: give it one k/v head per query head.
        hs, group = 32 // 4, 4 // kv
        Q = {}
        for n, t in P.items():
            if n.endswith(("k_proj.weight", "v_proj.weight")):
                t = t.view(kv, hs, 32).repeat_interleave(group, dim=0).reshape(32, 32)
            Q[n] = t
        rcfg = {k: cfg[k] for k in llada_ref.CONFIG_KEYS if k in cfg}
        rcfg["vocab_size"] = a.embedding_size
        want = llada_ref.forward(rcfg, Q, tokens, key_mask)
        err = float((got - want).abs().max() / want.abs().max())
        worst = max(worst, err)
        if not err < 1e-12:
            raise SystemExit(f"selftest: n_kv_heads={kv}: max relative difference {err:.3g} from llada_ref")
    print(f"selftest: ok (max relative difference {worst:.2g} from llada_ref at n_kv_heads 4, 2, 1)")


def main():
    if sys.argv[1:] == ["--selftest"]:
        return selftest()
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    m.add_argument("--dtype", choices=("bf16", "f32"), default="bf16")
    m.add_argument("--shards", type=int, default=2)
    m.add_argument("--vocab-size", type=int, default=380)
    m.add_argument("--embedding-size", type=int, default=384)
    m.add_argument("--d-model", type=int, default=32)
    m.add_argument("--n-layers", type=int, default=2)
    m.add_argument("--n-heads", type=int, default=4)
    m.add_argument("--n-kv-heads", type=int, default=2)
    m.add_argument("--mlp", type=int, default=48)
    m.add_argument("--max-seq", type=int, default=64)
    m.add_argument("--mask-id", type=int, default=None)
    m.add_argument("--eos-id", type=int, default=None)
    m.add_argument("--seed", type=int, default=1)
    p = sub.add_parser("parity")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--seq", type=int, default=13)
    p.add_argument("--seed", type=int, default=2)
    lo = sub.add_parser("lora")
    lo.add_argument("dir")
    lo.add_argument("out")
    lo.add_argument("--r", type=int, default=4)
    lo.add_argument("--alpha", type=float, default=8.0)
    lo.add_argument("--batch", type=int, default=3)
    lo.add_argument("--seq", type=int, default=13)
    lo.add_argument("--seed", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(1)
    {"make": make, "parity": parity, "lora": lora_parity}[a.cmd](a)


if __name__ == "__main__":
    main()
