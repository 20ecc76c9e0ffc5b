#!/usr/bin/env python3
"""Text-embedding throughput of all-MiniLM-L6-v2: embedkit against its Python peers (tooling).

Engines, each in its own process, all on one thread:
  sentence-transformers  3.0.1 over torch (Debian's 1.13, OpenBLAS), torch.set_num_threads(1):
                         SentenceTransformer(model).encode(texts, batch_size=B)
  onnxruntime            1.19.2 (PyPI, CPU), fp32: transformers' BertModel with the same weights
                         exported by torch.onnx.export (opset 14, dynamic batch and sequence axes,
                         output last_hidden_state; cached under build/text_peers/), one intra-op
                         and one inter-op thread, ORT_SEQUENTIAL, all graph optimisations; the
                         model's tokenizer.json via `tokenizers` (truncation 256, padding to the
                         longest text of a batch), mean pooling and L2 normalisation in numpy;
                         texts sorted by length before batching, as sentence-transformers does
  onnxruntime int8       the same ONNX model through onnxruntime.quantization.quantize_dynamic
                         (onnx 1.16.2), MatMul only, QInt8 weights per output channel
                         (ort-int8-ch) or per tensor (ort-int8-t), activations quantised at run
                         time by ORT; same session options
  embedkit (--ours CMD)  an external program, see the protocol below (repeatable: e.g. one per
                         precision)

Workloads (scripts/make_text_workloads.py): bench/data/text_short.txt, 1,000 texts of 8..17 word
pieces (10..19 tokens with [CLS]/[SEP]); bench/data/text_long.txt, 100 passages of 120..136 word
pieces. Each is timed at batch 32 and batch 1 (texts per second over the whole file, tokenisation
included, model loading excluded). The engines are interleaved (the order rotates every round)
and each keeps its best of --runs runs (default 5: the noise on a shared 2-core machine is
+-20-35 %). The script also checks that the ONNX embeddings equal sentence-transformers' (max
|difference| printed; bar 1e-5), and prints each engine's peak RSS, which BLAS torch uses
(torch.__config__.show() and the libraries mapped), the CPU model, and whether OPENBLAS_CORETYPE /
OPENBLAS_L2_SIZE are set.

Protocol of --ours CMD. CMD is split like a shell command line (shlex) and run from the
repository root once per timed run, with two arguments appended:
    CMD --workload short|long --batch N
The program loads the model itself (its path may be part of CMD), embeds every line of
bench/data/text_<workload>.txt (one text per line, LF) in batches of N, timing only the embedding
(tokenisation, encoder, pooling, normalisation; any warm-up is its own business), and prints on
stdout one JSON line for the run, e.g.
    {"engine":"embedkit","workload":"short","batch":32,"texts_per_s":123.4}
Other stdout lines are ignored; if several JSON lines name the same workload and batch, the best
texts_per_s is taken (a "precision" key, if present, is added to the engine's name). A non-zero exit status fails the benchmark. Its peak RSS is the largest
ru_maxrss of its runs. It should use one thread (the script sets OMP_NUM_THREADS=1 and
OPENBLAS_NUM_THREADS=1 in its environment). For the accuracy table the script also runs
    CMD --embed tests/text/data/minilm_sentences.txt --out FILE.npy
which must write the embeddings of that file's lines (split on LF only, batch 32) as float32 .npy.
Every engine's worst cosine to sentence-transformers' fp32 embeddings of those 2,084 texts
(tests/text/data/minilm_reference.npy) is printed.

Usage (machine of 2 cores shared with builds: pin to one core):
    PY="$(scripts/python-env)"
    taskset -c 1 "$PY" bench/text_peers.py [--ours "build/examples/embed_text --bench ..."]
        [--runs 5] [--workloads short,long] [--batches 32,1] [--json build/text_peers.json]
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
CACHE = ROOT / "build" / "text_peers"
ONNX_OPSET = 14
MAX_SEQ_LENGTH = 256
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TOKENIZERS_PARALLELISM": "false"}
QUIET = {"TRANSFORMERS_VERBOSITY": "error", "PYTHONWARNINGS": "ignore"}  # peers' processes only
PEERS = {"st": "sentence-transformers", "ort": "onnxruntime",
         "ort-int8-ch": "onnxruntime int8 per-channel", "ort-int8-t": "onnxruntime int8 per-tensor"}
ACCURACY_TEXTS = ROOT / "tests" / "text" / "data" / "minilm_sentences.txt"
ACCURACY_REFERENCE = ROOT / "tests" / "text" / "data" / "minilm_reference.npy"


def workload_path(name):
    return ROOT / "bench" / "data" / f"text_{name}.txt"


def read_texts(name):
    return workload_path(name).read_text(encoding="utf-8").rstrip("\n").split("\n")


def memory_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def mapped_blas():
    names = set()
    with open("/proc/self/maps") as f:
        for line in f:
            lib = line.split()[-1].rsplit("/", 1)[-1]
            if any(k in lib for k in ("libblas", "libopenblas", "libdnnl", "libmkl", "libgomp")):
                names.add(lib)
    return sorted(names)


# ----------------------------------------------------------------------------- ONNX export


def model_key():
    import hashlib
    h = hashlib.sha256((MODEL / "model.safetensors").read_bytes()).hexdigest()
    return f"{h} opset {ONNX_OPSET}"


def onnx_path():
    return CACHE / "all-MiniLM-L6-v2.onnx"


def export_onnx():
    """Runs in its own process (so that torch does not inflate the ONNX worker's RSS)."""
    import warnings
    import torch
    from transformers import BertModel
    warnings.filterwarnings("ignore")  # tracer warnings about Python control flow

    class LastHidden(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    torch.set_num_threads(1)
    bert = BertModel.from_pretrained(str(MODEL), add_pooling_layer=False).eval()
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 2088, 102, 0]])
    mask = (ids != 0).long()
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = onnx_path().with_suffix(".tmp")
    with torch.no_grad():
        torch.onnx.export(
            LastHidden(bert), (ids, mask, torch.zeros_like(ids)), str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"], opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in
                          ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})
    tmp.replace(onnx_path())
    onnx_path().with_suffix(".key").write_text(model_key() + f" torch {torch.__version__}\n")
    print(f"exported {onnx_path()} with torch {torch.__version__}", file=sys.stderr)


