#!/usr/bin/env python3
"""Summarise bench_distance_batch / bench_distance_batch_blas JSON output as Markdown tables.

Pass the --benchmark_out JSON of both binaries (same session): the one built with Eigen's own
GEMM and the one built with EIGEN_USE_BLAS (OpenBLAS). Each file's context says which it is
(gemm_backend). Rows are named <bench>/<impl>/<metric>/<shape> (plain reads:
<bench>/<impl>/<shape>) and carry their work per iteration in the counters work_bytes and
work_items; rates are work / median time over the repetitions.

Tables: scan (GB/s and the ratio to the fastest plain read of the same binary), all-pairs
(pairs/s, ratios to FAISS pairwise_L2sqr and to the naive loop), top-k (queries/s, ratio to
FAISS IndexFlat). Every ratio compares rows of the same binary, i.e. the same run.

--check evaluates the targets of issue 4 and exits with status 1, listing every miss (a
missing row is a miss):
  scan: embedkit distances and top_k (l2_squared, dot) >= 0.9 x the plain read
  all-pairs l2_squared, dims 128 and 768: embedkit >= 0.75 x FAISS pairwise_L2sqr with Eigen's
    GEMM, >= 0.95 x with EIGEN_USE_BLAS
  top-k (l2_squared, dot): embedkit >= 1.0 x FAISS IndexFlatL2 / IndexFlatIP queries/s
Scan and top-k are checked in every file given; all-pairs in the file of each backend.

Standard library only.
"""

import argparse
import json
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summary import git_commit  # noqa: E402  (sibling script)

TO_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
BACKEND_LABEL = {"eigen": "Eigen GEMM", "openblas": "EIGEN_USE_BLAS (OpenBLAS)"}

SCAN_TARGET = 0.9
ALLPAIRS_TARGET = {"eigen": 0.75, "openblas": 0.95}
ALLPAIRS_DIMS = (128, 768)
TOPK_TARGET = 1.0


def parse_name(name):
    """'allpairs/embedkit/l2_squared/1000x10000x128' -> ('allpairs', 'embedkit',
    'l2_squared', '1000x10000x128'); plain reads have metric None."""
    parts = name.split("/")
    if len(parts) == 3:
        return parts[0], parts[1], None, parts[2]
    if len(parts) == 4:
        return tuple(parts)
    return None


class Run:
    """One JSON file: medians (seconds per iteration), work counters, cv, context."""

    def __init__(self, path, time_field):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.path = path
        self.context = data.get("context", {})
        self.backend = self.context.get("gemm_backend", "unknown")
        samples, aggregates, self.work, self.extra = {}, {}, {}, {}
        self.repetitions = 0
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                continue
            key = parse_name(b.get("run_name", b.get("name", "")))
            if key is None:
                continue
            self.repetitions = max(self.repetitions, int(b.get("repetitions", 1)))
            seconds = b[time_field] * TO_S[b.get("time_unit", "ns")]
            if b.get("run_type") == "aggregate":
                name = b.get("aggregate_name")
                if name == "median":
                    aggregates.setdefault(key, {})["median"] = seconds
                elif name == "cv":
                    aggregates.setdefault(key, {})["cv"] = b[time_field]
            else:
                samples.setdefault(key, []).append(seconds)
            # Counters of the repetitions themselves (or of the median aggregate), never of
            # the stddev / cv aggregates, which hold spreads.
            counters = (b.get("run_type") != "aggregate" or b.get("aggregate_name") == "median")
            if counters and "work_items" in b:
                self.work[key] = (b.get("work_bytes", 0.0), b["work_items"])
            if counters and "agree_with_embedkit" in b:
                self.extra.setdefault(key, []).append(b["agree_with_embedkit"])
        self.median, self.cv = {}, {}
        for key, values in samples.items():
            self.median[key] = statistics.median(values)
            mean = statistics.fmean(values)
            self.cv[key] = (statistics.stdev(values) / mean
                            if len(values) > 1 and mean > 0 else None)
        for key, agg in aggregates.items():
            if key not in self.median and "median" in agg:
                self.median[key] = agg["median"]
                self.cv[key] = agg.get("cv")

    def rate(self, key, what):
        """Work per second: what = 'bytes' or 'items'; None if the row is missing."""
        if key not in self.median or key not in self.work:
            return None
        bytes_, items = self.work[key]
        work = bytes_ if what == "bytes" else items
        return work / self.median[key] if self.median[key] > 0 else None

    def keys(self, bench):
        return sorted(k for k in self.median if k[0] == bench)

    def plain_read(self):
        """(key, bytes/s) of the fastest plain read row, or (None, None)."""
        reads = [(self.rate(k, "bytes"), k) for k in self.keys("scan") if k[1].startswith("read_")]
        reads = [r for r in reads if r[0]]
        if not reads:
            return None, None
        rate, key = max(reads)
        return key, rate


