#!/usr/bin/env python3
"""Summarise the training benchmarks (bench_train, bench_train_torch) as Markdown tables.

Pass the --benchmark_out JSON files of one benchmark session (embedkit's binaries and the
libtorch peer). Rows used:
  vae_epoch/<impl>          one training epoch of the MNIST VAE per iteration (issue 5); <impl>
                            is embedkit_eigen, embedkit_blas, libtorch, ...
  siamese_epoch/<impl>      one training epoch of the MNIST Siamese network (contrastive loss,
                            120,000 pairs) per iteration (issue 6)
  sgemm/<impl>/<n>          an n x n x n float product per iteration (the same binary's GEMM)
Suffixes Google Benchmark appends (/iterations:1, /repeats:6, /manual_time, ...) and the
numbers ->Arg() appends are ignored.
For every row the median over its repetitions is taken; Google Benchmark's aggregate rows
(mean, median, stddev, cv) are ignored unless a row has no individual repetitions at all
(--benchmark_report_aggregates_only), in which case its median aggregate is used.

Tables, one per model family present (the VAE table also when no family is): per
implementation the median seconds per epoch, GFLOP/s (FLOP per epoch / median seconds: 144.3e9
for the VAE, the exact GEMM count of issue 5; 621e9 for the Siamese network, the dense-equivalent
count of issue 6), the ratio to <family>_epoch/libtorch, the same binary's SGEMM GFLOP/s, the
training loss counter of its last repetition and, for the Siamese network, its pair_accuracy
counter (a fraction, printed in %; test pairs at threshold 0.5, measured after the epoch); then,
for rows that carry them, the median of the breakdown counters t_gemm, t_activation, t_loss,
t_optimizer and t_other (seconds per epoch) and their shares of the median epoch.

--check RATIO exits with status 1 unless, for every model family with a row in the files (the
VAE when there is none), the fastest embedkit <family>_epoch row takes at most RATIO x the
libtorch median of that family (issues 5 and 6 ask for 0.75); a missing row is a failure.

Standard library only.
"""

import argparse
import json
import re
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_summary import git_commit  # noqa: E402  (sibling script)

EPOCH_FLOP = 144.3e9           # VAE (issue 5)
SIAMESE_EPOCH_FLOP = 621e9     # Siamese network (issue 6)
PEER = "libtorch"
# Model families: row prefix, FLOP per epoch, table title, whether the table shows pair accuracy.
FAMILIES = {
    "vae": {"prefix": "vae_epoch", "flop": EPOCH_FLOP, "name": "VAE",
            "title": "#### One VAE training epoch (MNIST, 60,000 images, batch 100, one thread)",
            "accuracy": False},
    "siamese": {"prefix": "siamese_epoch", "flop": SIAMESE_EPOCH_FLOP, "name": "Siamese",
                "title": "#### One Siamese training epoch (MNIST, 120,000 pairs, batch 128, "
                         "contrastive loss, one thread)",
                "accuracy": True},
}
PREFIX_FAMILY = {spec["prefix"]: kind for kind, spec in FAMILIES.items()}
BREAKDOWN = ["t_gemm", "t_activation", "t_loss", "t_optimizer", "t_other"]
TO_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
# Path components Google Benchmark appends to a name for the options a row ran with.
MODIFIER = re.compile(r"^(iterations|repeats|threads|min_time|min_warmup_time):[^/]*$"
                      r"|^(manual_time|real_time|process_time)$")


def base_name(name):
    """'vae_epoch/libtorch/iterations:1/repeats:6/manual_time' -> 'vae_epoch/libtorch'."""
    return "/".join(p for p in name.split("/") if not MODIFIER.match(p))


def parse_row(name):
    """('vae', impl, None), ('siamese', impl, None) or ('sgemm', impl, n) for our rows; None for
    anything else.

    Numeric components after the documented name (from ->Arg(), e.g. 'sgemm/x/1024/1024')
    are ignored; n is the first of them."""
    parts = base_name(name).split("/")
    if len(parts) < 2 or not parts[1] or not all(p.isdigit() for p in parts[2:]):
        return None
    if parts[0] in PREFIX_FAMILY:
        return (PREFIX_FAMILY[parts[0]], parts[1], None)
    if parts[0] == "sgemm" and len(parts) >= 3:
        return ("sgemm", parts[1], int(parts[2]))
    return None


