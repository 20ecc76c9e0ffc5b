// Word2Vec's quality bar in the full check: skip-gram on the first 2 million words of
// scripts/get-corpus's corpus, evaluated on scripts/get-word-eval's files (missing files skip
// locally and fail under CI=true).
#include <embedkit/text/word2vec.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace ek = embedkit;
namespace text = embedkit::text;

namespace {

std::string slice_path() {
    return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
           "/ek_w2v_quality_" + std::to_string(::getpid()) + "_slice_2m.txt";
}

// A file the full check fetches (scripts/get-corpus, scripts/get-word-eval): its path, or ""
// after reporting the skip (or the failure, under CI=true).
std::string data_file_or_skip(const std::string& path, const char* script) {
    std::ifstream probe(path);
    if (probe) return path;
    const char* ci = std::getenv("CI");
    if (ci != nullptr && std::string(ci) == "true")
        FAIL("'", path, "' not found: CI must fetch it (", script, ", which scripts/test runs)");
    MESSAGE("skipped: '", path, "' not found (run ", script, ")");
    return std::string();
}

}  // namespace

TEST_CASE("word2vec: skip-gram on the corpus's first 2 million words reaches the quality bars") {
    // The full check's bar (issue 16): 5 epochs of skip-gram (dim 100, window 5, negative 5,
    // min_count 5, sample 1e-3) on the first 2,000,000 words of scripts/get-corpus's corpus:
    // WordSim-353 Spearman >= 0.35 and analogy accuracy (top 30,000 words) >= 7 % (gensim on the
    // slice built by the author: 0.393 and 9.0 %; on this script's corpus 0.378-0.380 and
    // 7.5-8.0 %, gensim 4.3.3, one thread, seeds 1-3; embedkit here: 0.3616 and 7.81 %).
    const std::string data = EMBEDKIT_DATA_DIR;
    const std::string corpus = data_file_or_skip(data + "/corpus/corpus.txt", "scripts/get-corpus");
    const std::string questions =
        data_file_or_skip(data + "/eval/questions-words.txt", "scripts/get-word-eval");
    const std::string pairs =
        data_file_or_skip(data + "/eval/wordsim353.tsv", "scripts/get-word-eval");
    if (corpus.empty() || questions.empty() || pairs.empty()) return;
    const std::string slice = slice_path();
    {
        std::ifstream in(corpus);
        std::ofstream out(slice);
        std::string line;
        std::uint64_t words = 0;
        while (words < 2000000 && std::getline(in, line)) {
            std::istringstream tokens(line);
            std::string w, kept;
            while (words < 2000000 && tokens >> w) {
                kept += (kept.empty() ? "" : " ") + w;
                ++words;
            }
            out << kept << "\n";
        }
        REQUIRE(words == 2000000);
    }
    const text::Vocabulary vocab = text::build_vocabulary(slice);
    // One thread: the result is the same on every run at a given SIMD level (two threads race,
    // as in word2vec.c and gensim, and move the figures by a few tenths of a point).
    text::Word2VecOptions o;
    o.threads = 1;
    o.progress.style = ek::ProgressOptions::Style::silent;
    text::Word2VecStats stats;
    const text::WordVectors wv = text::train_word2vec(slice, vocab, o, &stats);
    const text::SimilarityReport s = text::evaluate_similarity(wv, pairs);
    const text::AnalogyReport a = text::evaluate_analogies(wv, questions);
    MESSAGE("2M words, 5 epochs: ", stats.seconds, " s, WordSim-353 ", s.spearman, " over ",
            s.covered, " pairs, analogies ", a.total.accuracy(), " over ", a.total.covered);
    CHECK(s.spearman >= 0.35);
    CHECK(a.total.accuracy() >= 0.07);
    std::remove(slice.c_str());
}
