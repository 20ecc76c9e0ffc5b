// Word2Vec: the negative table, subsampling and learning-rate formulas, the update kernel at
// every level against its formula and the objective's gradient against finite differences,
// and training on a corpus with planted groups.
#include <embedkit/text/word2vec.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace ek = embedkit;
namespace text = embedkit::text;

namespace {

std::string temp_path(const std::string& name) {
    return std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/ek_w2v_" +
           std::to_string(::getpid()) + "_" + name;
}

// Eight groups of 12 words; each line draws its words from one group only, so words co-occur
// only within their group.
std::string planted_corpus(int lines, unsigned seed) {
    const std::string path = temp_path("planted_" + std::to_string(seed) + ".txt");
    std::ofstream out(path);
    std::mt19937 rng(seed);
    for (int l = 0; l < lines; ++l) {
        const int g = static_cast<int>(rng() % 8);
        const int len = 5 + static_cast<int>(rng() % 10);
        for (int i = 0; i < len; ++i) out << (i ? " " : "") << "g" << g << "w" << rng() % 12;
        out << "\n";
    }
    return path;
}

}  // namespace

TEST_CASE(
    "word2vec: negatives are drawn with count^0.75 / sum, keep and learning rate follow "
    "their formulas") {
    const std::vector<std::uint64_t> counts{1000, 100, 10, 1, 1, 250};
    const text::NegativeSampler sampler(counts);
    REQUIRE(sampler.size() == counts.size());
    double z = 0;
    for (auto c : counts) z += std::pow(double(c), 0.75);
    for (std::size_t i = 0; i < counts.size(); ++i)
        CHECK(sampler.probability(i) ==
              doctest::Approx(std::pow(double(counts[i]), 0.75) / z).epsilon(1e-9));
    // And the draws follow them: 600,000 draws, each frequency within 5 standard errors.
    std::vector<double> seen(counts.size(), 0);
    text::detail::W2vRandom rng{3};
    const int draws = 600000;
    for (int d = 0; d < draws; ++d) seen[sampler.draw(rng.next())] += 1;
    for (std::size_t i = 0; i < counts.size(); ++i) {
        const double p = std::pow(double(counts[i]), 0.75) / z;
        CHECK(std::fabs(seen[i] / draws - p) <= 5 * std::sqrt(p * (1 - p) / draws));
    }
    // keep = (sqrt(c / (s T)) + 1) s T / c, capped at 1.
    CHECK(text::keep_probability(1000, 1e-3, 100000) ==
          doctest::Approx((std::sqrt(1000 / 100.0) + 1) * 100.0 / 1000));
    CHECK(text::keep_probability(10, 1e-3, 100000) == 1.0);
    CHECK(text::keep_probability(1000, 0, 100000) == 1.0);
    CHECK(text::learning_rate(0.025, 0, 1000) == doctest::Approx(0.025));
    CHECK(text::learning_rate(0.025, 500, 999) == doctest::Approx(0.0125));
    CHECK(text::learning_rate(0.025, 1000, 1000) == doctest::Approx(0.025 / 1001));
    CHECK(text::learning_rate(0.025, 2000, 1000) == doctest::Approx(0.025 * 1e-4));  // the floor
}