class Row:
    """One benchmark row: its repetitions' times (s) and counters, and where it came from."""

    def __init__(self, key, path):
        self.key = key
        self.path = path
        self.seconds = []          # one per repetition, in file order
        self.counters = []         # the counters of each repetition
        self.aggregate_median = None
        self.aggregate_counters = {}
        self.errors = []

    def median(self):
        if self.seconds:
            return statistics.median(self.seconds)
        return self.aggregate_median

    def from_aggregate(self):
        return not self.seconds and self.aggregate_median is not None

    def cv(self):
        if len(self.seconds) < 2:
            return None
        mean = statistics.fmean(self.seconds)
        return statistics.stdev(self.seconds) / mean if mean > 0 else None

    def counter_median(self, name):
        values = [c[name] for c in self.counters if name in c]
        if values:
            return statistics.median(values)
        return self.aggregate_counters.get(name)

    def last_counter(self, name):
        values = [c[name] for c in self.counters if name in c]
        if values:
            return values[-1]
        return self.aggregate_counters.get(name)


STANDARD_FIELDS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
    "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
    "aggregate_name", "aggregate_unit", "error_occurred", "error_message", "label",
    "bytes_per_second", "items_per_second",
}


def load(paths, time_field):
    """({key: Row}, [(path, context)]); exits naming both files if a row appears twice."""
    rows, contexts = {}, []
    owner = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"bench_train_summary: cannot read {path}: {e}")
        contexts.append((path, data.get("context", {})))
        for b in data.get("benchmarks", []):
            key = parse_row(b.get("run_name", b.get("name", "")))
            if key is None:
                continue
            if key in owner and owner[key] != path:
                sys.exit(f"bench_train_summary: row {display(key)} appears in both {owner[key]} "
                         f"and {path}; pass the files of one run, each row once")
            owner[key] = path
            row = rows.setdefault(key, Row(key, path))
            if b.get("error_occurred"):
                row.errors.append(b.get("error_message", "error"))
                continue
            seconds = b[time_field] * TO_S[b.get("time_unit", "ns")]
            counters = {k: v for k, v in b.items()
                        if k not in STANDARD_FIELDS and isinstance(v, (int, float))}
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    row.aggregate_median = seconds
                    row.aggregate_counters = counters
                continue
            row.seconds.append(seconds)
            row.counters.append(counters)
    return rows, contexts


def display(key):
    kind, impl, n = key
    return f"{FAMILIES[kind]['prefix']}/{impl}" if kind in FAMILIES else f"sgemm/{impl}/{n}"


def families_present(rows):
    """The model families with at least one row (with a time or an error), in FAMILIES order."""
    kinds = {k[0] for k in rows}
    return [kind for kind in FAMILIES if kind in kinds]


def impl_order(impls):
    """embedkit rows first (alphabetical), the peer, then anything else."""
    ours = sorted(i for i in impls if i.startswith("embedkit"))
    peer = [i for i in impls if i == PEER]
    rest = sorted(i for i in impls if i not in ours and i != PEER)
    return ours + peer + rest


def fmt(value, digits=3):
    if value is None:
        return "—"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


def sgemm_row(rows, impl):
    """The largest sgemm/<impl>/<n> row with a time, or None."""
    found = [rows[k] for k in rows if k[0] == "sgemm" and k[1] == impl and rows[k].median()]
    return max(found, key=lambda r: r.key[2]) if found else None


def sgemm_gflops(row):
    n = row.key[2]
    return 2.0 * n * n * n / row.median() * 1e-9


