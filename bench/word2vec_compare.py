#!/usr/bin/env python3
"""Word2Vec: embedkit against gensim on the same corpus, settings and question subset (tooling).

The recorded run of docs/BENCHMARKS.md ("Word vectors"). For each model (skip-gram, CBOW) and
seed, in this order and one process at a time:
  embedkit, one thread   the word2vec example (--threads 1), pinned to --core
  gensim, one thread     bench/word2vec_peers.py (the same settings; writes its vectors in
                         word2vec's binary format), pinned to --core
  embedkit, two threads  the word2vec example (--threads 2), not pinned (speed only)
Settings (the issue's): dim 100, window 5, negative 5, min_count 5, sample 1e-3, 5 epochs, learning
rate 0.025 (skip-gram) or 0.05 (CBOW) decaying linearly to 1e-4 of the start.

Quality is compared on the same questions: those whose four words are all among the 30,000 most
frequent words of BOTH runs' vectors. Both sides' vectors are read by gensim's
KeyedVectors.load_word2vec_format (so every run also cross-checks that gensim reads embedkit's
binary files) and scored by gensim's evaluate_word_analogies (3CosAdd, restrict_vocab=30000,
case-insensitive) and evaluate_word_pairs (WordSim-353, Spearman). embedkit's own evaluator
(the example's metrics.json) scores the questions its own top 30,000 words cover; those
figures are kept in the JSON too, for the one- and the two-thread runs.

Speed is raw corpus words (before subsampling) times epochs per wall-clock second of training
(vocabulary pass excluded), as both programs report it; gensim's effective-words figure too.
Medians over the seeds are compared with the issue's bars:
  analogy accuracy  >= gensim's - 1.0 point     WordSim-353 Spearman >= gensim's - 0.02
  one thread        >= 1.5x gensim's speed      two threads          >= 1.8x one thread

Usage (an otherwise idle machine of 2 cores; about 35 minutes for 5 seeds):
    PY="$(scripts/python-env)"
    "$PY" bench/word2vec_compare.py --example build/release/examples/word2vec \
        --corpus data/corpus/corpus.txt --analogies data/eval/questions-words.txt \
        --similarity data/eval/wordsim353.tsv --seeds 5 --out build/word2vec_compare
Prints one line per run and a summary table; writes OUT/summary.json. --unset-openblas runs
gensim with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from its environment (gensim calls
scipy's OpenBLAS for its level-1 products).
"""

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

