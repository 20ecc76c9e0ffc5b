// bench_sentence: embedkit's side of bench/text_peers.py (its --ours protocol). Embeds every
// line of bench/data/text_<workload>.txt in passes of --batch texts and prints one JSON line
// per run with the texts per second (tokenisation, encoder, pooling, normalisation; model
// loading excluded). Run it from the repository root, or pass --data.
//
//   bench_sentence --model models/all-MiniLM-L6-v2 --workload short --batch 32 [--threads 1]
//                  [--runs 1] [--data bench/data]
#include <embedkit/io/npy.hpp>
#include <embedkit/text/sentence_encoder.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

namespace ek = embedkit;

int usage(const char* why) {
    std::fprintf(stderr,
                 "bench_sentence: %s\nusage: bench_sentence [--model DIR] --workload short|long "
                 "--batch N [--threads N] [--runs N] [--data DIR] [--precision fp32|bf16|int8]\n"
                 "       bench_sentence [--model DIR] [--precision P] --embed TEXTS --out NPY\n",
                 why);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model = "models/all-MiniLM-L6-v2", workload, data = "bench/data", embed, out;
    long batch = 0, threads = 1, runs = 1;
    ek::linalg::Precision precision = ek::linalg::Precision::fp32;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            usage("embeds a benchmark workload and prints texts/s as JSON");
            return 0;
        }
        if (i + 1 >= argc) return usage(("flag " + a + " needs a value").c_str());
        const std::string v = argv[++i];
        if (a == "--model")
            model = v;
        else if (a == "--workload")
            workload = v;
        else if (a == "--data")
            data = v;
        else if (a == "--embed")
            embed = v;
        else if (a == "--out")
            out = v;
        else if (a == "--batch")
            batch = std::strtol(v.c_str(), nullptr, 10);
        else if (a == "--threads")
            threads = std::strtol(v.c_str(), nullptr, 10);
        else if (a == "--runs")
            runs = std::strtol(v.c_str(), nullptr, 10);
        else if (a == "--precision") {
            try {
                precision = ek::linalg::parse_precision(v);
            } catch (const std::exception& e) {
                return usage(e.what());
            }
        } else
            return usage(("unknown flag " + a).c_str());
    }
    if (!embed.empty()) {
        if (out.empty()) return usage("--embed needs --out");
        if (batch == 0) batch = 32;
    } else if (workload != "short" && workload != "long") {
        return usage("--workload must be short or long");
    }
    if (batch < 1 || threads < 1 || threads > ek::max_num_threads || runs < 1)
        return usage("--batch, --threads and --runs must be positive");
    try {
        const std::string file = embed.empty() ? data + "/text_" + workload + ".txt" : embed;
        std::ifstream in(file, std::ios::binary);
        if (!in) return usage(("cannot open " + file).c_str());
        std::vector<std::string> texts;
        std::string line;
        while (std::getline(in, line)) texts.push_back(line);
        ek::text::EncoderOptions o;
        o.threads = static_cast<int>(threads);
        o.batch_size = static_cast<std::size_t>(batch);
        o.precision = precision;
        const ek::text::SentenceEncoder enc = ek::text::SentenceEncoder::load(model, o);
        if (!embed.empty()) {
            ek::io::write_npy(out, enc.encode(texts));
            return 0;
        }
        for (long r = 0; r < runs; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            const ek::RowMatrixF e = enc.encode(texts);
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::printf(
                "{\"engine\":\"embedkit\",\"precision\":\"%s\",\"level\":\"%s\","
                "\"workload\":\"%s\",\"batch\":%ld,\"threads\":%ld,"
                "\"texts\":%ld,\"texts_per_s\":%.2f}\n",
                ek::linalg::precision_name(precision),
                std::string(ek::simd::level_name(ek::simd::active())).c_str(), workload.c_str(),
                batch, threads, static_cast<long>(e.rows()), static_cast<double>(texts.size()) / s);
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_sentence: %s\n", e.what());
        return 1;
    }
    return 0;
}