def fmt(value, digits=3):
    if value is None:
        return "—"
    return f"{value:.{digits}g}" if value < 1000 else f"{value:.0f}"


def fmt_cv(cv):
    return "cv ?" if cv is None else f"cv {100 * cv:.0f}%"


def label(run):
    return BACKEND_LABEL.get(run.backend, run.backend)


def impl_metric(key):
    return key[1] if key[2] is None else f"{key[1]} ({key[2]})"


def scan_table(runs):
    out = ["#### Scan: 1 query × 100,000 × 768 float (307 MB), k = 10 for search rows", ""]
    header = ["row"]
    for run in runs:
        header += [f"GB/s, {label(run)} binary", "× plain read"]
    out += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    keys = []
    for run in runs:
        keys += [k for k in run.keys("scan") if k not in keys]
    for key in keys:
        cells = [f"`{impl_metric(key)}`"]
        for run in runs:
            rate = run.rate(key, "bytes")
            _, read = run.plain_read()
            cells.append(fmt(rate / 1e9 if rate else None))
            cells.append(f"{rate / read:.2f}" if rate and read else "—")
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return out


def ratio_cell(run, key, ref_key):
    a = run.rate(key, "items")
    b = run.rate(ref_key, "items") if ref_key else None
    return f"{a / b:.2f}" if a and b else "—"


def allpairs_table(runs):
    out = ["#### All pairs: 1,000 × 10,000 float, million pairs/s", ""]
    header = ["dim", "metric", "impl"]
    for run in runs:
        header += [f"Mpairs/s, {label(run)}", "× FAISS", "× naive"]
    out += ["| " + " | ".join(header) + " |", "|---:|---|---|" + "---:|" * (len(header) - 3)]
    keys = []
    for run in runs:
        keys += [k for k in run.keys("allpairs") if k not in keys]
    keys.sort(key=lambda k: (int(k[3].split("x")[-1]), k[2] != "l2_squared", k[2], k[1]))
    for key in keys:
        dim = key[3].split("x")[-1]
        faiss = ("allpairs", "faiss_pairwise_L2sqr", "l2_squared", key[3])
        naive = ("allpairs", "naive_loop", key[2], key[3])
        cells = [dim, key[2], f"`{key[1]}`"]
        for run in runs:
            rate = run.rate(key, "items")
            cells.append(fmt(rate / 1e6 if rate else None))
            cells.append(ratio_cell(run, key, faiss) if key[2] == "l2_squared" else "—")
            cells.append(ratio_cell(run, key, naive))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return out


def faiss_flat(metric):
    return "faiss_IndexFlatL2" if metric == "l2_squared" else "faiss_IndexFlatIP"