TEST_CASE(
    "word2vec: the update kernel at every level follows its formula, which is the "
    "objective's gradient") {
    const Eigen::Index dim = 37;
    const float* table = text::detail::w2v_sigmoid_table().data();
    std::mt19937 rng(4);
    std::normal_distribution<float> normal(0.0f, 0.3f);
    std::vector<float> in(dim), syn1(5 * dim);
    for (float& x : in) x = normal(rng);
    for (float& x : syn1) x = normal(rng);
    const std::vector<std::uint32_t> targets{2, 0, 4};
    const float alpha = 0.01f;
    for (const ek::simd::Level level : ek::simd::supported()) {
        INFO("level ", std::string(ek::simd::level_name(level)));
        std::vector<float> out = syn1, neu1e(dim, 0.0f);
        text::detail::sgns_kernel(level)(in.data(), out.data(), targets.data(), 3, dim, alpha,
                                         table, neu1e.data());
        std::vector<double> want_neu(dim, 0.0);
        std::vector<double> want_out(syn1.begin(), syn1.end());
        for (int d = 0; d < 3; ++d) {
            const Eigen::Index t = targets[static_cast<std::size_t>(d)];
            double f = 0;
            for (Eigen::Index j = 0; j < dim; ++j) f += double(in[j]) * want_out[t * dim + j];
            const double g =
                text::detail::w2v_gradient(static_cast<float>(f), d == 0 ? 1.0f : 0.0f, table) *
                double(alpha);
            for (Eigen::Index j = 0; j < dim; ++j) want_neu[j] += g * want_out[t * dim + j];
            for (Eigen::Index j = 0; j < dim; ++j) want_out[t * dim + j] += g * in[j];
        }
        for (Eigen::Index j = 0; j < dim; ++j)
            CHECK(neu1e[j] == doctest::Approx(want_neu[j]).epsilon(1e-5));
        for (std::size_t j = 0; j < out.size(); ++j)
            CHECK(out[j] == doctest::Approx(want_out[j]).epsilon(1e-5));
    }
    // The formula: d/d in of log s(in.o0) + sum log s(-in.od) is (1 - s(f0)) o0 - sum s(fd) od,
    // which (label - sigmoid) out gives; finite differences in long double agree.
    const auto objective = [&](const std::vector<long double>& v) {
        long double L = 0;
        for (int d = 0; d < 3; ++d) {
            long double f = 0;
            for (Eigen::Index j = 0; j < dim; ++j) f += v[j] * syn1[targets[d] * dim + j];
            L += d == 0 ? -std::log1p(std::exp(-f)) : -std::log1p(std::exp(f));
        }
        return L;
    };
    std::vector<long double> v(in.begin(), in.end());
    for (Eigen::Index j = 0; j < dim; j += 5) {
        long double analytic = 0;
        for (int d = 0; d < 3; ++d) {
            long double f = 0;
            for (Eigen::Index i = 0; i < dim; ++i) f += v[i] * syn1[targets[d] * dim + i];
            const long double s = 1 / (1 + std::exp(-f));
            analytic += ((d == 0 ? 1 : 0) - s) * syn1[targets[d] * dim + j];
        }
        const long double h = 1e-6L;
        auto vp = v, vm = v;
        vp[j] += h;
        vm[j] -= h;
        const long double numeric = (objective(vp) - objective(vm)) / (2 * h);
        CHECK(static_cast<double>(std::fabs(numeric - analytic)) < 1e-7);
    }
}

TEST_CASE("word2vec: the kernel's updates at every level are the objective's gradient") {
    // L = log s(in.o0) + log s(-in.o1) + log s(-in.o2) (one true word, two negatives). The
    // kernel adds alpha dL/d in to neu1e and alpha dL/d od to each output row; both against
    // central differences of L in long double. The kernel reads the sigmoid from word2vec.c's
    // table at x = 0.996 f - 0.024 less up to one step of 0.012 (the references' index):
    // |error| <= max s' (0.036 + 0.004 |f|) = 0.25 (0.036 + 0.004 |f|) <= 0.0125 for |f| <= 3.
    const Eigen::Index dim = 29;
    const float* table = text::detail::w2v_sigmoid_table().data();
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 0.4f);
    std::vector<float> in(dim), syn1(4 * dim);
    for (float& x : in) x = normal(rng);
    for (float& x : syn1) x = normal(rng);
    const std::vector<std::uint32_t> targets{3, 1, 0};
    const auto objective = [&](const std::vector<long double>& v,
                               const std::vector<long double>& o) {
        long double L = 0;
        for (int d = 0; d < 3; ++d) {
            long double f = 0;
            for (Eigen::Index j = 0; j < dim; ++j) f += v[j] * o[targets[d] * dim + j];
            L += d == 0 ? -std::log1p(std::exp(-f)) : -std::log1p(std::exp(f));
        }
        return L;
    };
    const std::vector<long double> v0(in.begin(), in.end()), o0(syn1.begin(), syn1.end());
    for (int d = 0; d < 3; ++d) {
        long double f = 0;
        for (Eigen::Index j = 0; j < dim; ++j) f += v0[j] * o0[targets[d] * dim + j];
        REQUIRE(std::fabs(f) <= 3);  // the bound's range
    }
    const long double h = 1e-5L;
    const float alpha = 0.5f;
    for (const ek::simd::Level level : ek::simd::supported()) {
        INFO("level ", std::string(ek::simd::level_name(level)));
        std::vector<float> out = syn1, neu1e(dim, 0.0f);
        text::detail::sgns_kernel(level)(in.data(), out.data(), targets.data(), 3, dim, alpha,
                                         table, neu1e.data());
        for (Eigen::Index j = 0; j < dim; ++j) {
            auto vp = v0, vm = v0;
            vp[j] += h;
            vm[j] -= h;
            const long double numeric = (objective(vp, o0) - objective(vm, o0)) / (2 * h);
            long double bound = 1e-6L;
            for (int d = 0; d < 3; ++d) bound += 0.0125L * std::fabs(o0[targets[d] * dim + j]);
            CHECK(static_cast<double>(std::fabs(neu1e[j] / alpha - numeric)) <=
                  static_cast<double>(bound));
        }
        for (int d = 0; d < 3; ++d)
            for (Eigen::Index j = 0; j < dim; ++j) {
                const Eigen::Index k = targets[d] * dim + j;
                auto op = o0, om = o0;
                op[k] += h;
                om[k] -= h;
                const long double numeric = (objective(v0, op) - objective(v0, om)) / (2 * h);
                const long double got = (out[k] - syn1[k]) / static_cast<long double>(alpha);
                CHECK(static_cast<double>(std::fabs(got - numeric)) <=
                      static_cast<double>(0.0125L * std::fabs(v0[j]) + 1e-5L));
            }
        // Rows that are not targets are untouched.
        for (Eigen::Index j = 0; j < dim; ++j) CHECK(out[2 * dim + j] == syn1[2 * dim + j]);
    }
}

