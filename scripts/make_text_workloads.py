#!/usr/bin/env python3
"""Writes the text-embedding benchmark workloads bench/data/text_short.txt and text_long.txt.

Deterministic from --seed (default 7), from the same Debian-derived WordNet 3.0 text as the
reference sentences (scripts/wordnet_text.py: wordnet-base 1:3.0-37, fetched with apt-get
download, sha256 checked, never installed). Lengths are counted in word pieces of the
all-MiniLM-L6-v2 tokenizer (models/all-MiniLM-L6-v2/tokenizer.json, scripts/get-model) WITHOUT
the [CLS] and [SEP] that the encoder adds:

  text_short.txt  1,000 sentences of 8..17 word pieces each (10..19 tokens with [CLS]/[SEP]):
                  WordNet usage examples and definitions written as sentences
  text_long.txt   100 passages of 120..136 word pieces each (122..138 tokens with [CLS]/[SEP]):
                  consecutive WordNet glosses and examples, one topic per passage

Format: UTF-8 (ASCII in practice), one text per line, LF line ends; no empty lines.
Usage: PY="$(scripts/python-env)"; "$PY" scripts/make_text_workloads.py [--seed 7]
"""

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wordnet_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHORT = (1000, 8, 17)
LONG = (100, 120, 136)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "data")
    args = ap.parse_args()

    from tokenizers import Tokenizer
    tok_file = ROOT / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
    if not tok_file.exists():
        sys.exit(f"{tok_file} is missing: run scripts/get-model")
    tok = Tokenizer.from_file(str(tok_file))
    tok.no_truncation()
    tok.no_padding()

    def pieces(text):
        return len(tok.encode(text, add_special_tokens=False).ids)

    rng = random.Random(args.seed)
    synsets = wordnet_text.load_synsets()

    candidates = sorted({wordnet_text.sentence_case(e) for s in synsets for e in s.examples}
                        | {wordnet_text.sentence_case(f"{s.lemmas[0]}: {s.definition}")
                           for s in synsets if s.definition})
    rng.shuffle(candidates)
    n, lo, hi = SHORT
    short = [t for t in candidates[:20 * n] if lo <= pieces(t) <= hi][:n]
    if len(short) < n:
        sys.exit("not enough short texts")

    n, lo, hi = LONG
    long_texts = []
    seen = set()
    while len(long_texts) < n:
        i = rng.randrange(len(synsets) - 200)
        parts, count = [], 0
        while count < lo:
            s = synsets[i]
            part = wordnet_text.sentence_case(f"{s.lemmas[0]}: {s.definition}")
            if s.examples:
                part += " " + " ".join(wordnet_text.sentence_case(e) for e in s.examples)
            parts.append(part)
            count = pieces(" ".join(parts))
            i += 1
        text = " ".join(parts)
        if count <= hi and text not in seen:
            seen.add(text)
            long_texts.append(text)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, texts in (("text_short.txt", short), ("text_long.txt", long_texts)):
        path = args.out_dir / name
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(t + "\n" for t in texts))
        lengths = [pieces(t) for t in texts]
        print(f"{path}: {len(texts)} texts, {min(lengths)}..{max(lengths)} word pieces "
              f"(mean {sum(lengths) / len(lengths):.1f}) without [CLS]/[SEP]")


if __name__ == "__main__":
    main()
