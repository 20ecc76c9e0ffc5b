// semantic_search: question/passage retrieval (DPR style) with sentence embeddings. Indexes a
// text file of passages (one per line) into a .npy next to it, reused while it is up to date,
// then answers questions with the k best passages and their cosine scores.
//
//   semantic_search                                  # the built-in demo set
//   semantic_search --passages wiki.txt "Who wrote Hamlet?" "How tall is Everest?"
//   echo "Who wrote Hamlet?" | semantic_search --passages wiki.txt
#include "common/search_demo.hpp"
#include "common/text_support.hpp"

#include <embedkit/io/npy.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace ek = embedkit;
namespace fs = std::filesystem;

// What an index was made from: every file the encoder was loaded from (weights, vocabulary,
// pooling and the other configs) and the passages file, by path, size and modification time,
// the number of passages and the encoder's precision. The index is reused only when all agree.
std::string index_stamp(const ek::text::SentenceEncoder& encoder, const std::string& passages,
                        std::size_t rows) {
    std::ostringstream s;
    s << "embedkit semantic_search index 2\n";
    std::vector<std::string> files = encoder.files();
    files.push_back(passages);
    for (const std::string& p : files) {
        struct stat st {};
        if (::stat(p.c_str(), &st) != 0) throw ek::IoError("cannot stat '" + p + "'");
        s << fs::weakly_canonical(p).string() << " " << st.st_size << " " << st.st_mtim.tv_sec
          << "." << st.st_mtim.tv_nsec << "\n";
    }
    s << "rows " << rows << "\n";
    s << "precision " << ek::linalg::precision_name(encoder.encoder().precision()) << "\n";
    return s.str();
}

std::string slurp_or_empty(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    if (in) s << in.rdbuf();
    return s.str();
}

int run(int argc, char** argv) {
    example::Flags flags(
        "semantic_search",
        "Finds the passages that answer a question: passages and questions are embedded with a\n"
        "sentence-transformers model and ranked by cosine. Without --passages it runs a built-in\n"
        "demo of 20 passages and 8 questions. The passages' embeddings are kept in an .npy (and a\n"
        ".stamp file saying what they were made from) and reused while up to date.");
    example::add_model_flags(flags);
    flags.add("--passages", "", "text file of passages, one per line (default: the demo set)");
    flags.add("--index", "", "the passages' embeddings (default: PASSAGES.npy)");
    flags.add("--k", "3", "passages shown per question");
    flags.allow_positional("QUESTION",
                           "questions to answer (default: standard input, one per line; the "
                           "demo's own questions without --passages)");
    if (!flags.parse(argc, argv)) return 0;
    const auto k = static_cast<Eigen::Index>(flags.integer("--k", 1, 1000));

    const ek::text::SentenceEncoder encoder = example::load_encoder(flags);
    const std::string passages_file = flags.str("--passages");
    std::vector<std::string> passages, questions = flags.positionals();
    ek::RowMatrixF index;
    if (passages_file.empty()) {
        passages = example::demo_passages();
        if (questions.empty()) questions = example::demo_questions();
        index = encoder.encode(passages);
        std::cout << "demo: " << passages.size() << " passages\n";
    } else {
        passages = example::read_lines(passages_file);
        if (passages.empty()) throw ek::ArgumentError("'" + passages_file + "' has no passages");
        const std::string index_file =
            flags.str("--index").empty() ? passages_file + ".npy" : flags.str("--index");
        const std::string stamp_file = index_file + ".stamp";
        const std::string stamp = index_stamp(encoder, passages_file, passages.size());
        if (slurp_or_empty(stamp_file) == stamp && fs::exists(index_file)) {
            index = ek::io::read_npy<float>(index_file);
            std::cout << "using " << index_file << " (" << index.rows() << " passages)\n";
        }
        if (index.rows() != static_cast<Eigen::Index>(passages.size()) ||
            index.cols() != encoder.dimension()) {
            ek::ProgressBar bar("indexing", static_cast<std::int64_t>(passages.size()));
            index = encoder.encode(passages, [&](std::size_t done, std::size_t) {
                bar.update(static_cast<std::int64_t>(done));
            });
            bar.finish("indexed " + std::to_string(passages.size()) + " passages");
            ek::io::write_npy(index_file, index);
            example::write_text_atomic(stamp_file, stamp);
            std::cout << "wrote " << index_file << "\n";
        }
        if (questions.empty()) {
            if (::isatty(STDIN_FILENO)) std::cerr << "questions, one per line (end with Ctrl-D):\n";
            questions = example::read_lines("-");
        }
    }
    if (questions.empty()) return 0;

    const ek::TopK<float> hits = example::search_passages(encoder, index, questions, k);
    for (std::size_t q = 0; q < questions.size(); ++q) {
        std::cout << "\nQ: " << questions[q] << "\n";
        for (Eigen::Index r = 0; r < hits.indices.cols(); ++r) {
            const Eigen::Index p = hits.indices(static_cast<Eigen::Index>(q), r);
            std::printf("  %ld. %.4f  [%ld] %s\n", static_cast<long>(r + 1),
                        static_cast<double>(hits.scores(static_cast<Eigen::Index>(q), r)),
                        static_cast<long>(p), passages[static_cast<std::size_t>(p)].c_str());
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ek::Error& e) {
        std::cerr << "semantic_search: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "semantic_search: unexpected error: " << e.what() << "\n";
        return 3;
    }
}
