"""Minimal safetensors reader/writer (no dependency on the `safetensors` package).

File layout:
  8 bytes   little-endian u64 N (header length)
  N bytes   UTF-8 JSON: {"__metadata__": {str: str}, "<name>": {"dtype", "shape", "data_offsets"}}
            (padded with spaces so that N is a multiple of 8)
  data      raw little-endian tensor bytes; data_offsets are relative to the end of the header.

Supported dtypes: F32, F64, I32, I64, U8, and BF16 (read widened to float32; written from a
torch.bfloat16 tensor).
"""

import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read(path):
    """Returns (tensors: dict name -> numpy array, metadata: dict str -> str)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: file too short")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} exceeds file size {len(raw)}")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    meta = header.pop("__metadata__", None) or {}
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt == "BF16":
            shape = [int(s) for s in info["shape"]]
            b, e = (int(o) for o in info["data_offsets"])
            count = int(np.prod(shape)) if shape else 1
            if e - b != 2 * count or base + e > len(raw):
                raise ValueError(f"{path}: tensor {name}: bad data_offsets {b},{e} for shape {shape} BF16")
            bits = np.frombuffer(raw, dtype="<u2", count=count, offset=base + b).astype(np.uint32) << 16
            out[name] = bits.view(np.float32).reshape(shape).copy()
            continue
        if dt not in _DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        dtype = _DTYPES[dt]
        shape = [int(s) for s in info["shape"]]
        b, e = (int(o) for o in info["data_offsets"])
        count = int(np.prod(shape)) if shape else 1
        if e - b != count * dtype.itemsize or base + e > len(raw):
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {b},{e} for shape {shape} {dt}")
        arr = np.frombuffer(raw, dtype=dtype, count=count, offset=base + b).reshape(shape)
        out[name] = arr.astype(dtype.newbyteorder("="), copy=True)
    return out, meta


def write(path, tensors, metadata=None):
    """Writes dict name -> numpy array (dtypes F32/F64/I32/I64/U8). Names are written sorted."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name]
        if type(t).__module__ == "torch" and str(t.dtype) == "torch.bfloat16":
            import torch  # only callers that write BF16 need torch

            data = t.contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
            header[name] = {"dtype": "BF16", "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
            blobs.append(data)
            off += len(data)
            continue
        arr = np.asarray(t)
        dtype = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
        if dtype not in _NAMES:
            raise ValueError(f"tensor {name}: unsupported dtype {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
        header[name] = {
            "dtype": _NAMES[dtype],
            "shape": list(arr.shape),
            "data_offsets": [off, off + len(data)],
        }
        blobs.append(data)
        off += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
