"""Reference (PyTorch) implementation of the LLaDA-style masked-diffusion transformer
used by the Go engine. Pure functional: parameters are a dict name -> tensor, so the
same code runs in float32 (benchmarks) and float64 (parity fixtures).

Architecture (pre-norm, no biases, untied head, bidirectional attention):
  x = wte[tokens]
  per block:
    h = rmsnorm(x, attn_norm); q,k,v = h @ W^T; RoPE (rotate-half, position = row index)
    o = softmax(q k^T / sqrt(Dh), keys with key_mask==0 -> -inf) v
    x = x + merge_heads(o) @ attn_out^T
    h2 = rmsnorm(x, ff_norm); x = x + (silu(h2 @ ff_proj^T) * (h2 @ up_proj^T)) @ ff_out^T
  logits = rmsnorm(x, ln_f) @ head^T
Loss = sum_{b,l} weights[b,l] * CE(logits[b,l], targets[b,l])  (natural log).
"""

import json
import math

import torch

import safetensors_io

FORMAT = "agrpo-go/v1"

CONFIG_KEYS = (
    "vocab_size",
    "d_model",
    "n_layers",
    "n_heads",
    "mlp_hidden_size",
    "max_sequence_length",
    "rope_theta",
    "rms_norm_eps",
    "mask_token_id",
    "eos_token_id",
    "pad_token_id",
)

BLOCK_PARAMS = (
    "attn_norm",
    "q_proj",
    "k_proj",
    "v_proj",
    "attn_out",
    "ff_norm",
    "ff_proj",
    "up_proj",
    "ff_out",
)