def topk_table(runs):
    out = ["#### Top-k: 100 queries × 100,000 × 128 float, k = 10, queries/s", ""]
    header = ["metric", "impl"]
    for run in runs:
        header += [f"queries/s, {label(run)}", "× FAISS"]
    out += ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(header) - 2)]
    keys = []
    for run in runs:
        keys += [k for k in run.keys("topk") if k not in keys]
    for key in keys:
        ref = ("topk", faiss_flat(key[2]), key[2], key[3])
        cells = [key[2], f"`{key[1]}`"]
        for run in runs:
            rate = run.rate(key, "items")
            cells.append(fmt(rate))
            cells.append(ratio_cell(run, key, ref))
        out.append("| " + " | ".join(cells) + " |")
    agree = []
    for run in runs:
        for key, values in sorted(run.extra.items()):
            agree.append(f"{key[1]} ({key[2]}, {label(run)}): {min(values):.3f}")
    if agree:
        out += ["", "Share of (query, rank) slots where FAISS returned embedkit's index: "
                + "; ".join(agree) + "."]
    out.append("")
    return out


def header(runs, args):
    ctx = runs[0].context
    caches = ", ".join(f"L{c['level']} {c['type'].lower()} {c['size'] // 1024} KiB"
                       for c in ctx.get("caches", []))
    commit = args.commit or git_commit(Path(__file__).resolve().parent.parent)
    reps = min(r.repetitions for r in runs)
    statistic = (f"median of {reps} repetitions" if reps > 1
                 else "single run (no repetitions: pass --benchmark_repetitions=5)")
    lines = [
        f"- CPU: {ctx.get('cpu_model', 'unknown')} ({ctx.get('num_cpus', '?')} CPUs at "
        f"{ctx.get('mhz_per_cpu', '?')} MHz; {caches})",
        f"- Compiler: {ctx.get('compiler', 'unknown')}; flags: `{args.flags or ctx.get('flags', 'unknown')}`",
        f"- embedkit level: {ctx.get('embedkit_simd_active', '?')}; Eigen "
        f"{ctx.get('eigen_version', '?')} ({ctx.get('eigen_simd', '?')}), threads "
        f"{ctx.get('eigen_threads', '?')}",
        f"- FAISS: {ctx.get('faiss', '?')}; hnswlib: {ctx.get('hnswlib', '?')}",
        f"- Commit: {commit}",
        f"- Date: {ctx.get('date', 'unknown')}",
        f"- Statistic: {statistic}, {args.time} time",
    ]
    for run in runs:
        c = run.context
        lines.append(
            f"- {label(run)} binary: `{c.get('command', c.get('executable', '?'))}`; "
            f"OpenBLAS: {c.get('openblas', '?')}; loaded: {c.get('blas_libraries_loaded', '?')}; "
            f"OPENBLAS_NUM_THREADS={c.get('env_OPENBLAS_NUM_THREADS', '?')}, "
            f"OMP_NUM_THREADS={c.get('env_OMP_NUM_THREADS', '?')}, "
            f"omp_get_max_threads()={c.get('omp_max_threads', '?')}")
    lines.append("- Summary: `python3 " + " ".join(shlex.quote(a) for a in sys.argv) + "`")
    return lines


def thread_warnings(runs):
    out = []
    for run in runs:
        c = run.context
        for field in ("env_OPENBLAS_NUM_THREADS", "env_OMP_NUM_THREADS"):
            if c.get(field) != "1":
                out.append(f"warning: {run.path}: {field[4:]}={c.get(field)} (the published "
                           f"command sets it to 1)")
        if not str(c.get("openblas", "")).endswith("threads 1") and c.get("openblas") != "not loaded":
            out.append(f"warning: {run.path}: OpenBLAS not on one thread: {c.get('openblas')}")
    return out


