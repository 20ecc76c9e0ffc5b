#!/usr/bin/python3
"""Writes the float16 cross-check files that tests/io/test_npy.cpp reads (no Python at test time).

  f16_patterns.npy     <f2, 1-D: 1024 binary16 patterns: for each of the 64 sign/exponent
                       combinations the fractions 0, 1, 2, 0x155, 0x1ff, 0x200, 0x201, 0x3fe,
                       0x3ff (zeros, subnormals, normals, infinities, quiet and signalling NaNs),
                       then pseudo-random patterns from a fixed seed up to 1024.
  f16_patterns_f4.npy  <f4, 1-D: numpy's own conversion of the same array (astype(float32)).

Run from this folder with Debian's python3-numpy: ./make_f16_reference.py
Made with numpy 1.24.2, whose float16 -> float32 conversion keeps NaN payloads.
"""
import numpy as np

fractions = [0x000, 0x001, 0x002, 0x155, 0x1FF, 0x200, 0x201, 0x3FE, 0x3FF]
bits = [(se << 10) | f for se in range(64) for f in fractions]
rng = np.random.default_rng(20260412)
bits += [int(b) for b in rng.integers(0, 1 << 16, size=1024 - len(bits))]
halves = np.array(bits, dtype=np.uint16).view(np.float16)
assert halves.dtype.str == "<f2" and halves.shape == (1024,)
np.save("f16_patterns.npy", halves)
np.save("f16_patterns_f4.npy", halves.astype(np.float32))