def header(rows, contexts, args):
    lines = []
    cpu = next((c.get("cpu_model") for _, c in contexts if c.get("cpu_model")), "unknown")
    lines.append(f"- CPU: {cpu}")
    lines.append(f"- Commit: {args.commit or git_commit(Path(__file__).resolve().parent.parent)}")
    for path, ctx in contexts:
        lines.append(f"- `{path}`: `{ctx.get('command', ctx.get('executable', 'unknown'))}`, "
                     f"{ctx.get('date', 'unknown date')}")
        details = [f"compiler {ctx.get('compiler', 'unknown')}",
                   f"flags `{ctx.get('flags', 'unknown')}`",
                   f"gemm backend {ctx.get('gemm_backend', 'unknown')}"]
        if "torch_version" in ctx:
            details.append(f"libtorch {ctx['torch_version']}")
        if ctx.get("openblas", "not loaded") != "not loaded":
            details.append(f"openblas: {ctx['openblas']}")
        if "blas_libraries_loaded" in ctx:
            details.append(f"loaded {ctx['blas_libraries_loaded']}")
        details.append(f"OPENBLAS_NUM_THREADS={ctx.get('env_OPENBLAS_NUM_THREADS', '?')}")
        lines.append("  - " + "; ".join(details))
    summariser = "python3 " + " ".join(shlex.quote(a) for a in sys.argv)
    lines.append(f"- Summary: `{summariser}`")
    present = families_present(rows)
    if present in ([], ["vae"]):
        flop = f"{EPOCH_FLOP / 1e9:.1f} GFLOP per epoch"
    else:
        flop = ", ".join(f"{FAMILIES[k]['flop'] / 1e9:.1f} GFLOP per {FAMILIES[k]['name']} epoch"
                         for k in present)
    lines.append(f"- Statistic: median over the repetitions of each row, {args.time} time; "
                 f"GFLOP/s = {flop} / median seconds")
    return lines


def percent(value):
    return "—" if value is None else f"{100 * value:.2f}%"


def epoch_table(rows, kind="vae", sgemm_notes=True):
    """The epoch table of one model family; sgemm_notes adds the errors of sgemm rows."""
    spec = FAMILIES[kind]
    prefix = spec["prefix"]
    family = {k[1]: r for k, r in rows.items() if k[0] == kind}
    impls = impl_order(set(family) | {k[1] for k in rows if k[0] == "sgemm"})
    peer = family.get(PEER)
    peer_s = peer.median() if peer else None
    acc_head = " pair accuracy (last rep.) |" if spec["accuracy"] else ""
    out = [spec["title"], "",
           "| row | median s/epoch | GFLOP/s | / libtorch | SGEMM GFLOP/s | loss (last rep.) |"
           + acc_head + " reps |",
           "|---|---:|---:|---:|---:|---:|" + ("---:|" if spec["accuracy"] else "") + "---:|"]
    notes = []
    for impl in impls:
        row = family.get(impl)
        gemm = sgemm_row(rows, impl)
        gemm_cell = (f"{fmt(sgemm_gflops(gemm))} (n={gemm.key[2]})" if gemm else "—")
        if row is None or row.median() is None:
            why = "; ".join(sorted(set(row.errors))) if row and row.errors else "no row"
            acc_cell = " — |" if spec["accuracy"] else ""
            out.append(f"| {prefix}/{impl} | — | — | — | {gemm_cell} | — |{acc_cell} 0 |")
            if row is not None:
                notes.append(f"- {prefix}/{impl}: {why}")
            continue
        s = row.median()
        ratio = f"{s / peer_s:.2f}" if peer_s else "—"
        reps = str(len(row.seconds)) if row.seconds else "median aggregate"
        cv = row.cv()
        reps += f" (cv {100 * cv:.1f}%)" if cv is not None else ""
        acc_cell = f" {percent(row.last_counter('pair_accuracy'))} |" if spec["accuracy"] else ""
        out.append(f"| {prefix}/{impl} | {s:.3f} | {fmt(spec['flop'] / s * 1e-9)} | {ratio} | "
                   f"{gemm_cell} | {fmt(row.last_counter('loss'), 4)} |{acc_cell} {reps} |")
    if sgemm_notes:
        for key, row in sorted(rows.items()):
            if key[0] == "sgemm" and row.errors and not row.median():
                notes.append(f"- {display(key)}: {'; '.join(sorted(set(row.errors)))}")
    return out + ([""] + notes if notes else [])


def epoch_tables(rows):
    """The epoch table of every family present (the VAE's when none is), blank-line separated."""
    out = []
    for kind in families_present(rows) or ["vae"]:
        out += ([""] if out else []) + epoch_table(rows, kind, sgemm_notes=not out)
    return out