def check_one(report, failures, label_, run, key, ref_key, limit, what="items"):
    a, b = run.rate(key, what), run.rate(ref_key, what) if ref_key else None
    text = f"{label_} >= {limit:.2f}"
    if a is None or b is None:
        missing = [k[1] for k, v in ((key, a), (ref_key, b)) if v is None and k]
        line = f"{text}: missing row(s) {', '.join(missing) or '?'}"
        report.append(f"FAIL {line}")
        failures.append(line)
        return
    ratio = a / b if b > 0 else float("nan")
    line = (f"{text}: {ratio:.3f} ({run.median[key] * 1e3:.2f} ms, {fmt_cv(run.cv.get(key))} vs "
            f"{run.median[ref_key] * 1e3:.2f} ms, {fmt_cv(run.cv.get(ref_key))})")
    report.append(("ok   " if ratio >= limit else "FAIL ") + line)
    if ratio < limit:
        failures.append(line)


def check(runs):
    report, failures = [], []
    for run in runs:
        tag = label(run)
        report.append(f"[{tag}: {run.path}]")
        read_key, _ = run.plain_read()
        for impl in ("embedkit_distances", "embedkit_top_k"):
            for metric in ("l2_squared", "dot"):
                key = ("scan", impl, metric, "100000x768")
                check_one(report, failures, f"scan {impl} {metric} / plain read ({tag})", run,
                          key, read_key or ("scan", "read_*", None, "100000x768"),
                          SCAN_TARGET, "bytes")
        limit = ALLPAIRS_TARGET.get(run.backend)
        if limit is None:
            line = f"all-pairs: unknown gemm_backend '{run.backend}' in {run.path}"
            report.append("FAIL " + line)
            failures.append(line)
        else:
            for dim in ALLPAIRS_DIMS:
                s = f"1000x10000x{dim}"
                check_one(report, failures,
                          f"allpairs l2_squared/{dim} embedkit / FAISS pairwise_L2sqr ({tag})",
                          run, ("allpairs", "embedkit", "l2_squared", s),
                          ("allpairs", "faiss_pairwise_L2sqr", "l2_squared", s), limit)
        for metric in ("l2_squared", "dot"):
            s = "100x100000x128"
            check_one(report, failures, f"topk {metric} embedkit / FAISS {faiss_flat(metric)[6:]} ({tag})",
                      run, ("topk", "embedkit_top_k", metric, s),
                      ("topk", faiss_flat(metric), metric, s), TOPK_TARGET)
    backends = {r.backend for r in runs}
    for needed in ("eigen", "openblas"):
        if needed not in backends:
            line = f"no file with gemm_backend '{needed}' given"
            report.append("FAIL " + line)
            failures.append(line)
    return failures, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+", help="--benchmark_out JSON files (both binaries)")
    parser.add_argument("--flags", help="flags to print (default: from the benchmark context)")
    parser.add_argument("--commit", help="commit to print (default: git rev-parse --short HEAD)")
    parser.add_argument("--time", choices=("real", "cpu"), default="real",
                        help="which time per iteration to summarise (default: real)")
    parser.add_argument("--check", action="store_true",
                        help="evaluate the issue-4 targets; exit 1 listing misses")
    args = parser.parse_args()

    field = "real_time" if args.time == "real" else "cpu_time"
    runs = [Run(p, field) for p in args.json]
    runs.sort(key=lambda r: (r.backend != "eigen", r.path))
    if not any(r.median for r in runs):
        sys.exit("bench_batch_summary: no <bench>/<impl>/... rows in " + ", ".join(args.json))
    for w in thread_warnings(runs):
        print(w, file=sys.stderr)

    if args.check:
        failures, report = check(runs)
        print("\n".join(report))
        if failures:
            print(f"\n{len(failures)} target(s) missed:", file=sys.stderr)
            for line in failures:
                print(f"  {line}", file=sys.stderr)
            sys.exit(1)
        print("\nall issue-4 benchmark targets met")
        return

    print("\n".join(header(runs, args)))
    print()
    print("\n".join(scan_table(runs) + allpairs_table(runs) + topk_table(runs)).rstrip())


if __name__ == "__main__":
    main()
