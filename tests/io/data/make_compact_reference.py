#!/usr/bin/python3
"""Writes the compact-set cross-check files that tests/io/test_compact_npy.cpp reads: numpy's
own encoding of one float32 set in each compact form (no Python at test time).

  compact_x.npy                   <f4 (7, 21): the input (a fixed seed; zeros, ties, large
                                  and tiny values planted)
  compact_f16.npy                 <f2: x.astype(np.float16)
  compact_bf16.npy                <u2: bfloat16 bits, rounded to nearest, ties to even
  compact_int8.npy                |i1: per-row symmetric codes, np.rint(x / s), s = max|x| / 127
  compact_int8.scales.npy         <f4 (7,): the scales
  compact_int8.norms.npy          <f4 (7,): L2 norms of the decoded rows, summed in float64
  compact_f16.norms.npy, compact_bf16.norms.npy: the same for f16 and bf16
  compact_bin.npy                 |u1 (7, 3): np.packbits(x > 0, axis=1)

Run from this folder with numpy (Debian's python3-numpy, or scripts/python-env):
  python3 make_compact_reference.py      (made with numpy 1.24.2)
"""
import numpy as np

rng = np.random.default_rng(20261204)
x = rng.standard_normal((7, 21)).astype(np.float32)
x[1] = 0.0                                   # a zero row
x[2, :4] = [1.0009765625, 1.0029296875, -3e-8, 65504.0]  # f16 ties (to even) and extremes
x[3, :3] = [1.00390625, 1.01171875, -1e-40]  # bf16 ties, a float subnormal
x[4] = np.float32(127.0) * np.linspace(-1, 1, 21, dtype=np.float32)  # codes on the grid

def norms(decoded):
    return np.sqrt(np.sum(decoded.astype(np.float64) ** 2, axis=1)).astype(np.float32)

f16 = x.astype(np.float16)
bits = x.view(np.uint32).astype(np.uint64)
bf16 = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
scale = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
safe = np.where(scale > 0, scale, np.float32(1))
codes = np.where(scale[:, None] > 0, np.rint(x / safe[:, None]), 0)
codes = np.clip(codes, -127, 127).astype(np.int8)
assert bf16.dtype.str == "<u2" and codes.dtype.str == "|i1" and f16.dtype.str == "<f2"

np.save("compact_x.npy", x)
np.save("compact_f16.npy", f16)
np.save("compact_f16.norms.npy", norms(f16.astype(np.float32)))
np.save("compact_bf16.npy", bf16)
np.save("compact_bf16.norms.npy", norms((bf16.astype(np.uint32) << 16).view(np.float32)))
np.save("compact_int8.npy", codes)
np.save("compact_int8.scales.npy", scale)
np.save("compact_int8.norms.npy", norms(codes.astype(np.float32) * scale[:, None]))
np.save("compact_bin.npy", np.packbits(x > 0, axis=1))
