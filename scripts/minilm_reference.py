#!/usr/bin/env python3
"""Reference embeddings and token ids of all-MiniLM-L6-v2, computed by sentence-transformers.

Reads tests/text/data/minilm_sentences.txt (scripts/make_text_sentences.py; one text per line,
split on LF only) and writes, for the C++ encoder's tests (which never run Python):

  tests/text/data/minilm_reference.npy      float32 [n_texts, 384], C order, little endian,
                                            NumPy .npy format 1.0; row i = embedding of text i
  tests/text/data/minilm_reference_ids.txt  line i = the token ids of text i, space-separated,
                                            with [CLS] (101) first and [SEP] (102) last,
                                            truncated at max_seq_length 256, no padding

The encoder is SentenceTransformer("models/all-MiniLM-L6-v2", device="cpu") (sentence-transformers
3.0.1; the folder's modules.json chains Transformer -> mean Pooling -> Normalize), called as
encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False) in float32.
Note that tokenizer.json in the model folder says truncation 128 / padding 128, but
sentence-transformers tokenises with its own max_seq_length (256, sentence_bert_config.json).

Checks, printed: every norm is 1 (within 1e-5); a second batch-32 run is bit-identical; and the
maximum per-component difference between batch 32 and batch 1 (padding to the longest text of a
batch changes the order of float sums in torch's kernels), which bounds how exact a "<= X per
component" test can be.

Usage (one thread, as the machine is shared):
    PY="$(scripts/python-env)"
    OMP_NUM_THREADS=1 taskset -c 1 "$PY" scripts/minilm_reference.py
"""

import argparse
import os
import platform
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy/torch load their BLAS
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "text" / "data"


def read_texts(path: Path):
    raw = path.read_text(encoding="utf-8")
    if not raw.endswith("\n"):
        sys.exit(f"{path} must end with LF")
    return raw[:-1].split("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    ap.add_argument("--texts", type=Path, default=DATA / "minilm_sentences.txt")
    ap.add_argument("--out-npy", type=Path, default=DATA / "minilm_reference.npy")
    ap.add_argument("--out-ids", type=Path, default=DATA / "minilm_reference_ids.txt")
    ap.add_argument("--skip-batch1", action="store_true", help="skip the batch-1 comparison")
    args = ap.parse_args()

    torch.set_num_threads(1)
    import sentence_transformers
    import tokenizers
    import transformers
    from sentence_transformers import SentenceTransformer

    if not (args.model / "model.safetensors").exists():
        sys.exit(f"{args.model} is missing: run scripts/get-model")
    texts = read_texts(args.texts)
    model = SentenceTransformer(str(args.model), device="cpu")
    model.eval()
    print(f"model: {args.model.name}, max_seq_length {model.max_seq_length}, modules "
          f"{[type(m).__name__ for m in model]}")

    def encode(batch_size):
        e = model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                         normalize_embeddings=False, show_progress_bar=False)
        return np.ascontiguousarray(e, dtype=np.float32)

    emb = encode(32)
    emb2 = encode(32)
    norms = np.linalg.norm(emb.astype(np.float64), axis=1)
    print(f"{emb.shape[0]} texts x {emb.shape[1]}, float32; norms in [{norms.min():.9f}, "
          f"{norms.max():.9f}]")
    if np.abs(norms - 1).max() > 1e-5:
        sys.exit("a norm is not 1")
    print(f"batch 32 twice: max |difference| {np.abs(emb - emb2).max():.3g} "
          f"({'bit-identical' if np.array_equal(emb, emb2) else 'NOT identical'})")
    if not args.skip_batch1:
        emb1 = encode(1)
        d = np.abs(emb - emb1)
        worst = int(d.max(axis=1).argmax())
        print(f"batch 32 vs batch 1: max |difference| per component {d.max():.3g}, "
              f"mean {d.mean():.3g}, 99.9th percentile {np.quantile(d, 0.999):.3g}; "
              f"min cosine {float((emb.astype(np.float64) * emb1).sum(1).min()):.9f}; "
              f"worst text #{worst} ({len(texts[worst])} chars)")

    # Token ids as the model sees them (same call as encode's: Transformer.tokenize, 256 max).
    lines = []
    for start in range(0, len(texts), 64):
        feats = model.tokenize(texts[start:start + 64])
        for ids, mask in zip(feats["input_ids"].tolist(), feats["attention_mask"].tolist()):
            lines.append(" ".join(str(i) for i, m in zip(ids, mask) if m))
    n_trunc = sum(len(line.split()) == model.max_seq_length for line in lines)
    print(f"token ids: {n_trunc} texts truncated at {model.max_seq_length} tokens, "
          f"lengths {min(len(line.split()) for line in lines)}..{max(len(line.split()) for line in lines)}")

    args.out_npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out_npy, emb)
    args.out_ids.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"wrote {args.out_npy} and {args.out_ids}")
    blas = [line.strip().split(",")[0] for line in torch.__config__.show().splitlines()
            if "BLAS_INFO" in line]
    # shared libraries mapped in this process (scipy, imported by sentence-transformers, brings
    # its own OpenBLAS copy too; torch's BLAS calls go to the libblas.so.3 it was linked with)
    blas += sorted({line.split()[-1].rsplit("/", 1)[-1] for line in open("/proc/self/maps")
                    if any(k in line.split()[-1].rsplit("/", 1)[-1]
                           for k in ("libblas", "libopenblas", "libdnnl", "libmkl"))})
    print(f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
          f"sentence-transformers {sentence_transformers.__version__}, transformers "
          f"{transformers.__version__}, tokenizers {tokenizers.__version__}")
    print("torch BLAS: " + " | ".join(blas))


if __name__ == "__main__":
    main()
