#!/usr/bin/env python3
"""Reference values of the multiple negatives ranking loss, computed by PyTorch.

Writes tests/nn/data/mnrl_reference.txt, which tests/nn/test_loss.cpp reads (no Python at test
time). The loss is sentence-transformers' MultipleNegativesRankingLoss written out with torch:

    scores = scale * normalize(anchors) @ normalize(positives).T     (util.cos_sim)
    loss   = cross_entropy(scores, arange(n))                        (mean over the anchors)

in float64, with autograd's gradients with respect to the anchors and the positives. The inputs
are fixed literals (no random numbers), so the file changes only when this script does.

Needs torch: Debian's python3-torch (apt-get install python3-torch), run with the system
interpreter or a venv made with `python3 -m venv --system-site-packages`:
    /usr/bin/python3 scripts/mnrl_reference.py [output]

File format, one record per line, whitespace-separated, '#' lines are comments:
    case NAME N D SCALE
    anchors      N*D values (row-major)
    positives    N*D values
    loss         1 value
    grad_anchors N*D values
    grad_positives N*D values
"""

import sys
from pathlib import Path

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # say so rather than write a file that was not computed by torch
    sys.exit("scripts/mnrl_reference.py: torch is not importable; install python3-torch")

CASES = [
    # name, scale, anchors, positives
    ("default_scale", 20.0,
     [[0.5, -1.25, 2.0], [1.5, 0.25, -0.75], [-0.3, 0.8, 0.6], [2.2, -0.4, 1.1]],
     [[0.45, -1.0, 1.7], [1.2, 0.5, -0.9], [-0.6, 0.7, 0.2], [0.1, -2.0, 0.3]]),
    ("small_scale", 1.5,
     [[1.0, 2.0, -1.0, 0.5, 0.0], [-0.5, 0.25, 3.0, -2.0, 1.0], [0.75, -1.5, 0.5, 0.5, -0.25]],
     [[0.9, 1.8, -0.7, 0.4, 0.2], [-1.0, 0.5, 2.0, -1.5, 0.5], [2.0, 0.0, -1.0, 1.0, 1.0]]),
]


def fmt(t):
    return " ".join(repr(float(x)) for x in t.reshape(-1).tolist())


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parent.parent / "tests" / "nn" / "data" / "mnrl_reference.txt"
    lines = [f"# Written by scripts/mnrl_reference.py with torch {torch.__version__}; do not edit.",
             "# sentence-transformers' MultipleNegativesRankingLoss: cross_entropy(scale * cos_sim(a, p), arange(n))"]
    for name, scale, a_list, p_list in CASES:
        a = torch.tensor(a_list, dtype=torch.float64, requires_grad=True)
        p = torch.tensor(p_list, dtype=torch.float64, requires_grad=True)
        scores = scale * (F.normalize(a, p=2, dim=1) @ F.normalize(p, p=2, dim=1).T)
        loss = F.cross_entropy(scores, torch.arange(a.shape[0]))
        loss.backward()
        n, d = a.shape
        lines += [f"case {name} {n} {d} {scale!r}",
                  "anchors " + fmt(a.detach()),
                  "positives " + fmt(p.detach()),
                  "loss " + repr(loss.item()),
                  "grad_anchors " + fmt(a.grad),
                  "grad_positives " + fmt(p.grad)]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
