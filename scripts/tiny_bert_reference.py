#!/usr/bin/env python3
"""Tiny random BERT sentence encoders and their reference embeddings (tooling only).

Lets the C++ encoder test configurations other than all-MiniLM-L6-v2's without the real model.
Writes three complete sentence-transformers folders under tests/text/data/tiny/<name>/:

  name        layers hidden heads inter. act.  ln eps  pooling  Normalize  lower case
  mean_norm   2      32     4     64     gelu  1e-12   mean     yes        yes
  cls_raw     3      48     3     32     gelu  1e-5    cls      no         yes
  max_cased   2      32     2     48     gelu  1e-12   max      yes        no (cased vocab hits)

All share one hand-made WordPiece vocabulary of VOCAB below (~190 tokens; [PAD] 0, [UNK] 1,
[CLS] 2, [SEP] 3, [MASK] 4 -- deliberately not BERT's 0/100/101/102/103), max_position_embeddings
32, max_seq_length 16 (so several texts are truncated). The weights are random (torch seed per
model), drawn wider than BERT's initialiser (weights N(0, 0.2), biases N(0, 0.1), LayerNorm gains
1 + N(0, 0.2)) so that attention is far from uniform and every parameter matters. cls_raw has
intermediate 32 and no pooler weights (BertModel(add_pooling_layer=False); sentence-transformers
never uses the pooler, and loading it logs that the pooler is newly initialised) to keep the folder
small (~220 KB: the requested 3 x 48 shape alone is ~195 KB of float32); the others have a pooler
like the real model. modules.json names 2_Normalize where Normalize is used, but the folder does
not exist (Normalize has no files; all-MiniLM-L6-v2 has none either).

Each folder: config.json, model.safetensors (float32), vocab.txt, tokenizer.json,
tokenizer_config.json, special_tokens_map.json, modules.json, sentence_bert_config.json,
config_sentence_transformers.json, 1_Pooling/config.json, and the reference:
  texts.txt      the TEXTS below, one per line, LF-separated (line 1 is the empty string)
  ids.txt        line i = token ids of text i with [CLS]/[SEP], truncated at 16, no padding
  reference.npy  float32 [n_texts, hidden], NumPy .npy 1.0, from SentenceTransformer(folder)
                 .encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)

The reference is computed by loading the saved folder with SentenceTransformer(folder), which
proves the folder loadable, and is checked against the in-memory model and against batch 1.

Usage: PY="$(scripts/python-env)"; OMP_NUM_THREADS=1 taskset -c 1 "$PY" scripts/tiny_bert_reference.py
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "text" / "data" / "tiny"

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list(".,!?'\"-:;()")
DIGITS = list("0123456789")
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
WORDS = ("the an is was are cat dog sat on mat bird fly flies sky blue red green house tree "
         "run walk quick brown fox jump over lazy hello world good morning night day sun moon "
         "star water fire earth music play book read write small big old new city river "
         "mountain sea ship car train road and of to in it").split()
PIECES = "##ed ##ing ##er ##ly ##est ##ness ##tion ##un ##re".split()
CASED = "The Hello World Paris London Monday Sun Moon".split()
UPPER = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
VOCAB = (SPECIALS + PUNCT + DIGITS + LETTERS + ["##" + c for c in LETTERS] + WORDS + PIECES
         + CASED + UPPER)

TEXTS = [
    "",
    "   ",
    "hello",
    "Hello",
    "The cat sat on the mat.",
    "the quick brown fox jumps over the lazy dog",
    "The quick brown fox jumps over the lazy dog and the lazy dog sleeps in the sun all day long.",
    "A bird flies in the blue sky.",
    "Hello, World!",
    "HELLO WORLD",
    "I read a good book on Monday.",
    "walking walked walker walks",
    "unreadable rewriting playfulness",
    "The river runs to the sea; the sea is big.",
    "3 cats, 2 dogs and 10 birds",
    "Paris and London are old cities.",
    "café naïve résumé",
    "Zürich is a city.",
    "東京 is a city.",
    "pizza 🍕 time",
    "zzz qqq xyzzy",
    "(hello) - [world] {sun}",
    "!!!???...",
    "a",
    "moon star sun earth fire water music play",
    "The old ship sailed on the green sea at night; the moon was red and the stars were small.",
    "Good morning, Sun! Good night, Moon!",
    "Tabs\tand  double  spaces",
    "car train road city house tree mountain river",
    "The dog's house is red.",
]

CONFIGS = {
    # name: (BertConfig kwargs, pooling mode, normalize, lower case, seed, pooler)
    "mean_norm": (dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                       intermediate_size=64, hidden_act="gelu", layer_norm_eps=1e-12),
                  "mean", True, True, 1, True),
    "cls_raw": (dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=3,
                     intermediate_size=32, hidden_act="gelu", layer_norm_eps=1e-5),
                "cls", False, True, 2, False),
    "max_cased": (dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2,
                       intermediate_size=48, hidden_act="gelu", layer_norm_eps=1e-12),
                  "max", True, False, 3, True),
}
MAX_SEQ_LENGTH = 16


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            noise = torch.randn(p.shape, generator=g)
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.2 * noise)


def build(name, folder: Path, texts):
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    bert_kwargs, pooling, normalize, lower, seed, pooler = CONFIGS[name]
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(VOCAB), max_position_embeddings=32, type_vocab_size=2,
                        pad_token_id=0, **bert_kwargs)
    bert = BertModel(config, add_pooling_layer=pooler)
    randomize(bert, seed)
    bert.eval()
    with tempfile.TemporaryDirectory(prefix="embedkit-tiny-") as tmp:
        hf = Path(tmp) / "hf"
        hf.mkdir()
        bert.save_pretrained(hf, safe_serialization=True)
        (hf / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
        tok = BertTokenizerFast(vocab_file=str(hf / "vocab.txt"), do_lower_case=lower,
                                strip_accents=None, tokenize_chinese_chars=True,
                                unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                                cls_token="[CLS]", mask_token="[MASK]",
                                model_max_length=MAX_SEQ_LENGTH)
        tok.save_pretrained(hf)
        transformer = models.Transformer(str(hf), max_seq_length=MAX_SEQ_LENGTH)
        modules = [transformer, models.Pooling(config.hidden_size, pooling_mode=pooling)]
        if normalize:
            modules.append(models.Normalize())
        st = SentenceTransformer(modules=modules, device="cpu")
        if folder.exists():
            shutil.rmtree(folder)
        st.save(str(folder), create_model_card=False)
    config_file = folder / "config.json"  # name it, rather than leave the temporary path
    cfg = json.loads(config_file.read_text())
    cfg["_name_or_path"] = f"embedkit-tiny-{name}"
    config_file.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    empty = folder / "2_Normalize"  # Normalize saves nothing; git keeps no empty folder, and
    if empty.is_dir() and not any(empty.iterdir()):  # all-MiniLM-L6-v2 ships none either
        empty.rmdir()
    st.eval()
    expected = st.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)

    loaded = SentenceTransformer(str(folder), device="cpu")
    loaded.eval()
    emb = np.ascontiguousarray(
        loaded.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False),
        dtype=np.float32)
    emb1 = loaded.encode(texts, batch_size=1, convert_to_numpy=True, normalize_embeddings=False)
    if not np.array_equal(emb, expected):
        sys.exit(f"{name}: the reloaded folder does not give the in-memory model's embeddings")
    lines = []
    feats = loaded.tokenize(texts)
    for ids, mask in zip(feats["input_ids"].tolist(), feats["attention_mask"].tolist()):
        lines.append(" ".join(str(i) for i, m in zip(ids, mask) if m))
    (folder / "texts.txt").write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    (folder / "ids.txt").write_text("\n".join(lines) + "\n", encoding="ascii")
    np.save(folder / "reference.npy", emb)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    n_unk = sum(line.split().count("1") for line in lines)
    n_trunc = sum(len(line.split()) == MAX_SEQ_LENGTH for line in lines)
    norms = np.linalg.norm(emb, axis=1)
    print(f"{name:10s} {len(texts)} texts x {emb.shape[1]}: {size / 1024:.0f} KB, "
          f"{n_trunc} truncated, {n_unk} [UNK]; norms {norms.min():.4f}..{norms.max():.4f}; "
          f"|batch 32 - batch 1| max {np.abs(emb - emb1).max():.2g}; "
          f"{[type(m).__name__ for m in loaded]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    if len(set(VOCAB)) != len(VOCAB):
        sys.exit("VOCAB has duplicates")
    for name in CONFIGS:
        build(name, args.out / name, TEXTS)


if __name__ == "__main__":
    main()