def quantized_path(kind):
    return CACHE / f"all-MiniLM-L6-v2.{kind}.onnx"


def quantize_onnx():
    """ONNX Runtime's dynamic int8 quantisation of the exported model, MatMul only, weights
    QInt8 per output channel (ort-int8-ch) or per tensor (ort-int8-t); activations are
    quantised per tensor at run time by ORT itself."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    for kind, per_channel in (("ort-int8-ch", True), ("ort-int8-t", False)):
        tmp = quantized_path(kind).with_suffix(".tmp")
        quantize_dynamic(str(onnx_path()), str(tmp), per_channel=per_channel,
                         op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)
        tmp.replace(quantized_path(kind))


def ensure_onnx(py):
    key_file = onnx_path().with_suffix(".key")
    fresh = onnx_path().exists() and key_file.exists() and \
        key_file.read_text().startswith(model_key() + " ")
    if not fresh:
        subprocess.run([py, __file__, "--export"], check=True,
                       env={**os.environ, **ONE_THREAD, **QUIET})
    if not fresh or not all(quantized_path(k).exists() for k in ("ort-int8-ch", "ort-int8-t")):
        subprocess.run([py, __file__, "--quantize"], check=True,
                       env={**os.environ, **ONE_THREAD, **QUIET})


# ----------------------------------------------------------------------------- engines


class StEngine:
    def __init__(self):
        import torch
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        import sentence_transformers
        from sentence_transformers import SentenceTransformer
        self.model = SentenceTransformer(str(MODEL), device="cpu")
        self.model.eval()
        blas = [s.strip().split(",")[0].replace("- Build settings: ", "")
                for s in torch.__config__.show().splitlines() if "BLAS_INFO" in s]
        self.info = {"versions": f"sentence-transformers {sentence_transformers.__version__}, "
                                 f"torch {torch.__version__}, threads {torch.get_num_threads()}",
                     "blas": blas + mapped_blas()}

    def embed(self, texts, batch):
        return self.model.encode(texts, batch_size=batch, convert_to_numpy=True,
                                 show_progress_bar=False)


class OrtEngine:
    def __init__(self, kind="ort"):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer
        self.np = np
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = onnx_path() if kind == "ort" else quantized_path(kind)
        self.session = ort.InferenceSession(str(path), so,
                                            providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(MODEL / "tokenizer.json"))
        self.tok.enable_truncation(MAX_SEQ_LENGTH)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest of each batch
        self.info = {"versions": f"onnxruntime {ort.__version__} (CPU), numpy {np.__version__}",
                     "blas": mapped_blas()}

    def embed(self, texts, batch):
        np = self.np
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))  # as ST's encode
        out = np.empty((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), batch):
            idx = order[start:start + batch]
            enc = self.tok.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.session.run(["last_hidden_state"], {
                "input_ids": ids, "attention_mask": mask,
                "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[:, :, None].astype(np.float32)
            pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.maximum(norms, 1e-12)
        return out


def worker(kind):
    """Line protocol on stdin/stdout: JSON commands in, one JSON reply per command."""
    engine = StEngine() if kind == "st" else OrtEngine(kind)
    texts = {}
    reply = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not break the protocol
    warm = read_texts("short")[:64] + read_texts("long")[:8]
    engine.embed(warm, 32)
    engine.embed(warm[:8], 1)
    info = dict(engine.info, rss_loaded_kb=memory_kb("VmRSS"))
    print(json.dumps({"ready": True, "info": info}), file=reply, flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            print(json.dumps({"peak_rss_kb": memory_kb("VmHWM")}), file=reply, flush=True)
            return
        w = cmd["workload"]
        if w not in texts:
            texts[w] = (ACCURACY_TEXTS.read_text(encoding="utf-8").rstrip("\n").split("\n")
                        if w == "accuracy" else read_texts(w))
        subset = texts[w][:cmd.get("limit", len(texts[w]))]
        t0 = time.perf_counter()
        emb = engine.embed(subset, cmd["batch"])
        dt = time.perf_counter() - t0
        if cmd["op"] == "save":
            import numpy as np
            np.save(cmd["path"], np.asarray(emb, dtype=np.float32))
        print(json.dumps({"texts_per_s": len(subset) / dt}), file=reply, flush=True)


class Worker:
    def __init__(self, py, kind):
        self.kind = kind
        self.proc = subprocess.Popen([py, __file__, "--worker", kind], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                     env={**os.environ, **ONE_THREAD, **QUIET})
        self.info = self._read()["info"]

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"text_peers: the {PEERS[self.kind]} worker died")
        return json.loads(line)

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def run(self, workload, batch):
        return self.ask(op="run", workload=workload, batch=batch)["texts_per_s"]

    def close(self):
        peak = self.ask(op="quit")["peak_rss_kb"]
        self.proc.wait()
        return peak


class Ours:
    def __init__(self, cmd, index):
        self.argv = shlex.split(cmd)
        self.peak_rss_kb = 0
        self.kind = f"ours{index}"
        self.name = "embedkit"

    def save(self, path):
        """The accuracy texts' embeddings into `path` (CMD --embed FILE --out NPY)."""
        p = subprocess.run(self.argv + ["--embed", str(ACCURACY_TEXTS), "--out", str(path)],
                           cwd=ROOT, env={**os.environ, **ONE_THREAD}, stdout=subprocess.PIPE)
        if p.returncode != 0:
            sys.exit(f"text_peers: {shlex.join(self.argv)} --embed exited with {p.returncode}")

    def run(self, workload, batch):
        p = subprocess.Popen(self.argv + ["--workload", workload, "--batch", str(batch)],
                             stdout=subprocess.PIPE, cwd=ROOT, text=True,
                             env={**os.environ, **ONE_THREAD})
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.exit(f"text_peers: --ours exited with {p.returncode}")
        self.peak_rss_kb = max(self.peak_rss_kb, usage.ru_maxrss)
        best = None
        for line in out.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            rec = json.loads(line)
            if rec.get("workload") == workload and int(rec.get("batch", -1)) == batch:
                self.name = rec.get("engine", self.name) + (
                    f" {rec['precision']}" if "precision" in rec else "")
                best = max(best or 0.0, float(rec["texts_per_s"]))
        if best is None:
            sys.exit(f"text_peers: --ours printed no JSON line for {workload} batch {batch}")
        return best

    def close(self):
        return self.peak_rss_kb


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", action="append", default=[],
                    help="command of embedkit's benchmark program (protocol above); repeatable")
    ap.add_argument("--peers", default="st,ort,ort-int8-ch,ort-int8-t",
                    help="peer engines to run (default: all)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workloads", default="short,long")
    ap.add_argument("--batches", default="32,1")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--worker", choices=sorted(PEERS), help=argparse.SUPPRESS)
    ap.add_argument("--export", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--quantize", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.export:
        return export_onnx()
    if args.quantize:
        return quantize_onnx()
    if args.worker:
        return worker(args.worker)

    if not (MODEL / "model.safetensors").exists():
        sys.exit(f"{MODEL} is missing: run scripts/get-model")
    py = sys.executable
    workloads = args.workloads.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    cpus = sorted(os.sched_getaffinity(0))
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores, this run may use {cpus}"
          + ("" if len(cpus) == 1 else "  (pin it: taskset -c 1 ...)"))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS"):
        print(f"{var}: {os.environ.get(var, '(not set)')}"
              + (" (workers: 1)" if var in ONE_THREAD else ""))
    print(f"python {platform.python_version()}")

    ensure_onnx(py)
    engines = [Worker(py, k) for k in args.peers.split(",")]
    for e in engines:
        print(f"{PEERS[e.kind]}: {e.info['versions']}; BLAS/libs: {', '.join(e.info['blas'])}; "
              f"RSS after loading {e.info['rss_loaded_kb'] / 1024:.0f} MB")

    # Same embeddings? ONNX Runtime fp32 against sentence-transformers, batch 32.
    import numpy as np
    CACHE.mkdir(parents=True, exist_ok=True)
    worst = 0.0
    kinds = {e.kind: e for e in engines}
    if "st" in kinds and "ort" in kinds:
        for w in workloads:
            got = {}
            for k in ("st", "ort"):
                path = CACHE / f"check_{k}_{w}.npy"
                kinds[k].ask(op="save", workload=w, batch=32, path=str(path))
                got[k] = np.load(path)
            d = float(np.abs(got["st"] - got["ort"]).max())
            worst = max(worst, d)
            print(f"check {w}: max |onnxruntime - sentence-transformers| = {d:.3g} over "
                  f"{got['st'].shape[0]} texts x {got['st'].shape[1]}")
        print(f"ONNX check: max difference {worst:.3g} "
              f"({'within' if worst <= 1e-5 else 'ABOVE'} 1e-5)")

    for i, cmd in enumerate(args.ours):
        engines.append(Ours(cmd, i))
    names = {e.kind: PEERS.get(e.kind, "embedkit") for e in engines}
    results = []
    for w in workloads:
        for b in batches:
            runs = {e.kind: [] for e in engines}
            for r in range(args.runs):
                k = r % len(engines)
                for e in engines[k:] + engines[:k]:
                    runs[e.kind].append(e.run(w, b))
            results.append({"workload": w, "batch": b, "runs": runs,
                            "best": {k: max(v) for k, v in runs.items()}})
            line = ", ".join(f"{names[k]} {max(v):.1f} ({min(v):.1f}..{max(v):.1f})"
                             for k, v in runs.items())
            print(f"  {w} batch {b}: {line}", flush=True)
    for e in engines:
        if isinstance(e, Ours):
            names[e.kind] = e.name

    # Accuracy: each engine's embeddings of the 2,084 test texts (batch 32) against
    # sentence-transformers' fp32 ones (tests/text/data/minilm_reference.npy).
    reference = np.load(ACCURACY_REFERENCE)
    accuracy = {}
    for e in engines:
        path = CACHE / f"accuracy_{e.kind}.npy"
        if isinstance(e, Ours):
            e.save(path)
        else:
            e.ask(op="save", workload="accuracy", batch=32, path=str(path))
        got = np.load(path).astype(np.float64)
        ref = reference.astype(np.float64)
        cos = (got * ref).sum(1) / np.maximum(
            np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1), 1e-30)
        accuracy[e.kind] = {"worst": float(cos.min()), "mean": float(cos.mean()),
                            "p001": float(np.quantile(cos, 0.001))}
    peaks = {e.kind: e.close() for e in engines}

    kinds = [e.kind for e in engines]
    ours = [k for k in kinds if k.startswith("ours")]
    pairs = [(o, p) for o in ours for p in kinds if not p.startswith("ours")] + \
        ([("ort", "st")] if "st" in kinds and "ort" in kinds else [])
    head = ["workload", "batch"] + [f"{names[k]} texts/s" for k in kinds] + \
        [f"{names[a]}/{names[b]}" for a, b in pairs]
    rows = []
    for res in results:
        best = res["best"]
        rows.append([res["workload"], str(res["batch"])] + [f"{best[k]:.1f}" for k in kinds]
                    + [f"{best[a] / best[b]:.2f}x" for a, b in pairs])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print(f"\nBest of {args.runs} runs, one thread, texts per second (tokenisation included):")
    print("| " + " | ".join(h.ljust(wd) for h, wd in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.rjust(wd) for c, wd in zip(r, widths)) + " |")
    print(f"\nCosine to sentence-transformers fp32 over the {reference.shape[0]} texts of "
          f"{ACCURACY_TEXTS.relative_to(ROOT)} (batch 32):")
    for k in kinds:
        a = accuracy[k]
        print(f"  {names[k]}: worst {a['worst']:.5f}, 0.1 % quantile {a['p001']:.5f}, "
              f"mean {a['mean']:.6f}")
    print("\nPeak RSS: " + ", ".join(f"{names[k]} {peaks[k] / 1024:.0f} MB" for k in kinds))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "cpu": cpu_model(), "affinity": cpus, "onnx_max_diff": worst,
            "engines": {k: names[k] for k in kinds},
            "info": {e.kind: e.info for e in engines if hasattr(e, "info")},
            "peak_rss_kb": peaks, "accuracy": accuracy, "results": results}, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