def parse_config(cfg):
    """Validates a config dict (from __metadata__["config"]) and normalises types."""
    if isinstance(cfg, str):
        cfg = json.loads(cfg)
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError(f"config is missing keys {missing}")
    out = dict(cfg)
    for k in CONFIG_KEYS:
        if k in ("rope_theta", "rms_norm_eps"):
            out[k] = float(cfg[k])
        else:
            out[k] = int(cfg[k])
    if out["d_model"] % out["n_heads"] != 0:
        raise ValueError("d_model must be divisible by n_heads")
    if (out["d_model"] // out["n_heads"]) % 2 != 0:
        raise ValueError("head dim must be even for RoPE")
    return out


def param_shapes(cfg):
    """Ordered dict name -> shape of every parameter (Linear weights are [out, in])."""
    V, D, F = cfg["vocab_size"], cfg["d_model"], cfg["mlp_hidden_size"]
    shapes = {"model.transformer.wte.weight": (V, D)}
    for i in range(cfg["n_layers"]):
        p = f"model.transformer.blocks.{i}."
        shapes[p + "attn_norm.weight"] = (D,)
        shapes[p + "q_proj.weight"] = (D, D)
        shapes[p + "k_proj.weight"] = (D, D)
        shapes[p + "v_proj.weight"] = (D, D)
        shapes[p + "attn_out.weight"] = (D, D)
        shapes[p + "ff_norm.weight"] = (D,)
        shapes[p + "ff_proj.weight"] = (F, D)
        shapes[p + "up_proj.weight"] = (F, D)
        shapes[p + "ff_out.weight"] = (D, F)
    shapes["model.transformer.ln_f.weight"] = (D,)
    shapes["model.transformer.ff_out.weight"] = (V, D)
    return shapes


def load_checkpoint(path, dtype=torch.float64, requires_grad=False):
    """Returns (cfg, params) from a Go-written checkpoint."""
    tensors, meta = safetensors_io.read(path)
    fmt = meta.get("format")
    if fmt != FORMAT:
        raise ValueError(f"{path}: __metadata__.format is {fmt!r}, want {FORMAT!r}")
    if "config" not in meta:
        raise ValueError(f"{path}: __metadata__ has no 'config'")
    cfg = parse_config(meta["config"])
    shapes = param_shapes(cfg)
    params = {}
    for name, shape in shapes.items():
        if name not in tensors:
            raise ValueError(f"{path}: missing tensor {name}")
        arr = tensors[name]
        if tuple(arr.shape) != tuple(shape):
            raise ValueError(f"{path}: {name} has shape {arr.shape}, want {shape}")
        t = torch.from_numpy(arr).to(dtype)
        params[name] = t.requires_grad_(requires_grad)
    extra = sorted(set(tensors) - set(shapes))
    if extra:
        raise ValueError(f"{path}: unexpected tensors {extra[:5]}")
    return cfg, params


def save_checkpoint(path, cfg, params):
    """Writes params as F32 with the agrpo-go/v1 metadata (used by the selftest)."""
    tensors = {k: v.detach().to(torch.float32).cpu().numpy() for k, v in params.items()}
    meta = {"format": FORMAT, "config": json.dumps({k: cfg[k] for k in CONFIG_KEYS})}
    safetensors_io.write(path, tensors, meta)


def init_params(cfg, generator=None, std=0.02, dtype=torch.float32, requires_grad=False):
    """Random params: N(0, std) for matrices, ones for norm weights."""
    params = {}
    for name, shape in param_shapes(cfg).items():
        if len(shape) == 1:
            t = torch.ones(shape, dtype=dtype)
        else:
            t = torch.randn(shape, generator=generator, dtype=torch.float64).mul_(std).to(dtype)
        params[name] = t.requires_grad_(requires_grad)
    return params


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * w


def rope_cos_sin(L, Dh, theta, dtype, device=None):
    """cos/sin tables [L, Dh] (the Dh/2 frequencies repeated twice: [c, c])."""
    i = torch.arange(Dh // 2, dtype=torch.float64, device=device)
    inv_freq = theta ** (-2.0 * i / Dh)
    pos = torch.arange(L, dtype=torch.float64, device=device)
    ang = pos[:, None] * inv_freq[None, :]  # [L, Dh/2]
    ang = torch.cat([ang, ang], dim=-1)  # [L, Dh]
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def apply_rope(x, cos, sin):
    # x [B, L, H, Dh]; cos/sin [L, Dh]
    return x * cos[None, :, None, :] + rotate_half(x) * sin[None, :, None, :]


def forward(cfg, params, tokens, key_mask):
    """tokens [B,L] int, key_mask [B,L] (nonzero = real key). Returns logits [B,L,V].

    Queries at padding positions are computed too (they attend to the real keys).
    A row whose keys are all padding yields NaN (softmax over all -inf)."""
    B, L = tokens.shape
    D, H = cfg["d_model"], cfg["n_heads"]
    Dh = D // H
    eps = cfg["rms_norm_eps"]
    wte = params["model.transformer.wte.weight"]
    dtype = wte.dtype
    x = wte[tokens.long()]  # [B, L, D]
    cos, sin = rope_cos_sin(L, Dh, cfg["rope_theta"], dtype, wte.device)
    keep = key_mask.to(torch.bool)[:, None, None, :]  # [B,1,1,Lk]
    scale = 1.0 / math.sqrt(Dh)
    for i in range(cfg["n_layers"]):
        p = f"model.transformer.blocks.{i}."
        h = rmsnorm(x, params[p + "attn_norm.weight"], eps)
        q = (h @ params[p + "q_proj.weight"].t()).view(B, L, H, Dh)
        k = (h @ params[p + "k_proj.weight"].t()).view(B, L, H, Dh)
        v = (h @ params[p + "v_proj.weight"].t()).view(B, L, H, Dh)
        q = apply_rope(q, cos, sin).transpose(1, 2)  # [B,H,L,Dh]
        k = apply_rope(k, cos, sin).transpose(1, 2)
        v = v.transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) * scale  # [B,H,Lq,Lk]
        scores = scores.masked_fill(~keep, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        o = (probs @ v).transpose(1, 2).reshape(B, L, D)
        x = x + o @ params[p + "attn_out.weight"].t()
        h2 = rmsnorm(x, params[p + "ff_norm.weight"], eps)
        g = torch.nn.functional.silu(h2 @ params[p + "ff_proj.weight"].t())
        u = h2 @ params[p + "up_proj.weight"].t()
        x = x + (g * u) @ params[p + "ff_out.weight"].t()
    x = rmsnorm(x, params["model.transformer.ln_f.weight"], eps)
    return x @ params["model.transformer.ff_out.weight"].t()


def weighted_ce(logits, targets, weights):
    """sum_{b,l} weights[b,l] * (logsumexp(logits[b,l]) - logits[b,l,targets[b,l]]).

    Targets at zero-weight positions may be anything (e.g. -100); they are clamped."""
    V = logits.shape[-1]
    t = targets.long()
    w = weights.to(logits.dtype)
    bad = ((t < 0) | (t >= V)) & (w != 0)
    if bool(bad.any()):
        raise ValueError("target out of range at a position with nonzero weight")
    t = t.clamp(0, V - 1)
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, t.unsqueeze(-1)).squeeze(-1)
    return ((lse - picked) * w).sum()
