#!/usr/bin/env python3
"""Compact-set search against FAISS, one thread, same data, same run (docs/BENCHMARKS.md).

For each storage and metric: FAISS's index (IndexScalarQuantizer QT_8bit and QT_fp16,
IndexBinaryFlat; IndexFlat for float32) against embedkit's top_k over the same rows
(bench/compact_topk), both timed on the whole search of every query; recall@k of both against
the exact float32 result (FAISS IndexFlat). Prints a table and writes JSON.

  taskset -c 1 build/venv-faiss/bin/python bench/compact_peers.py \\
      --ours build/bench/bench/compact_topk [--rows 1000000 --dim 384 --queries 1000]
      [--base EMB.npy]   # real embeddings (float32, rows x dim): the last --queries rows are
                         # the queries, the rows before them the base; random unit vectors
                         # otherwise

FAISS comes from PyPI's faiss-cpu 1.15.1 in its own venv (it needs numpy 2):
  python3 -m venv build/venv-faiss
  build/venv-faiss/bin/python -m pip install --no-deps numpy==2.2.6 packaging==24.2 faiss-cpu==1.15.1
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

# One thread for FAISS's OpenMP and for the BLAS inside its wheel (set before they load).
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import faiss  # noqa: E402
import numpy as np  # noqa: E402


def unit_rows(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1
    return (x / n).astype(np.float32)


def recall(found, truth, k):
    hits = 0
    for f, t in zip(found, truth):
        hits += len(set(f[:k].tolist()) & set(t[:k].tolist()))
    return hits / (len(truth) * k)


def timed_search(index, q, k, repeat=1):
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        _, idx = index.search(q, k)
        t = time.perf_counter() - t0
        best = t if best is None else min(best, t)
    return best, idx


def run_dim(a, dim, results):
    """Every storage and metric at one dimension; appends to results."""
    base_path = os.path.join(a.data, "base.npy")
    query_path = os.path.join(a.data, "queries.npy")
    if a.base:
        allrows = np.load(a.base, mmap_mode="r")
        base = np.ascontiguousarray(allrows[: len(allrows) - a.queries], dtype=np.float32)
        q = np.ascontiguousarray(allrows[len(allrows) - a.queries :], dtype=np.float32)
        source = a.base
    else:
        rng = np.random.default_rng(20261204)
        base = unit_rows(rng.standard_normal((a.rows, dim), dtype=np.float32))
        q = unit_rows(rng.standard_normal((a.queries, dim), dtype=np.float32))
        source = "random unit vectors (seed 20261204)"
    np.save(base_path, base)
    np.save(query_path, q)
    n, d = base.shape
    print(f"# {n} rows x {d}, {len(q)} queries, k={a.k}; data: {source}", flush=True)
    print(f"# faiss {faiss.__version__} ({faiss.get_compile_options().strip()}), numpy {np.__version__}, "
          f"{platform.processor() or platform.machine()}", flush=True)

    for metric in a.metrics.split(","):
        fm = faiss.METRIC_INNER_PRODUCT if metric == "dot" else faiss.METRIC_L2
        flat = faiss.IndexFlatIP(d) if metric == "dot" else faiss.IndexFlatL2(d)
        flat.add(base)
        t_exact, truth = timed_search(flat, q, a.k, a.repeat if "f32" in a.storages.split(",") else 1)
        for storage in a.storages.split(","):
            row = {"metric": metric, "storage": storage, "dim": d}
            if storage == "f32":
                row.update(faiss_seconds=t_exact, faiss_recall=1.0, faiss_index="IndexFlat")
            elif storage in ("int8", "f16"):
                qt = faiss.ScalarQuantizer.QT_8bit if storage == "int8" else faiss.ScalarQuantizer.QT_fp16
                index = faiss.IndexScalarQuantizer(d, qt, fm)
                index.train(base)
                index.add(base)
                t, idx = timed_search(index, q, a.k, a.repeat)
                row.update(faiss_seconds=t, faiss_recall=recall(idx, truth, a.k),
                           faiss_index="IndexScalarQuantizer(QT_8bit)" if storage == "int8"
                           else "IndexScalarQuantizer(QT_fp16)")
            elif storage == "binary":
                index = faiss.IndexBinaryFlat(d)
                index.add(np.packbits(base > 0, axis=1))
                t, idx = timed_search(index, np.packbits(q > 0, axis=1), a.k, a.repeat)
                row.update(faiss_seconds=t, faiss_recall=recall(idx, truth, a.k),
                           faiss_index="IndexBinaryFlat (Hamming)")
            out_path = os.path.join(a.data, f"ours_{storage}_{metric}.npy")
            cmd = [a.ours, "--base", base_path, "--queries", query_path, "--storage", storage,
                   "--metric", metric, "--k", str(a.k), "--repeat", str(a.repeat), "--out", out_path]
            ours = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            row.update(ours_seconds=ours["seconds"], ours_recall=recall(np.load(out_path), truth, a.k),
                       ours_kernels=ours["kernels"])
            if "faiss_seconds" in row:
                row["speedup"] = row["faiss_seconds"] / row["ours_seconds"]
            for r in [int(x) for x in a.rerank.split(",") if x] if storage != "f32" else []:
                cmd_r = cmd[:-2] + ["--rerank", str(r), "--out", out_path]
                o = json.loads(subprocess.run(cmd_r, check=True, capture_output=True, text=True).stdout)
                row.setdefault("rerank", []).append(
                    {"factor": r, "seconds": o["seconds"], "recall": recall(np.load(out_path), truth, a.k)})
            results.append(row)
            print(f"{d:4d} {metric:4s} {storage:7s} faiss {row.get('faiss_seconds', float('nan')):8.2f} s "
                  f"(recall {row.get('faiss_recall', float('nan')):.4f})  embedkit {row['ours_seconds']:8.2f} s "
                  f"(recall {row['ours_recall']:.4f})  speed vs faiss {row.get('speedup', float('nan')):.2f}x"
                  + "".join(f"  r={x['factor']}: {x['seconds']:.2f} s recall {x['recall']:.4f}"
                            for x in row.get("rerank", [])), flush=True)
    return n, d, source, q


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", required=True, help="path of bench/compact_topk")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", default="384", help="dimension, or a comma list run one after another")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--base", help="float32 .npy of real embeddings (queries held out at the end)")
    ap.add_argument("--data", default="build/compact_bench", help="folder for the .npy files")
    ap.add_argument("--storages", default="f32,int8,f16,binary")
    ap.add_argument("--metrics", default="dot,l2")
    ap.add_argument("--rerank", default="", help="comma list of re-ranking factors for our rows too")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many searches, both sides")
    ap.add_argument("--json", default="", help="write the results here")
    a = ap.parse_args()

    faiss.omp_set_num_threads(1)
    os.makedirs(a.data, exist_ok=True)
    dims = [int(x) for x in a.dim.split(",")]
    if a.base and len(dims) > 1:
        ap.error("--base fixes the dimension: give one --dim")
    results = []
    for dim in dims:
        n, d, source, q = run_dim(a, dim, results)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": n, "dims": dims, "queries": len(q), "k": a.k, "source": source,
                       "faiss": faiss.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
