// Bad-input rows (Word2Vec): vocabulary and training options, word2vec vector files, queries and
// evaluation files. Each EMBEDKIT_ERROR_ROW is one row of docs/ERRORS.md (same ID, type and
// message fragment).
#include "error_rows.hpp"

#include <embedkit/text/word2vec.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

namespace ek = embedkit;
namespace text = embedkit::text;

struct Files {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("embedkit_errors_w2v_" + std::to_string(std::random_device{}()));
    Files() { std::filesystem::create_directories(dir); }
    ~Files() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string write(const std::string& name, const std::string& bytes) const {
        const auto p = dir / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p.string();
    }
};

text::WordVectors two_words() {
    text::WordVectors wv;
    wv.words = {"a", "b"};
    wv.counts = {2, 1};
    wv.vectors = ek::RowMatrixF::Identity(2, 2);
    return wv;
}

}  // namespace

TEST_CASE("errors table: Word2Vec vocabulary and training") {
    const Files f;
    const std::string corpus = f.write("corpus.txt", "a b a b\nb a\n");
    text::VocabularyOptions vo;
    vo.min_count = 0;
    EMBEDKIT_ERROR_ROW("W2V-01", embedkit::ArgumentError,
                       "embedkit::text::build_vocabulary: min_count must be >= 1, got 0",
                       text::build_vocabulary(corpus, vo));
    vo.min_count = 1;
    vo.max_vocab = -1;
    EMBEDKIT_ERROR_ROW("W2V-02", embedkit::ArgumentError,
                       "embedkit::text::build_vocabulary: max_vocab must be >= 0, got -1",
                       text::build_vocabulary(corpus, vo));
    EMBEDKIT_ERROR_ROW("W2V-03", embedkit::IoError,
                       "embedkit::text::build_vocabulary: cannot open '",
                       text::build_vocabulary((f.dir / "missing.txt").string()));
    EMBEDKIT_ERROR_ROW("W2V-04", embedkit::ArgumentError,
                       "occurs min_count = 5 times or more (6 tokens read)",
                       text::build_vocabulary(corpus));
    vo.max_vocab = 0;
    const text::Vocabulary vocab = text::build_vocabulary(corpus, vo);
    text::Word2VecOptions o;
    o.progress.style = ek::ProgressOptions::Style::silent;
    const auto with = [&](auto change) {
        text::Word2VecOptions c = o;
        change(c);
        return c;
    };
    EMBEDKIT_ERROR_ROW("W2V-05", embedkit::ArgumentError,
                       "embedkit::text::train_word2vec: dim must be >= 1, got 0",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.dim = 0; })));
    EMBEDKIT_ERROR_ROW("W2V-06", embedkit::ArgumentError, "window must be in [1, 10000], got 0",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.window = 0; })));
    EMBEDKIT_ERROR_ROW("W2V-07", embedkit::ArgumentError, "negative must be in [1, 10000], got 0",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.negative = 0; })));
    EMBEDKIT_ERROR_ROW("W2V-08", embedkit::ArgumentError, "epochs must be >= 1, got 0",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.epochs = 0; })));
    EMBEDKIT_ERROR_ROW("W2V-09", embedkit::ArgumentError, "threads must be in [1, 1024], got 0",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.threads = 0; })));
    EMBEDKIT_ERROR_ROW("W2V-10", embedkit::ArgumentError,
                       "sample must be >= 0 and finite, got -1.000000",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.sample = -1; })));
    EMBEDKIT_ERROR_ROW("W2V-11", embedkit::ArgumentError,
                       "alpha must be in [0, 1] (0: the model's default), got 2.000000",
                       text::train_word2vec(corpus, vocab, with([](auto& c) { c.alpha = 2; })));
    EMBEDKIT_ERROR_ROW("W2V-12", embedkit::ArgumentError,
                       "embedkit::text::train_word2vec: empty vocabulary",
                       text::train_word2vec(corpus, text::Vocabulary{}, o));
    const std::string other = f.write("other.txt", "a b a\n");
    EMBEDKIT_ERROR_ROW("W2V-13", embedkit::ArgumentError,
                       "has 3 tokens, the vocabulary was built from a corpus of 6",
                       text::train_word2vec(other, vocab, o));
    EMBEDKIT_ERROR_ROW("W2V-14", embedkit::IoError, "embedkit::text::train_word2vec: cannot open '",
                       text::train_word2vec((f.dir / "gone.txt").string(), vocab, o));
    text::Vocabulary broken = vocab;
    broken.counts.pop_back();
    EMBEDKIT_ERROR_ROW("W2V-37", embedkit::ArgumentError,
                       "embedkit::text::train_word2vec: the vocabulary does not hold together",
                       text::train_word2vec(corpus, broken, o));
    EMBEDKIT_ERROR_ROW("W2V-15", embedkit::ArgumentError,
                       "embedkit::text::NegativeSampler: every count is zero",
                       text::NegativeSampler(std::vector<std::uint64_t>{0, 0}));
}