TEST_CASE("word2vec: the update kernel skips saturated products and handles short vectors") {
    const float* table = text::detail::w2v_sigmoid_table().data();
    for (const Eigen::Index dim : {1, 5, 8, 16, 17}) {
        std::vector<float> in(static_cast<std::size_t>(dim), 3.0f),
            syn1(static_cast<std::size_t>(3 * dim));
        for (std::size_t j = 0; j < syn1.size(); ++j)
            syn1[j] = j < static_cast<std::size_t>(dim) ? 4.0f : 0.1f;
        const std::vector<std::uint32_t> targets{0, 1, 2};
        for (const ek::simd::Level level : ek::simd::supported()) {
            INFO("level ", std::string(ek::simd::level_name(level)), " dim ", dim);
            std::vector<float> out = syn1, neu1e(static_cast<std::size_t>(dim), 0.0f);
            text::detail::sgns_kernel(level)(in.data(), out.data(), targets.data(), 3, dim, 0.5f,
                                             table, neu1e.data());
            // Row 0: f = 12 dim >= 6, no update. Rows 1, 2: f = 0.3 dim, label 0.
            for (Eigen::Index j = 0; j < dim; ++j) CHECK(out[static_cast<std::size_t>(j)] == 4.0f);
            const float f = 0.3f * static_cast<float>(dim);
            // The table entry word2vec.c and gensim read: index (int)((f + 6) * 83).
            const int i = static_cast<int>((double(f) + 6) * 83);
            const double g = f >= 6 ? 0 : -0.5 / (1 + std::exp(-(i / 1000.0 * 12 - 6)));
            for (std::size_t j = static_cast<std::size_t>(dim); j < out.size(); ++j)
                CHECK(out[j] == doctest::Approx(0.1 + g * 3).epsilon(1e-5));
            for (Eigen::Index j = 0; j < dim; ++j)
                CHECK(neu1e[static_cast<std::size_t>(j)] ==
                      doctest::Approx(2 * g * 0.1).epsilon(1e-5));
        }
    }
    const float nan = std::nanf("");
    CHECK(std::isnan(text::detail::w2v_gradient(nan, 1.0f, table)));
}

TEST_CASE(
    "word2vec: threads split the file by byte ranges: CRLF, no final newline, more threads "
    "than lines, a line longer than a sentence") {
    const std::string path = temp_path("lines.txt");
    {
        std::ofstream out(path, std::ios::binary);
        out << "a b c\r\nb c a b\r\n\r\nc";
        for (int i = 0; i < 25000; ++i) out << (i % 2 ? " a" : " b");
    }
    text::VocabularyOptions vo;
    vo.min_count = 1;
    const text::Vocabulary vocab = text::build_vocabulary(path, vo);
    CHECK(vocab.corpus_words == 7 + 1 + 25000);
    for (const int threads : {1, 2, 7}) {
        text::Word2VecOptions o;
        o.threads = threads;
        o.epochs = 2;
        o.dim = 8;
        o.progress.style = ek::ProgressOptions::Style::silent;
        text::Word2VecStats stats;
        const text::WordVectors wv = text::train_word2vec(path, vocab, o, &stats);
        INFO("threads ", threads);
        CHECK(stats.raw_words == vocab.corpus_words * 2);  // every token once per epoch
        CHECK(wv.vectors.allFinite());
    }
    std::remove(path.c_str());
}

