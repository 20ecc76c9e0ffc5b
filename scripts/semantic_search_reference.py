#!/usr/bin/env python3
"""The semantic-search demo set and its all-MiniLM-L6-v2 reference ranking (tooling only).

Writes tests/text/data/search_demo.txt (the demo's built-in passages and questions, written for
embedkit, plain ASCII) and tests/text/data/search_demo_reference.txt (the top-3 passages of each
question according to sentence-transformers 3.0.1 with models/all-MiniLM-L6-v2).

search_demo.txt: UTF-8 (ASCII in practice), LF line ends, one record per line,
    P<TAB>passage text        passages, numbered 0, 1, 2, ... in file order
    Q<TAB>question text       questions, numbered 0, 1, 2, ... in file order
    # ...                     comment (ignored); no other kinds of lines

search_demo_reference.txt: '#' lines are comments, then one line per question, in order:
    Q<TAB>q<TAB>p1 s1<TAB>p2 s2<TAB>p3 s3<TAB>question text
where p1, p2, p3 are passage numbers by decreasing score and s = cosine score printed with
%.7f: the dot product of the two normalised embeddings (the model ends with Normalize), as
computed by sentence_transformers.util.semantic_search(top_k=3) on encode(batch_size=32) outputs.
The script fails unless every question's best passage is the one it was written for (ANSWERS)
and the gaps between consecutive scores of the top 3, and between the 3rd and the 4th, are all
>= 1e-4, so that a ranking check is stable against float noise.

Usage: PY="$(scripts/python-env)"; OMP_NUM_THREADS=1 taskset -c 1 "$PY" scripts/semantic_search_reference.py
"""

import argparse
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "text" / "data"

# Written for embedkit (facts are common knowledge; the wording is ours).
PASSAGES = [
    "The Pacific Ocean is the largest and deepest of Earth's oceans, covering about a third of the planet's surface.",
    "Honeybees communicate the location of flowers to their hive mates by performing a waggle dance.",
    "The Great Wall of China was built over many centuries to protect northern borders from invasions.",
    "Photosynthesis lets green plants turn sunlight, water and carbon dioxide into sugar and oxygen.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level at 8,849 metres.",
    "The human heart has four chambers and pumps blood through the body about seventy times a minute.",
    "Johann Sebastian Bach was a German composer of the Baroque period known for his fugues and cantatas.",
    "Water boils at 100 degrees Celsius at sea level, but at a lower temperature high in the mountains.",
    "The first successful powered aeroplane flight was made by the Wright brothers in 1903.",
    "Penguins are flightless seabirds that live almost exclusively in the Southern Hemisphere.",
    "A leap year has 366 days, adding February 29 to keep the calendar in step with the seasons.",
    "Copper is an excellent conductor of electricity, which is why it is used in most household wiring.",
    "The Amazon rainforest produces a large share of the world's oxygen and is home to countless species.",
    "Chess is a board game for two players in which each side tries to checkmate the opposing king.",
    "Bread rises because yeast ferments sugars in the dough and releases bubbles of carbon dioxide.",
    "The Moon orbits Earth roughly every 27 days and always shows the same face to us.",
    "Vaccines train the immune system to recognise a germ without causing the disease itself.",
    "The Sahara is the largest hot desert in the world, stretching across much of North Africa.",
    "Lighthouses warn ships of dangerous coasts with a bright light that can be seen from far away.",
    "Python is a programming language that is popular for data analysis and quick scripting.",
]

QUESTIONS = [
    ("Which is the biggest ocean on Earth?", 0),
    ("How do bees tell each other where flowers are?", 1),
    ("What is the tallest mountain in the world?", 4),
    ("Who made the first aeroplane flight?", 8),
    ("Why does bread dough get bigger?", 14),
    ("Which metal is used for electrical wires in houses?", 11),
    ("How often does the Moon go around the Earth?", 15),
    ("How do vaccines protect people?", 16),
]
MIN_GAP = 1e-4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from sentence_transformers import SentenceTransformer, util

    for t in PASSAGES + [q for q, _ in QUESTIONS]:
        if not t.isascii() or "\t" in t or "\n" in t:
            sys.exit(f"not plain one-line ASCII: {t!r}")
    model = SentenceTransformer(str(args.model), device="cpu")
    kw = dict(batch_size=32, convert_to_numpy=True, normalize_embeddings=False,
              show_progress_bar=False)
    p_emb = model.encode(PASSAGES, **kw)
    q_emb = model.encode([q for q, _ in QUESTIONS], **kw)
    hits = util.semantic_search(torch.from_numpy(q_emb), torch.from_numpy(p_emb), top_k=4)

    with open(DATA / "search_demo.txt", "w", encoding="ascii", newline="\n") as f:
        f.write("# embedkit semantic-search demo set: P<TAB>passage (numbered from 0), "
                "Q<TAB>question (numbered from 0)\n")
        f.write("# Written by scripts/semantic_search_reference.py; do not edit.\n")
        for p in PASSAGES:
            f.write(f"P\t{p}\n")
        for q, _ in QUESTIONS:
            f.write(f"Q\t{q}\n")

    lines = ["# Top-3 passages per question, all-MiniLM-L6-v2 via sentence-transformers "
             "util.semantic_search (cosine = dot of normalised embeddings, %.7f).",
             "# Q<TAB>question number<TAB>passage score<TAB>passage score<TAB>passage score<TAB>question",
             "# Written by scripts/semantic_search_reference.py; do not edit."]
    min_gap = 1.0
    failed = False
    for qi, ((q, answer), h) in enumerate(zip(QUESTIONS, hits)):
        ids = [x["corpus_id"] for x in h]
        scores = [float(x["score"]) for x in h]
        # recompute by hand, in float64 from the float32 embeddings, to cross-check
        by_hand = (p_emb.astype(np.float64) @ q_emb[qi].astype(np.float64))
        order = list(np.argsort(-by_hand, kind="stable")[:4])
        if order != ids or np.abs(by_hand[ids] - scores).max() > 1e-6:
            sys.exit(f"question {qi}: util.semantic_search and the dot products disagree")
        gaps = [scores[i] - scores[i + 1] for i in range(3)]
        min_gap = min(min_gap, *gaps)
        ok = ids[0] == answer and min(gaps) >= MIN_GAP
        failed |= not ok
        print(f"Q{qi} {'ok ' if ok else 'BAD'} {q!r}: " + ", ".join(
            f"P{i} {s:.4f}" for i, s in zip(ids, scores)) + f"  (min gap {min(gaps):.4g})")
        lines.append(f"Q\t{qi}\t" + "\t".join(f"{i} {s:.7f}" for i, s in zip(ids[:3], scores[:3]))
                     + f"\t{q}")
    if failed:
        sys.exit("a question's best passage is not its answer, or a top-3 gap is < 1e-4")
    (DATA / "search_demo_reference.txt").write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"{len(PASSAGES)} passages, {len(QUESTIONS)} questions; smallest gap among the top 4: "
          f"{min_gap:.4g}")


if __name__ == "__main__":
    main()
