#!/usr/bin/env python3
"""gensim's Word2Vec on the same corpus and settings as embedkit's word2vec example, for the
quality and speed comparison of docs/BENCHMARKS.md ("Word vectors").

Trains with corpus_file (gensim's own line reader: one sentence per line, at most 10,000 words),
the vocabulary pass excluded from the timing, and evaluates on the same files with the same
rules as embedkit: analogies over the 30,000 most frequent words (3CosAdd, query words excluded,
lower-cased), WordSim-353 Spearman over all words. Prints one JSON object per run.

  python bench/word2vec_peers.py --corpus data/corpus/corpus.txt --model sg --seed 1 \
      --analogies data/eval/questions-words.txt --similarity data/eval/wordsim353.tsv
"""
import argparse
import json
import platform
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--model", choices=["sg", "cbow"], default="sg")
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--analogies")
    ap.add_argument("--similarity")
    ap.add_argument("--save", help="write the vectors in word2vec's binary format here")
    a = ap.parse_args()

    import gensim
    from gensim.models import Word2Vec

    sg = a.model == "sg"
    alpha = 0.025 if sg else 0.05
    m = Word2Vec(vector_size=a.dim, window=a.window, negative=a.negative, hs=0,
                 min_count=a.min_count, sample=a.sample, sg=int(sg), cbow_mean=1,
                 alpha=alpha, min_alpha=alpha * 1e-4, workers=a.threads, seed=a.seed)
    t0 = time.perf_counter()
    m.build_vocab(corpus_file=a.corpus)
    vocab_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    effective, raw = m.train(corpus_file=a.corpus, total_examples=m.corpus_count,
                             total_words=m.corpus_total_words, epochs=a.epochs)
    seconds = time.perf_counter() - t0
    out = {
        "engine": "gensim", "gensim": gensim.__version__, "python": platform.python_version(),
        "model": a.model, "seed": a.seed, "threads": a.threads, "epochs": a.epochs,
        "vocabulary": len(m.wv), "vocab_seconds": vocab_seconds, "seconds": seconds,
        "raw_words": raw, "effective_words": effective,
        "raw_words_per_second": raw / seconds, "effective_words_per_second": effective / seconds,
    }
    if a.analogies:
        score, sections = m.wv.evaluate_word_analogies(a.analogies, restrict_vocab=30000,
                                                       case_insensitive=True)
        total = next(s for s in sections if s["section"] == "Total accuracy")
        out["analogy_accuracy"] = score
        out["analogy_covered"] = len(total["correct"]) + len(total["incorrect"])
        out["analogy_sections"] = {s["section"]: [len(s["correct"]), len(s["correct"]) + len(s["incorrect"])]
                                   for s in sections if s["section"] != "Total accuracy"}
    if a.similarity:
        pearson, spearman, oov = m.wv.evaluate_word_pairs(a.similarity, restrict_vocab=len(m.wv),
                                                          case_insensitive=True)
        out["wordsim_spearman"] = float(spearman[0])
        out["wordsim_oov_percent"] = float(oov)
    if a.save:
        m.wv.save_word2vec_format(a.save, binary=True)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