def breakdown_table(rows):
    """One table for the rows of every family that carry breakdown counters."""
    with_parts = []
    for kind in FAMILIES:
        family = {k[1]: r for k, r in rows.items() if k[0] == kind and r.median()}
        with_parts += [(kind, i, family[i]) for i in impl_order(set(family))
                       if any(family[i].counter_median(t) is not None for t in BREAKDOWN)]
    if not with_parts:
        return []
    out = ["", "#### Where an epoch goes: median seconds per epoch (share of the median epoch)", "",
           "| row | " + " | ".join(BREAKDOWN) + " | sum / epoch |",
           "|---|" + "---:|" * (len(BREAKDOWN) + 1)]
    for kind, impl, row in with_parts:
        epoch = row.median()
        cells, total = [], 0.0
        for name in BREAKDOWN:
            value = row.counter_median(name)
            if value is None:
                cells.append("—")
                continue
            total += value
            cells.append(f"{value:.3f} ({100 * value / epoch:.0f}%)")
        out.append(f"| {FAMILIES[kind]['prefix']}/{impl} | " + " | ".join(cells)
                   + f" | {total / epoch:.2f} |")
    return out


def check_family(rows, limit, kind):
    """(passed, report lines) for: best embedkit <family>_epoch median <= limit x libtorch's."""
    prefix = FAMILIES[kind]["prefix"]
    peer = rows.get((kind, PEER, None))
    ours = [(r.median(), k[1]) for k, r in rows.items()
            if k[0] == kind and k[1].startswith("embedkit") and r.median()]
    if peer is None or peer.median() is None:
        why = ("; ".join(sorted(set(peer.errors))) if peer and peer.errors else "row missing")
        return False, [f"FAIL {prefix}/{PEER}: {why}"]
    if not ours:
        return False, [f"FAIL no embedkit {prefix} row with a time"]
    best_s, best = min(ours)
    peer_s = peer.median()
    ratio = best_s / peer_s
    verdict = "ok  " if ratio <= limit else "FAIL"
    lines = [f"{verdict} best embedkit row {prefix}/{best}: {best_s:.3f} s/epoch = "
             f"{ratio:.3f} x {prefix}/{PEER} ({peer_s:.3f} s/epoch); allowed <= {limit:g} x "
             f"({limit * peer_s:.3f} s)"]
    for s, impl in sorted(ours):
        if impl != best:
            lines.append(f"     other: {prefix}/{impl}: {s:.3f} s/epoch = {s / peer_s:.3f} x")
    return ratio <= limit, lines


def check(rows, limit):
    """(passed, report lines): check_family for every family present (the VAE when none is);
    passes only when every one of them passes."""
    passed, lines = True, []
    for kind in families_present(rows) or ["vae"]:
        ok, report = check_family(rows, limit, kind)
        passed = passed and ok
        lines += report
    return passed, lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="+",
                        help="--benchmark_out JSON files of one run (bench_train, bench_train_torch)")
    parser.add_argument("--check", type=float, metavar="RATIO",
                        help="exit 1 unless, for every model family present (vae, siamese), "
                             "the best embedkit median <= RATIO x libtorch's")
    parser.add_argument("--commit", help="commit to print (default: git rev-parse --short HEAD)")
    parser.add_argument("--time", choices=("real", "cpu"), default="real",
                        help="which time per iteration to summarise (default: real; the "
                             "benchmarks use manual time, reported as real time)")
    args = parser.parse_args()
    if args.check is not None and not args.check > 0:
        parser.error(f"--check needs a positive ratio, got {args.check}")

    rows, contexts = load(args.json, "real_time" if args.time == "real" else "cpu_time")
    if not rows:
        sys.exit("bench_train_summary: no vae_epoch/<impl>, siamese_epoch/<impl> or "
                 "sgemm/<impl>/<n> rows in "
                 + ", ".join(args.json))

    print("\n".join(header(rows, contexts, args)))
    print()
    print("\n".join(epoch_tables(rows) + breakdown_table(rows)))
    if args.check is not None:
        passed, report = check(rows, args.check)
        print()
        print("\n".join(report))
        if not passed:
            sys.exit(1)


if __name__ == "__main__":
    main()