TEST_CASE(
    "word2vec: the corpus streams in blocks, and byte ranges that tile it read each token once") {
    const std::string bytes = "ab c\r\n  dd\teee\n\nf gg h\n i\vjj \n\nkkk";
    const std::string path = temp_path("tokens.txt");
    {
        std::ofstream out(path, std::ios::binary);
        out << bytes;
    }
    // The expected tokens, and which start a line (a newline before them).
    std::vector<std::string> want;
    std::vector<bool> want_new;
    {
        std::string line, scratch;
        std::istringstream in(bytes);
        bool first_of_line = false;
        while (std::getline(in, line)) {
            text::detail::for_each_token(line, true, scratch, [&](const std::string& t) {
                want.push_back(t);
                want_new.push_back(first_of_line);
                first_of_line = false;
            });
            first_of_line = true;
        }
    }
    want_new[0] = false;
    REQUIRE(want.size() == 10);
    // Three ranges at every pair of cuts and block sizes down to one byte: the tokens once, in
    // order, and every token after a range's first flags the newline before it.
    const auto read = [&](std::uint64_t b, std::uint64_t e, std::size_t block,
                          std::vector<std::string>& got, std::vector<int>& flags) {
        text::detail::W2vTokens tokens(path, "test", b, e, true, block);
        std::string t;
        bool new_line = false;
        bool first = true;
        while (tokens.next(t, new_line)) {
            got.push_back(t);
            flags.push_back(first ? -1 : int(new_line));
            first = false;
        }
    };
    for (const std::size_t block : {1, 2, 3, 5, 64}) {
        for (std::uint64_t c1 = 0; c1 <= bytes.size(); ++c1)
            for (std::uint64_t c2 = c1; c2 <= bytes.size(); ++c2) {
                INFO("block ", block, " cuts ", c1, " ", c2);
                std::vector<std::string> got;
                std::vector<int> flags;
                read(0, c1, block, got, flags);
                read(c1, c2, block, got, flags);
                read(c2, bytes.size(), block, got, flags);
                REQUIRE(got == want);
                for (std::size_t i = 0; i < flags.size(); ++i)
                    if (flags[i] >= 0) CHECK(flags[i] == int(want_new[i]));
            }
        // Lines as std::getline counts them, with and without a final newline.
        for (const std::string& tail : {std::string(), std::string("\n")}) {
            {
                std::ofstream out(path, std::ios::binary);
                out << bytes << tail;
            }
            text::detail::W2vTokens all(path, "test", 0, ~std::uint64_t(0), false, block);
            std::string t;
            bool nl = false;
            while (all.next(t, nl)) {}
            CHECK(all.newlines() + (all.ends_with_newline() ? 0 : 1) == 7);
        }
        std::ofstream(path, std::ios::binary) << bytes;
    }
    text::VocabularyOptions vo;
    vo.min_count = 1;
    CHECK(text::build_vocabulary(path, vo).lines == 7);
    CHECK(text::build_vocabulary(path, vo).corpus_words == 10);
    // A corpus of one line (text8's shape): two threads share it, each token trained once.
    {
        std::ofstream out(path, std::ios::binary);
        std::mt19937 rng(5);
        for (int i = 0; i < 30000; ++i) out << "w" << rng() % 50 << ' ';
    }
    const text::Vocabulary one = text::build_vocabulary(path, vo);
    CHECK(one.lines == 1);
    CHECK(one.corpus_words == 30000);
    {  // each half of the bytes holds tokens of its own (std::getline gave the line to one)
        const auto size = static_cast<std::uint64_t>(std::ifstream(path, std::ios::ate).tellg());
        std::vector<std::string> first, second;
        std::vector<int> flags;
        read(0, size / 2, 1 << 16, first, flags);
        read(size / 2, size, 1 << 16, second, flags);
        CHECK(first.size() > 14000);
        CHECK(second.size() > 14000);
        CHECK(first.size() + second.size() == 30000);
    }
    text::Word2VecOptions o;
    o.threads = 2;
    o.epochs = 2;
    o.dim = 8;
    o.progress.style = ek::ProgressOptions::Style::silent;
    text::Word2VecStats stats;
    const text::WordVectors wv = text::train_word2vec(path, one, o, &stats);
    CHECK(stats.raw_words == 60000);
    CHECK(wv.vectors.allFinite());
    std::remove(path.c_str());
}