TEST_CASE("errors table: word2vec vector files") {
    const Files f;
    const auto load = [&](const std::string& bytes, bool binary) {
        return text::load_word2vec(f.write("v.txt", bytes), binary);
    };
    EMBEDKIT_ERROR_ROW("W2V-16", embedkit::FormatError, "no header line (\"words dim\")",
                       load("", false));
    EMBEDKIT_ERROR_ROW("W2V-17", embedkit::FormatError,
                       "is not two numbers \"words dim\" (words >= 0, dim >= 1)",
                       load("2 x\n", false));
    EMBEDKIT_ERROR_ROW("W2V-18", embedkit::FormatError,
                       "asks for more than 2^31 words or 2^20 dims", load("1 2000000\n", true));
    EMBEDKIT_ERROR_ROW("W2V-19", embedkit::FormatError, "more than the file holds",
                       load("1000000 100\n", true));
    EMBEDKIT_ERROR_ROW("W2V-20", embedkit::FormatError, "row 2 of 2: truncated or missing word",
                       load("2 1\na 1\n", false));
    EMBEDKIT_ERROR_ROW("W2V-21", embedkit::FormatError, "row 2 of 2: the word 'a' appears twice",
                       load("2 1\na 1\na 2\n", false));
    EMBEDKIT_ERROR_ROW("W2V-22", embedkit::FormatError, "row 1 of 1: truncated vector",
                       load(std::string("1 2\na ") + std::string(7, '\0'), true));
    EMBEDKIT_ERROR_ROW("W2V-23", embedkit::FormatError, "row 1 of 1: 1 values, header says 2",
                       load("1 2\na 1\n", false));
    EMBEDKIT_ERROR_ROW("W2V-24", embedkit::FormatError, "row 1 of 1: value 2 is not a number",
                       load("1 2\na 1 x\n", false));
    EMBEDKIT_ERROR_ROW("W2V-25", embedkit::FormatError,
                       "row 1 of 1: more values than the header's 2",
                       load("1 2\na 1 2 3\n", false));
    EMBEDKIT_ERROR_ROW("W2V-26", embedkit::FormatError, "more rows than the header's 1",
                       load("1 1\na 1\nb 2\n", false));
    EMBEDKIT_ERROR_ROW("W2V-27", embedkit::IoError, "embedkit::text::load_word2vec: cannot open '",
                       text::load_word2vec((f.dir / "none.bin").string(), true));
    text::WordVectors wv = two_words();
    wv.words.push_back("c");
    EMBEDKIT_ERROR_ROW("W2V-28", embedkit::DimensionError,
                       "embedkit::text::save_word2vec_text: 3 words but 2 vectors",
                       text::save_word2vec_text((f.dir / "o.txt").string(), wv));
    wv = two_words();
    wv.words[1] = "b c";
    EMBEDKIT_ERROR_ROW("W2V-29", embedkit::ArgumentError,
                       "embedkit::text::save_word2vec_binary: the word 'b c' is empty or holds "
                       "whitespace",
                       text::save_word2vec_binary((f.dir / "o.bin").string(), wv));
}

