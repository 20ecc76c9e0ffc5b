#!/usr/bin/env python3
"""The reference BERT tokenizer (tokenizers 0.19.1 through transformers 4.44.2's
BertTokenizerFast) for embedkit's WordPiece tests, and the reference ids of the test corpus.

Usage (with the pinned venv, PY="$(scripts/python-env)"):
  $PY scripts/tokenizer_reference.py [--model models/all-MiniLM-L6-v2]
      [--corpus tests/text/data/corpus.txt] [--out tests/text/data/corpus_ids.txt]

Writes, for every line of the corpus (escaped as scripts/make_tokenizer_corpus.py writes it),
the FNV-1a 64 hash of the reference encoding (ids and byte offsets, max_length 256 with
truncation, [CLS]/[SEP] added) and, for every 64th line and every 4th line whose encoding
was truncated, the ids themselves; then small corpora encoded under the other option sets
(lowercase off, strip_accents on/off, tokenize_chinese_chars off, clean_text off).
The module is also imported by make_unicode_tables.py (reference_tokenizer, encode_bytes).
"""
import argparse
import os
import struct
import sys

# The configurations the tests cover: name -> (lowercase, strip_accents, chinese, clean_text).
# strip_accents None follows lowercase, as the reference does.
CONFIGS = {
    "default": (True, None, True, True),
    "cased": (False, None, True, True),
    "lower_keep_accents": (True, False, True, True),
    "cased_strip_accents": (False, True, True, True),
    "no_chinese": (True, None, False, True),
    "no_clean": (True, None, True, False),
}

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


def fnv1a64(data, h=FNV_OFFSET):
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def reference_tokenizer(model_dir, config="default"):
    """BertTokenizerFast for model_dir with the options of CONFIGS[config]; clean_text, which
    BertTokenizerFast does not expose, is set on its backend's BertNormalizer."""
    from tokenizers import normalizers
    from transformers import BertTokenizerFast

    lower, strip, chinese, clean = CONFIGS[config]
    tok = BertTokenizerFast.from_pretrained(
        model_dir, do_lower_case=lower, strip_accents=strip, tokenize_chinese_chars=chinese
    )
    backend = tok.backend_tokenizer
    backend.normalizer = normalizers.BertNormalizer(
        clean_text=clean, handle_chinese_chars=chinese, strip_accents=strip, lowercase=lower
    )
    return tok


def encode_bytes(tok, texts, max_length=None):
    """Encodes texts with the reference; returns per text (ids, byte offsets) with [CLS]/[SEP]
    added, truncated to max_length (counting [CLS]/[SEP]) when given."""
    backend = tok.backend_tokenizer
    backend.no_padding()
    if max_length is None:
        backend.no_truncation()
    else:
        backend.enable_truncation(max_length)
    out = []
    for text, enc in zip(texts, backend.encode_batch(texts, add_special_tokens=True)):
        # The Python binding reports offsets in characters; convert them to UTF-8 bytes.
        prefix = [0]
        for ch in text:
            prefix.append(prefix[-1] + len(ch.encode("utf-8")))
        offsets = [(prefix[s], prefix[e]) for s, e in enc.offsets]
        out.append((list(enc.ids), offsets))
    return out


def encoding_hash(ids, offsets, h=FNV_OFFSET):
    """FNV-1a 64 over little-endian uint32s: count, then id, start, end per token."""
    words = [len(ids)]
    for i, (s, e) in zip(ids, offsets):
        words += [i, s, e]
    return fnv1a64(struct.pack("<%dI" % len(words), *words), h)


def unescape(line):
    out = []
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            n = line[i + 1]
            out.append({"n": "\n", "r": "\r", "0": "\0", "\\": "\\"}[n])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_corpus(path):
    with open(path, "rb") as f:
        raw = f.read().decode("utf-8")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [unescape(l) for l in lines]


def bench(args):
    import time

    texts = read_corpus(args.corpus)
    backend = reference_tokenizer(args.model).backend_tokenizer
    backend.no_padding()
    backend.enable_truncation(args.max_length)
    for name, lines in (("corpus_mixed", texts),
                        ("corpus_ascii", [t for t in texts if all(ord(c) < 128 for c in t)])):
        best = None
        for _ in range(5):
            t0 = time.process_time()
            encs = backend.encode_batch(lines, add_special_tokens=True)
            dt = time.process_time() - t0
            best = dt if best is None else min(best, dt)
        n = sum(len(e.ids) for e in encs)
        print("wordpiece/reference/%s: %d lines, %d tokens, %.3f M tokens/s (CPU time)"
              % (name, len(lines), n, n / best / 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--corpus", default="tests/text/data/corpus.txt")
    ap.add_argument("--out", default="tests/text/data/corpus_ids.txt")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--config-lines", type=int, default=400,
                    help="lines of the corpus (every k-th) encoded under each other configuration")
    ap.add_argument("--bench", action="store_true",
                    help="only time the reference (tokens/s, CPU time, best of 5) on the corpus "
                         "and its ASCII lines; run with RAYON_NUM_THREADS=1 for one thread")
    args = ap.parse_args()
    if args.bench:
        return bench(args)

    import tokenizers
    import transformers

    texts = read_corpus(args.corpus)
    out = []
    out.append("# Reference encodings of %s (tokenizers %s, transformers %s BertTokenizerFast, %s)."
               % (os.path.basename(args.corpus), tokenizers.__version__, transformers.__version__,
                  os.path.basename(os.path.normpath(args.model))))
    out.append("# Generated by: scripts/tokenizer_reference.py (see its --help). Lines:")
    out.append("#   config <name> <max_length> <lowercase> <strip_accents> <chinese> <clean_text>")
    out.append("#   h <line> <fnv1a64 of count,(id,start,end)... as LE uint32, hex>")
    out.append("#   ids <line> <id> <id> ...   (byte offsets are only in the hash)")
    tri = {True: "1", False: "0", None: "-"}
    for name in CONFIGS:
        tok = reference_tokenizer(args.model, name)
        if name == "default":
            chosen = list(range(len(texts)))
        else:
            step = max(1, len(texts) // args.config_lines)
            chosen = list(range(0, len(texts), step))
        encs = encode_bytes(tok, [texts[i] for i in chosen], args.max_length)
        lower, strip, chinese, clean = CONFIGS[name]
        out.append("config %s %d %s %s %s %s" % (name, args.max_length, tri[lower], tri[strip],
                                                  tri[chinese], tri[clean]))
        for k, (i, (ids, offs)) in enumerate(zip(chosen, encs)):
            out.append("h %d %016x" % (i, encoding_hash(ids, offs)))
            if name == "default" and (i % 64 == 0 or (len(ids) == args.max_length and i % 4 == 0)):
                out.append("ids %d %s" % (i, " ".join(map(str, ids))))
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    print("wrote %s (%d bytes, %d lines of corpus)" % (args.out, os.path.getsize(args.out), len(texts)))


if __name__ == "__main__":
    sys.exit(main())