TEST_CASE("word2vec: training keeps words at the subsampling rate the formula gives") {
    // Ten words with counts 20000, 10000, ..., spread over lines; sample 1e-2 drops most of
    // the frequent ones. Words trained on (stats.effective_words) against sum count x keep x
    // epochs, within 5 standard deviations.
    const std::string path = temp_path("subsample.txt");
    std::vector<std::uint64_t> counts;
    {
        std::vector<std::string> tokens;
        for (int w = 0; w < 10; ++w) {
            const int c = 20000 >> (w / 2) >> (w % 2);
            for (int i = 0; i < c; ++i) tokens.push_back("w" + std::to_string(w));
        }
        std::shuffle(tokens.begin(), tokens.end(), std::mt19937(8));
        std::ofstream out(path, std::ios::binary);
        for (std::size_t i = 0; i < tokens.size(); ++i)
            out << tokens[i] << (i % 20 == 19 ? '\n' : ' ');
    }
    text::VocabularyOptions vo;
    vo.min_count = 1;
    const text::Vocabulary vocab = text::build_vocabulary(path, vo);
    REQUIRE(vocab.size() == 10);
    text::Word2VecOptions o;
    o.sample = 1e-2;
    o.epochs = 3;
    o.dim = 4;
    o.progress.style = ek::ProgressOptions::Style::silent;
    text::Word2VecStats stats;
    text::train_word2vec(path, vocab, o, &stats);
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < vocab.size(); ++i) {
        const double k = text::keep_probability(vocab.counts[i], o.sample, vocab.train_words);
        mean += double(vocab.counts[i]) * k * o.epochs;
        var += double(vocab.counts[i]) * k * (1 - k) * o.epochs;
    }
    INFO("effective ", stats.effective_words, " expected ", mean, " +- ", std::sqrt(var));
    CHECK(mean < 0.6 * double(vocab.train_words) * o.epochs);  // the test drops many words
    CHECK(std::fabs(double(stats.effective_words) - mean) <= 5 * std::sqrt(var));
    std::remove(path.c_str());
}

TEST_CASE("word2vec: words that co-occur only within their group cluster by group") {
    const std::string path = planted_corpus(6000, 7);
    text::VocabularyOptions vo;
    vo.min_count = 1;
    const text::Vocabulary vocab = text::build_vocabulary(path, vo);
    CHECK(vocab.size() == 96);
    for (const auto model :
         {text::Word2VecOptions::Model::skipgram, text::Word2VecOptions::Model::cbow}) {
        text::Word2VecOptions o;
        o.model = model;
        o.dim = 24;
        o.epochs = 3;
        o.sample = 0;
        o.progress.style = ek::ProgressOptions::Style::silent;
        const text::WordVectors wv = text::train_word2vec(path, vocab, o);
        ek::RowMatrixF n = wv.vectors.rowwise().normalized();
        const ek::RowMatrixF sims = n * n.transpose();
        int same = 0;
        for (Eigen::Index i = 0; i < sims.rows(); ++i) {
            Eigen::Index best = -1;
            float top = -2;
            for (Eigen::Index j = 0; j < sims.cols(); ++j)
                if (j != i && sims(i, j) > top) top = sims(i, j), best = j;
            same += wv.words[i].substr(0, 2) == wv.words[best].substr(0, 2);
        }
        INFO("model ", model == text::Word2VecOptions::Model::skipgram ? "sg" : "cbow");
        CHECK(same >= 92);  // of 96
        // One thread, one seed: the same bits again.
        const text::WordVectors again = text::train_word2vec(path, vocab, o);
        CHECK((again.vectors - wv.vectors).cwiseAbs().maxCoeff() == 0.0f);
    }
    std::remove(path.c_str());
}

