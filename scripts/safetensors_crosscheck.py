#!/usr/bin/env python3
"""Cross-checks embedkit's safetensors reader and writer against the Python library.

Writes, with safetensors 0.4.4 (scripts/python-env), the reference files that
tests/io/test_safetensors.cpp reads (no Python at test time):

  tests/io/data/st_dtypes.safetensors    one small tensor of every dtype embedkit knows (F64 F32
                                         F16 BF16 I64 I32 I16 I8 U8 BOOL), a scalar, an empty
                                         tensor and metadata {"format": "pt"}; the test writes
                                         the same tensors with write_safetensors and requires
                                         the same bytes.
  tests/io/data/st_patterns.safetensors  1024 F16 and 1024 BF16 bit patterns (zeros,
                                         subnormals, normals, infinities, NaNs of both signs,
                                         then random patterns from a fixed seed) and torch's
                                         float32 conversion of each ("f16_as_f32",
                                         "bf16_as_f32").

Options:
  --model DIR   print a few values of DIR/model.safetensors (all-MiniLM-L6-v2), to compare
                with what embedkit reads
  --ours FILE   load FILE (written by embedkit) with safetensors.torch.load_file and print
                every tensor, so Python's reader is shown to accept embedkit's files

Usage: PY="$(scripts/python-env)"; "$PY" scripts/safetensors_crosscheck.py [--model DIR]
       [--ours FILE]
"""
import argparse
import os

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "io", "data")


def patterns(exponent_bits, fraction_bits, seed):
    """1024 16-bit patterns: both signs x the exponents 0, 1, 2, the middle one, max - 1 and max
    (zeros, subnormals, normals, infinities, NaNs) x fractions 0, 1, 2, a third, half - 1, half,
    half + 1, max - 1, max; then random patterns from a fixed seed."""
    top = (1 << exponent_bits) - 1
    half = 1 << (fraction_bits - 1)
    fractions = [0, 1, 2, (1 << fraction_bits) // 3, half - 1, half, half + 1,
                 (1 << fraction_bits) - 2, (1 << fraction_bits) - 1]
    exponents = [0, 1, 2, top // 2, top - 1, top]
    bits = [(s << 15) | (e << fraction_bits) | f for s in (0, 1) for e in exponents
            for f in fractions]
    rng = np.random.default_rng(seed)
    bits += [int(b) for b in rng.integers(0, 1 << 16, size=1024 - len(bits))]
    return torch.from_numpy(np.array(bits, dtype=np.uint16).view(np.int16))


def write_references():
    f16 = patterns(5, 10, 20261204).view(torch.float16)
    bf16 = patterns(8, 7, 20261205).view(torch.bfloat16)
    save_file({"f16": f16, "f16_as_f32": f16.float(), "bf16": bf16, "bf16_as_f32": bf16.float()},
              os.path.join(DATA, "st_patterns.safetensors"),
              metadata={"made_by": "scripts/safetensors_crosscheck.py"})
    tensors = {
        "f64": torch.tensor([1.5, -2.25], dtype=torch.float64),
        "f32": (torch.arange(6, dtype=torch.float32) * 0.5 - 1).reshape(2, 3),
        "f16": torch.tensor([1.0, -0.5, 65504.0], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.0, 0.15625], dtype=torch.bfloat16),
        "i64": torch.tensor([[0, 1, -2, 1 << 62]], dtype=torch.int64),
        "i32": torch.tensor([-1, 0, 2**31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, 7], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(3.0, dtype=torch.float32),
        "empty": torch.zeros((0, 4), dtype=torch.float32),
    }
    save_file(tensors, os.path.join(DATA, "st_dtypes.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(DATA, "st_dtypes.safetensors"), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        print("st_dtypes header (%d bytes):" % n, f.read(n).decode())


def show_model(folder):
    path = os.path.join(folder, "model.safetensors")
    with safe_open(path, "np") as f:
        names = list(f.keys())
        print(path, len(names), "tensors, metadata", f.metadata())
        q = f.get_tensor("encoder.layer.0.attention.self.query.weight")
        print("query.weight", q.shape, q[0, 0], q[1, 2], q[383, 383])
        b = f.get_tensor("embeddings.LayerNorm.bias")
        print("embeddings.LayerNorm.bias", b.shape, b[0], b[383])
        p = f.get_tensor("embeddings.position_ids")
        print("embeddings.position_ids", p.dtype, p.shape, p[0, 0], p[0, 511])


def show_ours(path):
    for name, t in load_file(path).items():
        print(name, t.dtype, tuple(t.shape), t.flatten()[:4].tolist())


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model")
    ap.add_argument("--ours")
    args = ap.parse_args()
    write_references()
    if args.model:
        show_model(args.model)
    if args.ours:
        show_ours(args.ours)