TEST_CASE("errors table: word-vector queries and evaluation") {
    const Files f;
    const text::WordVectors wv = two_words();
    const text::WordVectors none;
    EMBEDKIT_ERROR_ROW("W2V-30", embedkit::ArgumentError, "embedkit::text::WordIndex: no words",
                       text::WordIndex{none});
    const text::WordIndex index(wv);
    EMBEDKIT_ERROR_ROW("W2V-31", embedkit::ArgumentError,
                       "embedkit::text::WordIndex::nearest: k must be >= 1, got 0",
                       index.nearest("a", 0));
    EMBEDKIT_ERROR_ROW("W2V-32", embedkit::ArgumentError,
                       "embedkit::text::WordIndex::analogy: 'z' is not among the 2 indexed words",
                       index.analogy("a", "b", "z", 1));
    EMBEDKIT_ERROR_ROW("W2V-33", embedkit::FormatError, "line 2 has 3 words, expected 4",
                       text::evaluate_analogies(wv, f.write("q.txt", ": s\na b a\n")));
    EMBEDKIT_ERROR_ROW("W2V-34", embedkit::IoError,
                       "embedkit::text::evaluate_analogies: cannot open '",
                       text::evaluate_analogies(wv, (f.dir / "no.txt").string()));
    EMBEDKIT_ERROR_ROW("W2V-35", embedkit::FormatError, "line 1 is not \"word word score\"",
                       text::evaluate_similarity(wv, f.write("s.tsv", "a\tb\thigh\n")));
    text::WordVectors short_list = two_words();
    short_list.words.pop_back();
    EMBEDKIT_ERROR_ROW("W2V-38", embedkit::DimensionError,
                       "embedkit::text::WordIndex: 1 words but 2 vectors",
                       text::WordIndex{short_list});
    EMBEDKIT_ERROR_ROW("W2V-39", embedkit::ArgumentError,
                       "embedkit::text::spearman: value 1 is NaN or infinite",
                       text::spearman({1, std::nan(""), 3}, {1, 2, 3}));
    EMBEDKIT_ERROR_ROW("W2V-36", embedkit::DimensionError,
                       "embedkit::text::spearman: lists of 2 and 3 values",
                       text::spearman({1, 2}, {1, 2, 3}));
}

TEST_CASE("errors table: Word2Vec corpus kinds, divergence, .npy with a vocabulary file") {
    const Files f;
    const std::string corpus = f.write("corpus.txt", "a b a b\nb a\n");
    text::VocabularyOptions vo;
    vo.min_count = 1;
    const text::Vocabulary vocab = text::build_vocabulary(corpus, vo);
    text::Word2VecOptions o;
    o.progress.style = ek::ProgressOptions::Style::silent;
    EMBEDKIT_ERROR_ROW("W2V-40", embedkit::IoError,
                       "embedkit::text::train_word2vec: '/dev/null' is not a regular file",
                       text::train_word2vec("/dev/null", vocab, o));
    // The end-of-epoch check itself (no valid input is known to make training diverge; the
    // row documents that train_word2vec calls it after every epoch).
    ek::RowMatrixF fine = ek::RowMatrixF::Zero(2, 2), diverged = fine;
    diverged(1, 0) = std::nanf("");
    EMBEDKIT_ERROR_ROW("W2V-41", embedkit::NumericError,
                       "embedkit::text::train_word2vec: vectors became NaN or infinite in epoch 3",
                       text::detail::w2v_check_finite(fine, diverged, 2, 0.025f));
    const text::WordVectors wv = two_words();
    text::WordVectors uneven = wv;
    uneven.counts.push_back(4);
    EMBEDKIT_ERROR_ROW(
        "W2V-42", embedkit::DimensionError,
        "embedkit::text::save_word2vec_npy: 2 words but 3 counts",
        text::save_word2vec_npy((f.dir / "v.npy").string(), (f.dir / "v.tsv").string(), uneven));
    const std::string npy = (f.dir / "v.npy").string();
    text::save_word2vec_npy(npy, (f.dir / "v.tsv").string(), wv);
    EMBEDKIT_ERROR_ROW("W2V-43", embedkit::FormatError, "line 2: the count 'x' is not a decimal",
                       text::load_word2vec_npy(npy, f.write("bad.tsv", "a\t1\nb\tx\n")));
    EMBEDKIT_ERROR_ROW("W2V-44", embedkit::FormatError, "names 3 words, '",
                       text::load_word2vec_npy(npy, f.write("long.tsv", "a\t1\nb\t1\nc\t1\n")));
}
