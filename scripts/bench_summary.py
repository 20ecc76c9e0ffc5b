#!/usr/bin/env python3
"""Summarise bench_distance_pairs' --benchmark_out JSON as Markdown tables.

Rows in the JSON are named <metric>/<impl>/<dim> (float) or <metric>/<impl>/<dim>/f64 (double).
For every row the median over its repetitions is taken (Google Benchmark's "median" aggregate,
or the median of the individual repetitions when those are present). One table per metric and
scalar type: a line per dimension, a column per implementation (median ns/pair), then the ratios
embedkit_auto / eigen and embedkit_auto / best peer, where the best peer is the fastest
implementation that is not embedkit.

--check evaluates the targets of issue 3 (float, automatically dispatched level, against Eigen)
and exits with status 1, listing every failure, if one is missed or its rows are missing.

Standard library only.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

LEVELS = ["scalar", "avx2", "avx512", "neon"]
PEERS = ["eigen", "hnswlib", "faiss"]
METRICS = ["l2_squared", "dot", "l1", "cosine_similarity"]
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Issue 3, "Done when": the largest allowed time(embedkit_auto) / time(eigen), per dimension
# and metric, float.
TARGETS = {
    768: {"l2_squared": 1.05, "dot": 1.05, "l1": 1.05, "cosine_similarity": 0.8},
    1536: {"l2_squared": 1.05, "dot": 1.05, "l1": 1.05, "cosine_similarity": 0.8},
    128: {m: 1.1 for m in METRICS},
    16: {m: 1.5 for m in METRICS},
}


def parse_name(run_name):
    """'l2_squared/eigen/768' -> ('l2_squared', 'eigen', 768, 'f32'); None if not ours."""
    parts = run_name.split("/")
    if len(parts) == 3:
        scalar = "f32"
    elif len(parts) == 4 and parts[3] == "f64":
        scalar = "f64"
    else:
        return None
    metric, impl, dim = parts[:3]
    if not dim.isdigit():
        return None
    return metric, impl, int(dim), scalar


def load_medians(data, time_field):
    """({key: median ns/pair}, {key: coefficient of variation or None}, repetitions seen).

    key is (metric, impl, dim, scalar)."""
    samples = {}
    aggregates = {}
    repetitions = 0
    for bench in data.get("benchmarks", []):
        if bench.get("error_occurred"):
            continue
        key = parse_name(bench.get("run_name", bench.get("name", "")))
        if key is None:
            continue
        repetitions = max(repetitions, int(bench.get("repetitions", 1)))
        if bench.get("run_type") == "aggregate":
            name = bench.get("aggregate_name")
            if name == "cv":  # a fraction, whatever the time unit
                aggregates.setdefault(key, {})[name] = bench[time_field]
            elif name == "median":
                aggregates.setdefault(key, {})[name] = (
                    bench[time_field] * TO_NS[bench.get("time_unit", "ns")])
        else:
            samples.setdefault(key, []).append(
                bench[time_field] * TO_NS[bench.get("time_unit", "ns")])
    medians, cvs = {}, {}
    for key, values in samples.items():
        medians[key] = statistics.median(values)
        mean = statistics.fmean(values)
        cvs[key] = statistics.stdev(values) / mean if len(values) > 1 and mean > 0 else None
    for key, agg in aggregates.items():
        if "median" in agg and key not in medians:
            medians[key] = agg["median"]
            cvs[key] = agg.get("cv")
    return medians, cvs, repetitions


def impl_order(impls):
    """embedkit levels slowest first, then embedkit_auto, then the peers, then anything else."""
    order = ["embedkit_" + level for level in LEVELS] + ["embedkit_auto"] + PEERS
    known = [i for i in order if i in impls]
    return known + sorted(i for i in impls if i not in order)


def fmt_ns(value):
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def best_peer(row):
    """(name, ns) of the fastest non-embedkit implementation in a row, or None."""
    peers = [(ns, impl) for impl, ns in row.items() if not impl.startswith("embedkit")]
    if not peers:
        return None
    ns, impl = min(peers)
    return impl, ns


def tables(medians):
    out = []
    for scalar in ("f32", "f64"):
        metrics = sorted({k[0] for k in medians if k[3] == scalar},
                         key=lambda m: (METRICS.index(m) if m in METRICS else len(METRICS), m))
        for metric in metrics:
            keys = [k for k in medians if k[0] == metric and k[3] == scalar]
            impls = impl_order({k[1] for k in keys})
            dims = sorted({k[2] for k in keys})
            header = ["dim"] + impls + ["auto / eigen", "auto / best peer"]
            out.append(f"#### {metric}, {scalar}: median ns/pair")
            out.append("")
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "|".join("---:" for _ in header) + "|")
            for dim in dims:
                row = {i: medians[(metric, i, dim, scalar)]
                       for i in impls if (metric, i, dim, scalar) in medians}
                cells = [str(dim)] + [fmt_ns(row.get(i)) for i in impls]
                auto = row.get("embedkit_auto")
                eigen = row.get("eigen")
                cells.append(f"{auto / eigen:.2f}" if auto and eigen else "—")
                peer = best_peer(row)
                cells.append(f"{auto / peer[1]:.2f} ({peer[0]})" if auto and peer else "—")
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    return out


def git_commit(repo):
    """Short HEAD, marked when the benchmarked sources differ from it; 'uncommitted' if none."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "uncommitted"
    try:
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "include", "bench",
             "cmake", "CMakeLists.txt", "CMakePresets.json"],
            cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        dirty = ""
    return head + (" (with local changes to include/, bench/ or CMake files)" if dirty else "")