BARS = {"analogy_points": 1.0, "wordsim": 0.02, "speed_1t": 1.5, "scaling_2t": 1.8}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run(cmd, log, env=None):
    with open(log, "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        sys.exit(f"word2vec_compare: {' '.join(cmd)} failed (status {done.returncode}); see {log}")


def train_embedkit(a, model, seed, threads, out_dir):
    cmd = [a.example, "--corpus", a.corpus, "--out", out_dir, "--model", model, "--seed", str(seed),
           "--threads", str(threads), "--epochs", str(a.epochs),
           "--eval-analogies", a.analogies, "--eval-similarity", a.similarity]
    if threads == 1:
        cmd = ["taskset", "-c", str(a.core)] + cmd
    run(cmd, out_dir + ".log")
    with open(os.path.join(out_dir, "metrics.json")) as f:
        return json.load(f)


def train_gensim(a, model, seed, save):
    peers = os.path.join(os.path.dirname(os.path.abspath(__file__)), "word2vec_peers.py")
    cmd = ["taskset", "-c", str(a.core), sys.executable, peers, "--corpus", a.corpus,
           "--model", model, "--seed", str(seed), "--threads", "1", "--epochs", str(a.epochs),
           "--save", save]
    env = dict(os.environ)
    if a.unset_openblas:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    log = save + ".log"
    run(cmd, log, env)
    with open(log) as f:
        lines = [l for l in f if l.startswith("{")]
    return json.loads(lines[-1])


def same_subset(a, gensim_bin, embedkit_bin):
    """Both vector files scored by gensim's evaluators on the questions both top-30k cover."""
    from gensim.models import KeyedVectors

    g = KeyedVectors.load_word2vec_format(gensim_bin, binary=True)
    e = KeyedVectors.load_word2vec_format(embedkit_bin, binary=True)
    both = set(g.index_to_key[:30000]) & set(e.index_to_key[:30000])
    keep = []
    with open(a.analogies, encoding="utf-8") as f:
        for line in f.read().splitlines():
            if line.startswith(":") or all(w in both for w in line.lower().split()):
                keep.append(line)
    fd, subset = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(keep) + "\n")
    out = {}
    try:
        for name, kv in (("gensim", g), ("embedkit", e)):
            acc, sections = kv.evaluate_word_analogies(subset, restrict_vocab=30000,
                                                       case_insensitive=True)
            total = next(s for s in sections if s["section"] == "Total accuracy")
            _, spearman, oov = kv.evaluate_word_pairs(a.similarity, restrict_vocab=len(kv),
                                                      case_insensitive=True)
            out[name] = {"analogy": acc,
                         "questions": len(total["correct"]) + len(total["incorrect"]),
                         "wordsim": float(spearman[0]), "wordsim_oov_percent": float(oov)}
    finally:
        os.unlink(subset)
    return out


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--example", required=True, help="embedkit's word2vec example")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--analogies", required=True, help="questions-words.txt")
    ap.add_argument("--similarity", required=True, help="wordsim353.tsv")
    ap.add_argument("--out", required=True, help="folder for the runs and summary.json")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--models", default="sg,cbow")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--core", type=int, default=1, help="core the one-thread runs are pinned to")
    ap.add_argument("--unset-openblas", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    import gensim

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip() != ""
    info = {"commit": commit + ("+dirty" if dirty else ""), "cpu": cpu_model(),
            "corpus_sha256": sha256(a.corpus), "gensim": gensim.__version__,
            "python": platform.python_version(), "epochs": a.epochs,
            "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            "gensim_openblas_env_unset": a.unset_openblas}
    print(json.dumps(info), flush=True)
    results = {}
    for model in a.models.split(","):
        rows = []
        for seed in range(1, a.seeds + 1):
            ek_dir = os.path.join(a.out, f"ek_{model}_{seed}")
            ek = train_embedkit(a, model, seed, 1, ek_dir)
            g_bin = os.path.join(a.out, f"gensim_{model}_{seed}.bin")
            gs = train_gensim(a, model, seed, g_bin)
            ek2 = train_embedkit(a, model, seed, 2, os.path.join(a.out, f"ek2_{model}_{seed}"))
            q = same_subset(a, g_bin, os.path.join(ek_dir, "vectors.bin"))
            row = {
                "model": model, "seed": seed,
                "embedkit_words_per_s": ek["raw_words_per_second"],
                "embedkit_effective_per_s": ek["effective_words_per_second"],
                "embedkit_2t_words_per_s": ek2["raw_words_per_second"],
                "gensim_words_per_s": gs["raw_words_per_second"],
                "gensim_effective_per_s": gs["effective_words_per_second"],
                "embedkit_analogy": q["embedkit"]["analogy"],
                "gensim_analogy": q["gensim"]["analogy"],
                "questions": q["embedkit"]["questions"],
                "embedkit_wordsim": q["embedkit"]["wordsim"],
                                "gensim_wordsim": q["gensim"]["wordsim"],
                "wordsim_oov_percent": {k: q[k]["wordsim_oov_percent"] for k in q},
                "embedkit_own_evaluator": {k: ek.get(k) for k in (
                    "analogy_accuracy", "analogy_covered", "wordsim_spearman", "wordsim_covered")},
                "embedkit_2t_own_evaluator": {k: ek2.get(k) for k in (
                    "analogy_accuracy", "analogy_covered", "wordsim_spearman")},
                "level": ek.get("level"),
            }
            if q["gensim"]["questions"] != row["questions"]:
                sys.exit("word2vec_compare: the two sides were scored on different questions")
            rows.append(row)
            print(json.dumps(row), flush=True)
        results[model] = rows

    summary = {"info": info, "bars": BARS, "runs": results, "medians": {}}
    ok = True
    print(f"\nmedians over {a.seeds} seeds (same question subset; gensim {gensim.__version__}; "
          f"commit {info['commit']}; {info['cpu']})")
    print("| model | engine | analogies % | WordSim-353 | raw words/s | effective words/s |")
    print("|---|---|---:|---:|---:|---:|")
    for model, rows in results.items():
        m = {k: median(rows, k) for k in rows[0]
             if k != "seed" and isinstance(rows[0][k], (int, float))}
        m["speed_1t"] = m["embedkit_words_per_s"] / m["gensim_words_per_s"]
        m["scaling_2t"] = m["embedkit_2t_words_per_s"] / m["embedkit_words_per_s"]
        checks = {
            "analogy": m["embedkit_analogy"] >= m["gensim_analogy"] - BARS["analogy_points"] / 100,
            "wordsim": m["embedkit_wordsim"] >= m["gensim_wordsim"] - BARS["wordsim"],
            "speed_1t": m["speed_1t"] >= BARS["speed_1t"],
            "scaling_2t": m["scaling_2t"] >= BARS["scaling_2t"],
        }
        ok = ok and all(checks.values())
        summary["medians"][model] = {"figures": m, "bars_met": checks}
        print(f"| {model} | gensim, 1 thread | {100 * m['gensim_analogy']:.2f} | "
              f"{m['gensim_wordsim']:.4f} | {m['gensim_words_per_s']:,.0f} | "
              f"{m['gensim_effective_per_s']:,.0f} |")
        print(f"| {model} | embedkit, 1 thread | {100 * m['embedkit_analogy']:.2f} | "
              f"{m['embedkit_wordsim']:.4f} | {m['embedkit_words_per_s']:,.0f} | "
              f"{m['embedkit_effective_per_s']:,.0f} |")
        print(f"| {model} | embedkit, 2 threads | | | {m['embedkit_2t_words_per_s']:,.0f} | |")
    for model, s in summary["medians"].items():
        f = s["figures"]
        print(f"{model}: {int(f['questions'])} questions; analogies "
              f"{100 * (f['embedkit_analogy'] - f['gensim_analogy']):+.2f} points, WordSim "
              f"{f['embedkit_wordsim'] - f['gensim_wordsim']:+.4f}, one thread "
              f"{f['speed_1t']:.2f}x gensim, two threads {f['scaling_2t']:.2f}x one; bars met: "
              + ", ".join(k for k, v in s["bars_met"].items() if v)
              + ("; NOT met: " + ", ".join(k for k, v in s["bars_met"].items() if not v)
                 if not all(s["bars_met"].values()) else ""))
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