namespace {

// Four words on three axes: man = (1, 0, 0), woman = (0, 1, 0), royal = (0, 0, 1);
// king = man + royal, queen = woman + royal, plus a distractor.
text::WordVectors royal_vectors() {
    text::WordVectors wv;
    wv.words = {"man", "woman", "king", "queen", "apple"};
    wv.counts = {5, 4, 3, 2, 1};
    wv.vectors.resize(5, 3);
    wv.vectors << 1, 0, 0.1f, 0, 1, 0.1f, 1, 0, 1, 0, 1, 1, -1, -1, 0.2f;
    return wv;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("word2vec files: text bytes as word2vec.c writes them, binary and text round trips") {
    text::WordVectors wv;
    wv.words = {"a", "bb"};
    wv.vectors.resize(2, 3);
    wv.vectors << 0.5f, -1, 0, 1.25f, 2, -0.0000004f;
    const std::string t = temp_path("small.txt"), b = temp_path("small.bin");
    text::save_word2vec_text(t, wv);
    CHECK(read_file(t) == "2 3\na 0.500000 -1.000000 0.000000 \nbb 1.250000 2.000000 -0.000000 \n");
    text::save_word2vec_binary(b, wv);
    const std::string bytes = read_file(b);
    CHECK(bytes.size() == 4 + 2 + 12 + 1 + 3 + 12 + 1);
    CHECK(bytes.substr(0, 6) == "2 3\na ");
    const text::WordVectors back = text::load_word2vec(b, true);
    CHECK(back.words == wv.words);
    CHECK((back.vectors - wv.vectors).cwiseAbs().maxCoeff() == 0.0f);
    const text::WordVectors back_t = text::load_word2vec(t, false);
    CHECK(back_t.words == wv.words);
    CHECK((back_t.vectors - wv.vectors).cwiseAbs().maxCoeff() <= 5e-7f);
    // .npy + vocabulary file, and back.
    wv.counts = {7, 3};
    const std::string npy = temp_path("small.npy"), tsv = temp_path("small.tsv");
    text::save_word2vec_npy(npy, tsv, wv);
    CHECK(read_file(tsv) == "a\t7\nbb\t3\n");
    const text::WordVectors back_n = text::load_word2vec_npy(npy, tsv);
    CHECK(back_n.words == wv.words);
    CHECK(back_n.counts == wv.counts);
    CHECK((back_n.vectors - wv.vectors).cwiseAbs().maxCoeff() == 0.0f);
    for (const auto& bad : std::vector<std::pair<std::string, std::string>>{
             {"a\t7\n", "names 1 words, '"},
             {"a\t7\nbb\n", "line 2: not \"word<TAB>count\""},
             {"a\t7\nbb\tx\n", "line 2: the count 'x' is not a decimal number"},
             {"a\t7\na\t3\n", "line 2: the word 'a' is also on line 1"},
             {"a b\t7\nbb\t3\n", "line 1: the word holds whitespace"}}) {
        write_file(tsv, bad.first);
        CHECK_THROWS_WITH_AS(text::load_word2vec_npy(npy, tsv),
                             doctest::Contains(bad.second.c_str()), ek::FormatError);
    }
    write_file(tsv, "a\t7\r\nbb\t3\r\n");  // CRLF lines
    CHECK(text::load_word2vec_npy(npy, tsv).counts == wv.counts);
    std::remove(npy.c_str());
    std::remove(tsv.c_str());
    // gensim's text rows have no trailing space and full precision.
    write_file(t, "2 2\nx 0.125 -3e-05\ny 1 2\n");
    const text::WordVectors g = text::load_word2vec(t, false);
    CHECK(g.vectors(0, 1) == -3e-05f);
    std::remove(t.c_str());
    std::remove(b.c_str());
}

TEST_CASE("word2vec files: malformed files are FormatErrors naming the problem") {
    const std::string p = temp_path("bad.txt");
    const auto fails = [&](const std::string& bytes, bool binary, const std::string& what) {
        write_file(p, bytes);
        INFO("file ", bytes.substr(0, 40));
        CHECK_THROWS_WITH_AS(text::load_word2vec(p, binary), doctest::Contains(what.c_str()),
                             ek::FormatError);
    };
    fails("", false, "no header line");
    fails("two three\n", false, "is not two numbers");
    fails("2 0\n", false, "is not two numbers");
    fails("1 3\na 1 2\n", false, "2 values, header says 3");
    fails("1 2\na 1 x\n", false, "value 2 is not a number");
    fails("1 2\na 1 2 3\n", false, "more values than the header's 2");
    fails("2 1\na 1\na 2\n", false, "appears twice");
    fails("1 1\na 1\nb 2\n", false, "more rows than the header's 1");
    fails("2 1\na 1\n", false, "row 2 of 2: truncated or missing word");
    fails(std::string("1 2\na ") + std::string(5, '\0'), true, "truncated vector");
    fails("100000000 100\n", true, "more than the file holds");
    fails("1 1\na \v1\n", false, "value 1 is not a number");  // strtod would skip \v
    fails("1 2\na 1\n2\n", false, "1 values, header says 2");
    fails("1 1\na 1e50\n", false, "value 1 is not a number in float's range");
    CHECK_THROWS_AS(text::load_word2vec(temp_path("missing.txt"), false), ek::IoError);
    std::remove(p.c_str());
}

TEST_CASE("word2vec files: both number parsers read the same numbers and refuse the same") {
    using Parse = const char* (*)(const char*, const char*, float&, bool&);
    std::vector<std::pair<const char*, Parse>> parsers{
        {"portable", &text::detail::w2v_parse_float_portable}};
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
    parsers.push_back({"charconv", &text::detail::w2v_parse_float_charconv});
#endif
    struct Case {
        std::string text;
        bool ok;
        float value;
        std::size_t used;
        bool range;
    };
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<Case> cases{
        {"0.5", true, 0.5f, 3, true},
        {"-1e-3 ", true, -1e-3f, 5, true},
        {"+2", true, 2.0f, 2, true},
        {"1.5x", true, 1.5f, 3, true},
        {"inf", true, inf, 3, true},
        {"-inf", true, -inf, 4, true},
        {"3e38", true, 3e38f, 4, true},
        {"1e-45", true, 1e-45f, 5, true},
        {"1e-50", true, 0.0f, 5, true},
        {"-1e-400", true, -0.0f, 7, true},
        {"3.4028235e38", true, std::numeric_limits<float>::max(), 12, true},
        {std::string("1") + std::string(400, '0') + "e-10", false, 0, 0, false},
        {std::string("0.") + std::string(400, '0') + "1", true, 0.0f, 403, true},
        {"1e39", false, 0, 0, false},
        {"-1e400", false, 0, 0, false},
        {"abc", false, 0, 0, true},
        {"+-1", false, 0, 0, true},
        {"", false, 0, 0, true},
    };
    for (const auto& named : parsers)
        for (const Case& c : cases) {
            const std::string name = named.first;  // no structured binding: INFO captures it
            const Parse parse = named.second;
            INFO(name, " '", c.text, "'");
            float v = 123;
            bool range = true;
            const char* stop = parse(c.text.data(), c.text.data() + c.text.size(), v, range);
            CHECK(range == c.range);
            if (!c.ok) {
                CHECK(stop == nullptr);
                continue;
            }
            REQUIRE(stop != nullptr);
            CHECK(static_cast<std::size_t>(stop - c.text.data()) == c.used);
            CHECK(v == c.value);
            CHECK(std::signbit(v) == std::signbit(c.value));
        }
    // Hexadecimal is no number here: at most its "0" is read, and the row's check refuses "x".
    for (const auto& named : parsers) {
        const std::string name = named.first;
        const Parse parse = named.second;
        INFO(name);
        const std::string hex = "0x1p3";
        float v = 0;
        bool range = true;
        const char* stop = parse(hex.data(), hex.data() + hex.size(), v, range);
        CHECK((stop == nullptr || (stop == hex.data() + 1 && v == 0.0f)));
    }
    float v = 0;
    bool range = true;
    const std::string nan = "nan";
    REQUIRE(text::detail::w2v_parse_float(nan.data(), nan.data() + 3, v, range) != nullptr);
    CHECK(std::isnan(v));
}

TEST_CASE("word2vec queries: nearest words, 3CosAdd and 3CosMul analogies, evaluation files") {
    const text::WordVectors wv = royal_vectors();
    const text::WordIndex index(wv);
    const auto near = index.nearest("king", 2);
    REQUIRE(near.size() == 2);
    CHECK(near[0].word != "king");
    for (const auto m : {text::AnalogyMethod::add, text::AnalogyMethod::mul}) {
        const auto a = index.analogy("man", "king", "woman", 1, m);
        REQUIRE(a.size() == 1);
        CHECK(a[0].word == "queen");
    }
    CHECK_THROWS_AS(index.nearest("prince", 1), ek::ArgumentError);
    CHECK_THROWS_AS(index.nearest("king", 0), ek::ArgumentError);
    // restrict: only the first 2 words are indexed.
    CHECK(text::WordIndex(wv, 2).find("king") == -1);

    const std::string q = temp_path("questions.txt");
    write_file(q,
               ": royal\nMan King Woman Queen\nman king woman apple\nman king prince princess\n");
    const text::AnalogyReport r = text::evaluate_analogies(wv, q);
    REQUIRE(r.sections.size() == 1);
    CHECK(r.sections[0].name == "royal");
    CHECK(r.total.questions == 3);
    CHECK(r.total.covered == 2);
    CHECK(r.total.correct == 1);
    write_file(q, ": s\nman king woman\n");
    CHECK_THROWS_AS(text::evaluate_analogies(wv, q), ek::FormatError);

    write_file(q, "# comment\nman\tking\t5\nwoman\tqueen\t6\nman\tapple\t1\nking\tprince\t3\n");
    const text::SimilarityReport s = text::evaluate_similarity(wv, q);
    CHECK(s.pairs == 4);
    CHECK(s.covered == 3);
    CHECK(s.spearman ==
          doctest::Approx(text::spearman({double(index.unit().row(0).dot(index.unit().row(2))),
                                          double(index.unit().row(1).dot(index.unit().row(3))),
                                          double(index.unit().row(0).dot(index.unit().row(4)))},
                                         {5, 6, 1})));
    std::remove(q.c_str());
    // Spearman with ties: average ranks.
    CHECK(text::spearman({1, 2, 3, 4}, {10, 20, 30, 40}) == doctest::Approx(1.0));
    CHECK(text::spearman({1, 2, 3, 4}, {40, 30, 20, 10}) == doctest::Approx(-1.0));
    CHECK(text::spearman({1, 1, 2, 3}, {1, 2, 3, 4}) == doctest::Approx(0.9486832980505138));
}

TEST_CASE("word2vec queries: a cased vocabulary, matched exactly or case-folded (evaluation)") {
    // "queen" and "MAN" are later case variants of "Queen" and "Man"; "queen" points exactly
    // along unit(King) - unit(Man) + unit(Woman), "Queen" close to it.
    text::WordVectors wv;
    wv.words = {"Man", "Woman", "King", "Queen", "queen", "MAN", "apple"};
    wv.counts.assign(7, 0);
    wv.vectors.resize(7, 3);
    wv.vectors << 1, 0, 0.1f, 0, 1, 0.1f, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0.1f, -1, -1, 0.2f;
    wv.vectors.row(4) = wv.vectors.row(2).normalized() - wv.vectors.row(0).normalized() +
                        wv.vectors.row(1).normalized();
    const text::WordIndex exact(wv);
    CHECK(exact.unit().rows() == 7);
    CHECK(exact.find("queen") == 4);
    CHECK(exact.find("Queen") == 3);
    CHECK(exact.find("king") == -1);
    CHECK(exact.analogy("Man", "King", "Woman", 1)[0].word == "queen");

    // Folded (gensim's case_insensitive): a query finds the first variant ("queen" -> "Queen",
    // "MAN" -> "Man"); every row stays a candidate answer; the variants of the query words are
    // left out of the answers.
    const text::WordIndex folded(wv, 0, text::WordCase::fold);
    REQUIRE(folded.unit().rows() == 7);
    CHECK(folded.find("KING") == 2);
    CHECK(folded.find("queen") == 3);
    CHECK(folded.find("MAN") == 0);
    CHECK(folded.word(4) == "queen");
    for (const auto m : {text::AnalogyMethod::add, text::AnalogyMethod::mul}) {
        const auto a = folded.analogy("man", "king", "woman", 7, m);
        REQUIRE(a.size() == 3);  // queen, Queen, apple: Man, MAN, King, Woman are query words
        CHECK(a[0].word == "queen");
        CHECK(a[2].word == "apple");
    }
    // k = 1: "MAN" (Man's twin) is left out with "Man", so the answer is the next row, King.
    const auto one = folded.nearest("man", 1);
    REQUIRE(one.size() == 1);
    CHECK(one[0].word == "King");
    const auto near = folded.nearest("QUEEN", 10);
    CHECK(near.size() == 5);
    for (const auto& w : near) CHECK((w.word != "queen" && w.word != "Queen"));
    CHECK(text::WordIndex(wv, 5, text::WordCase::fold).unit().rows() == 5);

    // The evaluators fold case: the lower-case questions find the cased words, and "queen"
    // (a variant of the expected "Queen") counts as the right answer.
    const std::string q = temp_path("cased_questions.txt");
    write_file(q, ": royal\nman king woman queen\nMAN KING WOMAN QUEEN\nman king woman apple\n");
    const text::AnalogyReport r = text::evaluate_analogies(wv, q);
    CHECK(r.total.covered == 3);
    CHECK(r.total.correct == 2);
    write_file(q, "KING\tqueen\t5\nman\tWoman\t3\nman\tapple\t1\nman\tprince\t2\n");
    const text::SimilarityReport s = text::evaluate_similarity(wv, q);
    CHECK(s.pairs == 4);
    CHECK(s.covered == 3);
    CHECK(s.spearman ==
          doctest::Approx(text::spearman({double(folded.unit().row(2).dot(folded.unit().row(3))),
                                          double(folded.unit().row(0).dot(folded.unit().row(1))),
                                          double(folded.unit().row(0).dot(folded.unit().row(6)))},
                                         {5, 3, 1})));
    std::remove(q.c_str());
}