def header(data, args, repetitions):
    ctx = data.get("context", {})
    caches = ", ".join(f"L{c['level']} {c['type'].lower()} {c['size'] // 1024} KiB"
                       for c in ctx.get("caches", []) if c.get("level") == 1)
    cpu = ctx.get("cpu_model", "unknown")
    detail = f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz"
    if caches:
        detail += f", {caches}"
    compiler = args.compiler or ctx.get("compiler", "unknown")
    flags = args.flags or ctx.get("flags", "unknown")
    commit = args.commit or git_commit(Path(__file__).resolve().parent.parent)
    statistic = (f"median of {repetitions} repetitions" if repetitions > 1
                 else "single run (no repetitions: pass --benchmark_repetitions=5)")
    summariser = "python3 " + " ".join(shlex.quote(a) for a in sys.argv)
    lines = [
        f"- CPU: {cpu} ({detail})",
        f"- Compiler: {compiler}",
        f"- Flags: `{flags}` (embedkit, Eigen, hnswlib: header-only, compiled into the benchmark)",
        f"- embedkit_auto ran at: {ctx.get('embedkit_simd_active', 'unknown')} "
        f"(levels on this CPU: {ctx.get('embedkit_simd_supported', 'unknown')})",
        f"- Peers: Eigen {ctx.get('eigen_version', '?')} ({ctx.get('eigen_simd', '?')}); "
        f"hnswlib: {ctx.get('hnswlib', '?')}; FAISS: {ctx.get('faiss', '?')}",
        f"- Commit: {commit}",
        f"- Date: {ctx.get('date', 'unknown')}",
        f"- Command: `{ctx.get('command', ctx.get('executable', 'unknown'))}`",
        f"- Summary: `{summariser}`",
        f"- Statistic: {statistic}, {args.time} time, ns per pair",
    ]
    if ctx.get("library_build_type") == "debug":
        lines.append("- Note: Google Benchmark reports its own library as a debug build "
                     "(Debian's package); the timed loop is inlined into our binary")
    return lines


def fmt_cv(cv):
    return "cv ?" if cv is None else f"cv {100 * cv:.0f}%"


def check(medians, cvs):
    """The issue-3 targets: (failures, report lines); no failures when all pass."""
    failures = []
    report = []
    for dim in sorted(TARGETS, reverse=True):
        for metric, limit in TARGETS[dim].items():
            auto_key = (metric, "embedkit_auto", dim, "f32")
            eigen_key = (metric, "eigen", dim, "f32")
            auto = medians.get(auto_key)
            eigen = medians.get(eigen_key)
            label = f"{metric}/{dim}: embedkit_auto / eigen <= {limit:.2f}"
            if auto is None or eigen is None:
                missing = [n for n, v in (("embedkit_auto", auto), ("eigen", eigen)) if v is None]
                failures.append(f"{label}: missing row(s) {', '.join(missing)}")
                report.append(f"FAIL {label}: missing row(s) {', '.join(missing)}")
                continue
            ratio = auto / eigen
            verdict = "ok  " if ratio <= limit else "FAIL"
            line = (f"{label}: {ratio:.3f} ({fmt_ns(auto)} ns, {fmt_cv(cvs.get(auto_key))} vs "
                    f"{fmt_ns(eigen)} ns, {fmt_cv(cvs.get(eigen_key))})")
            report.append(f"{verdict} {line}")
            if ratio > limit:
                failures.append(line)
    return failures, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json",
                        help="file written by --benchmark_out=... --benchmark_out_format=json")
    parser.add_argument("--compiler",
                        help="compiler to print (default: from the benchmark context)")
    parser.add_argument("--flags", help="flags to print (default: from the benchmark context)")
    parser.add_argument("--commit", help="commit to print (default: git rev-parse --short HEAD)")
    parser.add_argument("--time", choices=("real", "cpu"), default="real",
                        help="which time per iteration to summarise (default: real)")
    parser.add_argument("--check", action="store_true",
                        help="evaluate the issue-3 targets; exit 1 listing failures")
    args = parser.parse_args()

    with open(args.json, encoding="utf-8") as f:
        data = json.load(f)
    medians, cvs, repetitions = load_medians(data,
                                             "real_time" if args.time == "real" else "cpu_time")
    if not medians:
        sys.exit(f"bench_summary: no <metric>/<impl>/<dim> rows in {args.json}")

    if args.check:
        failures, report = check(medians, cvs)
        print("\n".join(report))
        if failures:
            print(f"\n{len(failures)} target(s) missed:", file=sys.stderr)
            for line in failures:
                print(f"  {line}", file=sys.stderr)
            sys.exit(1)
        print("\nall issue-3 targets met")
        return

    print("\n".join(header(data, args, repetitions)))
    print()
    print("\n".join(tables(medians)).rstrip())


if __name__ == "__main__":
    main()
