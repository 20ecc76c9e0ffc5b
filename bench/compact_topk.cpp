// embedkit's side of bench/compact_peers.py: top_k of float queries over a compact set made
// from a float32 .npy, one thread, timed; prints one JSON line and writes the indices.
//
//   compact_topk --base BASE.npy --queries Q.npy --storage f32|f16|bf16|int8|int8dim|binary
//                --metric dot|l2 [--k 10] [--rerank R] [--out IDX.npy] [--repeat N]
//
// The base is memory-mapped; the compact set is encoded before the clock starts (encoding time
// is reported separately). "seconds" is the best of --repeat runs of the whole top_k call.
// With --rerank R the compact scan keeps k * R candidates, re-scored against the mapped float
// rows. binary with --metric dot or l2 needs --rerank (Hamming without it).
#include <embedkit/embedkit.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

namespace ek = embedkit;

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr,
                 "compact_topk: %s\n"
                 "usage: compact_topk --base BASE.npy --queries Q.npy --storage "
                 "f32|f16|bf16|int8|int8dim|binary --metric dot|l2 [--k 10] [--rerank R] "
                 "[--out IDX.npy] [--repeat N]\n",
                 msg);
    std::exit(2);
}

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    std::string base, queries, storage, metric, out;
    Eigen::Index k = 10, rerank = 0;
    int repeat = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") usage("help");
        if (i + 1 >= argc) usage(("missing value after " + a).c_str());
        const std::string v = argv[++i];
        if (a == "--base")
            base = v;
        else if (a == "--queries")
            queries = v;
        else if (a == "--storage")
            storage = v;
        else if (a == "--metric")
            metric = v;
        else if (a == "--out")
            out = v;
        else if (a == "--k")
            k = std::stol(v);
        else if (a == "--rerank")
            rerank = std::stol(v);
        else if (a == "--repeat")
            repeat = std::max(1, std::stoi(v));
        else
            usage(("unknown option " + a).c_str());
    }
    if (base.empty() || queries.empty() || storage.empty() || metric.empty())
        usage("--base, --queries, --storage and --metric are required");
    if (metric != "dot" && metric != "l2") usage("--metric must be dot or l2");
    const ek::Metric m = metric == "dot" ? ek::Metric::dot : ek::Metric::l2_squared;
    ek::set_num_threads(1);
    const ek::io::MappedNpy<float> mapped = ek::io::map_npy<float>(base);
    const auto rows = mapped.matrix();
    const ek::RowMatrixF q = ek::io::read_npy<float>(queries);

    double t0 = now();
    ek::CompactSet set;
    if (storage == "f16")
        set = ek::encode(rows, ek::Storage::f16);
    else if (storage == "bf16")
        set = ek::encode(rows, ek::Storage::bf16);
    else if (storage == "int8")
        set = ek::encode(rows, ek::Storage::int8);
    else if (storage == "int8dim") {
        ek::CompactOptions o;
        o.int8_scale = ek::Int8Scale::per_dim;
        set = ek::encode(rows, ek::Storage::int8, o);
    } else if (storage == "binary")
        set = ek::encode(rows, ek::Storage::binary);
    else if (storage != "f32")
        usage("unknown --storage");
    const double encode_s = now() - t0;

    double best = 1e300;
    ek::TopK<float> r;
    for (int i = 0; i < repeat; ++i) {
        t0 = now();
        if (storage == "f32")
            r = ek::top_k(q, rows, k, m);
        else if (rerank > 0)
            r = ek::top_k(q, set, k, m, ek::rerank_with(rows, rerank));
        else if (storage == "binary")
            r = ek::top_k(q, set, k, ek::BitMetric::hamming);
        else
            r = ek::top_k(q, set, k, m);
        best = std::min(best, now() - t0);
    }
    if (!out.empty()) ek::io::write_npy(out, r.indices);
    std::printf(
        "{\"who\": \"embedkit\", \"storage\": \"%s\", \"metric\": \"%s\", \"k\": %ld, \"rerank\": "
        "%ld, \"queries\": %ld, \"rows\": %ld, \"dim\": %ld, \"seconds\": %.6f, \"qps\": %.3f, "
        "\"encode_seconds\": %.3f, \"kernels\": \"%s\", \"bytes_per_row\": %zu}\n",
        storage.c_str(), metric.c_str(), long(k), long(rerank), long(q.rows()), long(rows.rows()),
        long(rows.cols()), best, double(q.rows()) / best, encode_s,
        ek::detail::active_compact_table().name,
        storage == "f32" ? std::size_t(rows.cols()) * 4 : set.row_bytes());
    return 0;
}
