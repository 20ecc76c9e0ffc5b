// Word2Vec: skip-gram and CBOW with negative sampling (Mikolov et al. 2013), trained from a text
// file streamed line by line; word2vec.c's text and binary vector files; nearest words and
// analogies.
//
// Training follows word2vec.c and gensim 4: a unigram^0.75 distribution for negatives (drawn
// by Walker's alias method), frequent words dropped with probability
// 1 - (sqrt(f / (s T)) + 1) s T / f (f the word's count, T the corpus's vocabulary words,
// s = `sample`), a window of window - b words each side with b drawn per word, the learning
// rate decaying linearly towards 0 over all epochs with a floor of start x 1e-4, the sigmoid
// read from word2vec.c's 1,000-entry table over [-6, 6], no update where |x . y| >= 6 (gensim's
// rule) and initial vectors uniform in [-1/dim, 1/dim) (gensim 4's range). Threads take byte
// ranges of the file in turn (the tokens that start in them) and update the shared matrices
// without locks; with one thread and a fixed seed a run is bit-identical.
#pragma once

#include "../core/error.hpp"
#include "../core/progress.hpp"
#include "../core/types.hpp"
#include "../distance/dispatch.hpp"
#include "../distance/topk.hpp"
#include "../io/atomic_file.hpp"
#include "../io/npy.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <locale>
#include <string>
#include <thread>
#include <sstream>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace embedkit::text {

/// Settings of the vocabulary pass.
struct VocabularyOptions {
    std::int64_t min_count = 5;  ///< words seen fewer times are dropped
    std::int64_t max_vocab = 0;  ///< keep at most this many (most frequent); 0 = no limit
    bool lowercase = false;      ///< ASCII letters only; other bytes are kept as they are
};

/// The words kept for training, most frequent first (equal counts: first seen first).
struct Vocabulary {
    std::vector<std::string> words;
    std::vector<std::uint64_t> counts;
    std::unordered_map<std::string, std::uint32_t> index;
    std::uint64_t corpus_words = 0;  ///< every token of the file
    std::uint64_t train_words = 0;   ///< tokens of kept words (sum of counts)
    std::uint64_t lines = 0;
    bool lowercase = false;  ///< tokens were lower-cased (training does the same)

    std::size_t size() const noexcept { return words.size(); }
    /// The word's row, or -1.
    std::int64_t find(const std::string& w) const {
        const auto it = index.find(w);
        return it == index.end() ? -1 : static_cast<std::int64_t>(it->second);
    }
};

namespace detail {

inline bool w2v_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

inline void w2v_lower(std::string& token) noexcept {
    for (char& c : token)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

// Calls f(token) for each whitespace-separated token of `line` (a string_view-like pair).
template <class F>
void for_each_token(const std::string& line, bool lowercase, std::string& scratch, F f) {
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (i < n) {
        while (i < n && w2v_space(line[i])) ++i;
        std::size_t j = i;
        while (j < n && !w2v_space(line[j])) ++j;
        if (j > i) {
            scratch.assign(line, i, j - i);
            if (lowercase) w2v_lower(scratch);
            f(scratch);
        }
        i = j;
    }
}

inline std::ifstream w2v_open(const std::string& path, const char* fn) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(std::string("embedkit::text::") + fn + ": cannot open '" + path + "'");
    return in;
}

// The whitespace-separated tokens of a byte range of a file, read in blocks: no line is ever
// held whole, so a corpus that is one line of gigabytes streams like any other. The range
// [begin, end) owns the tokens that start in it (a token starts at a byte that is not
// whitespace, at the file's start or after whitespace), so ranges that tile a file read every
// token once, whatever the ranges cut.
class W2vTokens {
public:
    W2vTokens(const std::string& path, const char* fn, std::uint64_t begin, std::uint64_t end,
              bool lowercase, std::size_t block = std::size_t(1) << 16)
        : in_(w2v_open(path, fn)),
          path_(path),
          fn_(fn),
          end_(end),
          lowercase_(lowercase),
          buf_(std::max<std::size_t>(block, 1)),
          offset_(begin) {
        if (begin > 0) {  // inside a token begun before the range: that token is not ours
            in_.seekg(static_cast<std::streamoff>(begin - 1));
            char c = ' ';
            in_.get(c);
            skip_partial_ = in_.gcount() == 1 && !w2v_space(c);
        }
        in_.seekg(static_cast<std::streamoff>(begin));
    }

    // The next token of the range into `token` (lower-cased if asked); `new_line` tells whether
    // a newline came since the previous token. False once the range holds no more.
    bool next(std::string& token, bool& new_line) {
        new_line = false;
        if (skip_partial_) {
            skip_partial_ = false;
            if (!skip([](char c) { return !w2v_space(c); })) return false;
        }
        if (!skip([&](char c) {
                if (c == '\n') new_line = true;
                return w2v_space(c);
            }))
            return false;
        if (offset_ + pos_ >= end_) return false;
        token.clear();
        for (;;) {
            const std::size_t from = pos_;
            while (pos_ < have_ && !w2v_space(buf_[pos_])) ++pos_;
            token.append(buf_.data() + from, pos_ - from);
            if (pos_ < have_ || !refill()) break;
        }
        if (lowercase_) w2v_lower(token);
        return true;
    }

    // Newlines passed so far, and whether the last byte read was one (for line counts).
    std::uint64_t newlines() const noexcept { return newlines_; }
    bool ends_with_newline() const noexcept { return last_ == '\n'; }

private:
    // Moves past the bytes `pred` accepts; false at the end of the file.
    template <class P>
    bool skip(P pred) {
        for (;;) {
            while (pos_ < have_ && pred(buf_[pos_])) {
                if (buf_[pos_] == '\n') ++newlines_;
                ++pos_;
            }
            if (pos_ < have_) return true;
            if (!refill()) return false;
        }
    }
    bool refill() {
        if (have_ > 0) last_ = buf_[have_ - 1];
        offset_ += have_;
        pos_ = have_ = 0;
        if (!in_) return false;
        in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
        if (in_.bad())
            throw IoError(std::string("embedkit::text::") + fn_ + ": read error in '" + path_ +
                          "'");
        have_ = static_cast<std::size_t>(in_.gcount());
        return have_ > 0;
    }

    std::ifstream in_;
    std::string path_;
    const char* fn_;
    std::uint64_t end_;
    bool lowercase_;
    std::vector<char> buf_;
    std::uint64_t offset_;  // file offset of buf_[0]
    std::size_t pos_ = 0, have_ = 0;
    bool skip_partial_ = false;
    std::uint64_t newlines_ = 0;
    char last_ = '\n';
};

}  // namespace detail

/// One pass over the corpus (one sentence or document per line, whitespace-separated tokens):
/// counts every token, keeps words seen at least min_count times (and the max_vocab most
/// frequent), most frequent first. The file is streamed in blocks (lines of any length, a
/// corpus of one line included); the counts of every distinct token are held until the pass
/// ends (max_vocab trims after counting, so the counts are exact). Bytes are taken as they
/// are: invalid UTF-8 makes words of its own, never an error.
/// Throws IoError if the file cannot be read, ArgumentError for min_count < 1 or max_vocab < 0,
/// and ArgumentError if no word is kept.
inline Vocabulary build_vocabulary(const std::string& path, const VocabularyOptions& o = {}) {
    if (o.min_count < 1)
        throw ArgumentError("embedkit::text::build_vocabulary: min_count must be >= 1, got " +
                            std::to_string(o.min_count));
    if (o.max_vocab < 0)
        throw ArgumentError("embedkit::text::build_vocabulary: max_vocab must be >= 0, got " +
                            std::to_string(o.max_vocab));
    detail::W2vTokens tokens(path, "build_vocabulary", 0, ~std::uint64_t(0), o.lowercase);
    struct Seen {
        std::uint64_t count;
        std::uint64_t first;
    };
    std::unordered_map<std::string, Seen> seen;
    Vocabulary v;
    v.lowercase = o.lowercase;
    std::string t;
    bool new_line = false;
    while (tokens.next(t, new_line)) {
        auto it = seen.find(t);
        if (it == seen.end())
            seen.emplace(t, Seen{1, v.corpus_words});
        else
            ++it->second.count;
        ++v.corpus_words;
    }
    // Lines as std::getline counts them: every newline, and a last line without one.
    v.lines = tokens.newlines() + (tokens.ends_with_newline() ? 0 : 1);
    std::vector<std::pair<const std::string*, Seen>> kept;
    for (const auto& kv : seen)
        if (kv.second.count >= static_cast<std::uint64_t>(o.min_count))
            kept.push_back({&kv.first, kv.second});
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.second.count != b.second.count ? a.second.count > b.second.count
                                                : a.second.first < b.second.first;
    });
    if (o.max_vocab > 0 && kept.size() > static_cast<std::size_t>(o.max_vocab))
        kept.resize(static_cast<std::size_t>(o.max_vocab));
    if (kept.empty())
        throw ArgumentError("embedkit::text::build_vocabulary: no word of '" + path +
                            "' occurs min_count = " + std::to_string(o.min_count) +
                            " times or more (" + std::to_string(v.corpus_words) + " tokens read)");
    v.words.reserve(kept.size());
    v.counts.reserve(kept.size());
    for (const auto& k : kept) {
        v.index.emplace(*k.first, static_cast<std::uint32_t>(v.words.size()));
        v.words.push_back(*k.first);
        v.counts.push_back(k.second.count);
        v.train_words += k.second.count;
    }
    return v;
}

namespace detail {

// The sigmoid table of word2vec.c: 1,000 values of 1 / (1 + exp(-x)) for x = -6 .. 6.
inline constexpr int w2v_table_size = 1000;
inline constexpr float w2v_max_exp = 6.0f;

inline const std::vector<float>& w2v_sigmoid_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(w2v_table_size);
        for (int i = 0; i < w2v_table_size; ++i) {
            const double e = std::exp((i / double(w2v_table_size) * 2 - 1) * w2v_max_exp);
            t[static_cast<std::size_t>(i)] = static_cast<float>(e / (e + 1));
        }
        return t;
    }();
    return table;
}

// g / alpha for a dot product f and a label (1: the true word, 0: a negative).
inline float w2v_gradient(float f, float label, const float* table) noexcept {
    if (std::isnan(f)) return f;  // spreads to the vectors; the end-of-epoch check reports it
    // Where the sigmoid saturates there is no update (gensim's rule; word2vec.c applies the
    // saturated gradient label - 1 or label instead).
    if (f >= w2v_max_exp || f <= -w2v_max_exp) return 0.0f;
    // The index as word2vec.c and gensim compute it: their (f + 6) * (1000 / 6 / 2) divides
    // integers, so the factor is 83, not 83.33; the table is read at 0.996 f - 0.024 (less up
    // to one step of 0.012), slightly below the true sigmoid. Computed in double as gensim's
    // generated C does (word2vec.c: in float; the two differ by one step in rare cases). Kept so
    // that the updates are the references' (on the 2-million-word slice the figures moved by
    // less than 0.1 point).
    constexpr int factor = w2v_table_size / static_cast<int>(w2v_max_exp) / 2;
    const int i = static_cast<int>((static_cast<double>(f) + w2v_max_exp) * factor);
    return label - table[std::min(i, w2v_table_size - 1)];
}

// One input vector against `count` output rows (the first the true word, label 1; the rest
// negatives, label 0): for each, f = in . out, g = (label - sigmoid f) alpha, neu1e += g out,
// out += g in. The caller adds neu1e to the input word(s).
using SgnsFn = void (*)(const float* in, float* syn1, const std::uint32_t* targets, int count,
                        Eigen::Index dim, float alpha, const float* table, float* neu1e);

inline void sgns_portable(const float* in, float* syn1, const std::uint32_t* targets, int count,
                          Eigen::Index dim, float alpha, const float* table, float* neu1e) {
    for (int d = 0; d < count; ++d) {
        float* out = syn1 + static_cast<Eigen::Index>(targets[d]) * dim;
        float f = 0.0f;
        for (Eigen::Index j = 0; j < dim; ++j) f += in[j] * out[j];
        const float g = w2v_gradient(f, d == 0 ? 1.0f : 0.0f, table) * alpha;
        for (Eigen::Index j = 0; j < dim; ++j) neu1e[j] += g * out[j];
        for (Eigen::Index j = 0; j < dim; ++j) out[j] += g * in[j];
    }
}

#if EMBEDKIT_ARCH_X86
// Requests the output rows before the first is used: they are random rows of a matrix far
// larger than the caches.
inline void w2v_prefetch_rows(const float* syn1, const std::uint32_t* targets, int count,
                              Eigen::Index dim) noexcept {
    for (int d = 0; d < count; ++d) {
        const char* row =
            reinterpret_cast<const char*>(syn1 + static_cast<Eigen::Index>(targets[d]) * dim);
        for (Eigen::Index b = 0; b < dim * 4; b += 64) _mm_prefetch(row + b, _MM_HINT_T0);
    }
}

EMBEDKIT_TARGET_AVX512 inline void sgns_avx512(const float* in, float* syn1,
                                               const std::uint32_t* targets, int count,
                                               Eigen::Index dim, float alpha, const float* table,
                                               float* neu1e) {
    w2v_prefetch_rows(syn1, targets, count, dim);
    for (int d = 0; d < count; ++d) {
        float* out = syn1 + static_cast<Eigen::Index>(targets[d]) * dim;
        __m512 acc = _mm512_setzero_ps();
        for (Eigen::Index j = 0; j < dim; j += 16) {
            const Eigen::Index left = dim - j;
            const auto m = static_cast<__mmask16>(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, in + j),
                                  _mm512_maskz_loadu_ps(m, out + j), acc);
        }
        alignas(64) float lanes[16];
        _mm512_store_ps(lanes, acc);
        for (int w = 8; w >= 1; w /= 2)
            for (int i = 0; i < w; ++i) lanes[i] += lanes[i + w];
        const __m512 g =
            _mm512_set1_ps(w2v_gradient(lanes[0], d == 0 ? 1.0f : 0.0f, table) * alpha);
        for (Eigen::Index j = 0; j < dim; j += 16) {
            const Eigen::Index left = dim - j;
            const auto m = static_cast<__mmask16>(left >= 16 ? 0xFFFFu : (1u << left) - 1u);
            const __m512 o = _mm512_maskz_loadu_ps(m, out + j);
            _mm512_mask_storeu_ps(neu1e + j, m,
                                  _mm512_fmadd_ps(g, o, _mm512_maskz_loadu_ps(m, neu1e + j)));
            _mm512_mask_storeu_ps(out + j, m,
                                  _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(m, in + j), o));
        }
    }
}

EMBEDKIT_TARGET_AVX2 inline void sgns_avx2(const float* in, float* syn1,
                                           const std::uint32_t* targets, int count,
                                           Eigen::Index dim, float alpha, const float* table,
                                           float* neu1e) {
    const Eigen::Index body = dim / 8 * 8;
    w2v_prefetch_rows(syn1, targets, count, dim);
    for (int d = 0; d < count; ++d) {
        float* out = syn1 + static_cast<Eigen::Index>(targets[d]) * dim;
        __m256 acc = _mm256_setzero_ps();
        for (Eigen::Index j = 0; j < body; j += 8)
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(in + j), _mm256_loadu_ps(out + j), acc);
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, acc);
        for (int w = 4; w >= 1; w /= 2)
            for (int i = 0; i < w; ++i) lanes[i] += lanes[i + w];
        float f = lanes[0];
        for (Eigen::Index j = body; j < dim; ++j) f += in[j] * out[j];
        const float gs = w2v_gradient(f, d == 0 ? 1.0f : 0.0f, table) * alpha;
        const __m256 g = _mm256_set1_ps(gs);
        for (Eigen::Index j = 0; j < body; j += 8) {
            const __m256 o = _mm256_loadu_ps(out + j);
            _mm256_storeu_ps(neu1e + j, _mm256_fmadd_ps(g, o, _mm256_loadu_ps(neu1e + j)));
            _mm256_storeu_ps(out + j, _mm256_fmadd_ps(g, _mm256_loadu_ps(in + j), o));
        }
        for (Eigen::Index j = body; j < dim; ++j) {
            const float o = out[j];
            neu1e[j] += gs * o;
            out[j] = o + gs * in[j];
        }
    }
}
#endif

inline SgnsFn sgns_kernel([[maybe_unused]] simd::Level level) noexcept {
#if EMBEDKIT_ARCH_X86
    if (level == simd::Level::avx512) return &sgns_avx512;
    if (level == simd::Level::avx2) return &sgns_avx2;
#endif
    return &sgns_portable;
}

// Seeds of the per-piece, per-epoch generators (SplitMix64's finaliser), so that no two
// streams are shifted copies of each other.
inline std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// word2vec.c's random numbers: a 64-bit linear congruential generator. Its low bits repeat with
// short periods (bit k every 2^(k+1) draws), so the choices take high bits (the alias method's
// side test also reads bits 8..31, which only moves u by less than 2^-16).
struct W2vRandom {
    std::uint64_t state;
    std::uint64_t next() noexcept {
        state = state * 25214903917ULL + 11;
        return state;
    }
};

}  // namespace detail

/// Draws negatives: word i with probability count_i^0.75 / sum_j count_j^0.75 (word2vec.c's
/// and gensim's distribution), by Walker's alias method: one random number, one table lookup
/// (word2vec.c's 10^8-entry table and gensim's bisection over a cumulative table give the same
/// distribution, up to the table's resolution, with far more memory or time).
class NegativeSampler {
public:
    explicit NegativeSampler(const std::vector<std::uint64_t>& counts) {
        const std::size_t n = counts.size();
        if (n == 0) throw ArgumentError("embedkit::text::NegativeSampler: empty vocabulary");
        if (n > 0xFFFFFFFFu)
            throw ArgumentError("embedkit::text::NegativeSampler: more than 2^32 - 1 words");
        std::vector<long double> p(n);
        long double total = 0;
        for (std::size_t i = 0; i < n; ++i)
            total += p[i] = std::pow(static_cast<long double>(counts[i]), 0.75L);
        if (!(total > 0))
            throw ArgumentError("embedkit::text::NegativeSampler: every count is zero");
        prob_.resize(n);
        alias_.resize(n);
        std::vector<long double> scaled(n);
        std::vector<std::uint32_t> small, large;
        for (std::size_t i = 0; i < n; ++i) {
            scaled[i] = p[i] / total * static_cast<long double>(n);
            (scaled[i] < 1 ? small : large).push_back(static_cast<std::uint32_t>(i));
        }
        while (!small.empty() && !large.empty()) {
            const std::uint32_t s = small.back(), l = large.back();
            small.pop_back();
            prob_[s] = static_cast<double>(scaled[s]);
            alias_[s] = l;
            scaled[l] -= 1 - scaled[s];
            if (scaled[l] < 1) {
                large.pop_back();
                small.push_back(l);
            }
        }
        for (const std::uint32_t i : large) prob_[i] = 1, alias_[i] = i;
        for (const std::uint32_t i : small) prob_[i] = 1, alias_[i] = i;  // rounding leftovers
    }

    std::size_t size() const noexcept { return prob_.size(); }

    /// A word from 64 random bits (the high 32 pick a column, the next 24 the side).
    std::uint32_t draw(std::uint64_t random) const noexcept {
        const auto column = static_cast<std::uint32_t>(((random >> 32) * prob_.size()) >> 32);
        const double u = static_cast<double>((random >> 8) & 0xFFFFFFu) * (1.0 / 16777216.0);
        return u < prob_[column] ? column : alias_[column];
    }

    /// The probability draw() gives word i (from the tables; for tests).
    double probability(std::size_t i) const {
        double p = prob_[i];
        for (std::size_t c = 0; c < prob_.size(); ++c)
            if (alias_[c] == i && c != i) p += 1 - prob_[c];
        return p / static_cast<double>(prob_.size());
    }

private:
    std::vector<double> prob_;
    std::vector<std::uint32_t> alias_;
};

/// The probability that one occurrence of a word seen `count` times is kept (word2vec.c's
/// subsampling): min(1, (sqrt(count / (sample T)) + 1) sample T / count), T = train_words;
/// 1 when sample is 0.
inline double keep_probability(std::uint64_t count, double sample, std::uint64_t train_words) {
    if (sample <= 0 || count == 0) return 1.0;
    const double threshold = sample * static_cast<double>(train_words);
    const double c = static_cast<double>(count);
    return std::min(1.0, (std::sqrt(c / threshold) + 1) * threshold / c);
}

/// The learning rate after `done` of `total` words: start (1 - done / (total + 1)), and never
/// below start x 1e-4.
inline double learning_rate(double start, std::uint64_t done, std::uint64_t total) {
    const double left = 1.0 - static_cast<double>(done) / (static_cast<double>(total) + 1.0);
    return start * std::max(left, 1e-4);
}

/// Word vectors: one row per word, most frequent word first.
struct WordVectors {
    std::vector<std::string> words;
    std::vector<std::uint64_t> counts;  ///< 0 where unknown (files without counts)
    RowMatrixF vectors;                 ///< words.size() x dim

    Eigen::Index dim() const noexcept { return vectors.cols(); }
    std::size_t size() const noexcept { return words.size(); }
};

/// Word2Vec's settings (the defaults are word2vec.c's and gensim's).
struct Word2VecOptions {
    enum class Model { skipgram, cbow };
    Model model = Model::skipgram;
    int dim = 100;     ///< vector size
    int window = 5;    ///< largest distance to a context word
    int negative = 5;  ///< negatives per true word
    int epochs = 5;
    int threads = 1;       ///< 1: bit-identical reruns for a seed
    double sample = 1e-3;  ///< subsampling threshold; 0 = keep every word
    double alpha = 0;      ///< starting learning rate; 0 = 0.025 (skip-gram) or 0.05 (CBOW)
    std::uint64_t seed = 1;
    ProgressOptions progress;
};

/// What a training run did.
struct Word2VecStats {
    double seconds = 0;                 ///< training only (the vocabulary pass excluded)
    std::uint64_t raw_words = 0;        ///< tokens read, times epochs
    std::uint64_t effective_words = 0;  ///< words trained on after subsampling
    double raw_words_per_second() const {
        return seconds > 0 ? static_cast<double>(raw_words) / seconds : 0;
    }
    double effective_words_per_second() const {
        return seconds > 0 ? static_cast<double>(effective_words) / seconds : 0;
    }
};

namespace detail {

inline void check_w2v_options(const Word2VecOptions& o) {
    const auto bad = [](const std::string& what) {
        throw ArgumentError("embedkit::text::train_word2vec: " + what);
    };
    if (o.dim < 1) bad("dim must be >= 1, got " + std::to_string(o.dim));
    if (o.window < 1 || o.window > 10000)
        bad("window must be in [1, 10000], got " + std::to_string(o.window));
    if (o.negative < 1 || o.negative > 10000)
        bad("negative must be in [1, 10000], got " + std::to_string(o.negative));
    if (o.epochs < 1) bad("epochs must be >= 1, got " + std::to_string(o.epochs));
    if (o.threads < 1 || o.threads > 1024)
        bad("threads must be in [1, 1024], got " + std::to_string(o.threads));
    if (!(o.sample >= 0) || !std::isfinite(o.sample))
        bad("sample must be >= 0 and finite, got " + std::to_string(o.sample));
    if (!(o.alpha >= 0) || !std::isfinite(o.alpha) || o.alpha > 1)
        bad("alpha must be in [0, 1] (0: the model's default), got " + std::to_string(o.alpha));
}

// What the threads share.
struct W2vShared {
    const Vocabulary* vocab;
    const Word2VecOptions* options;
    const NegativeSampler* sampler;
    std::vector<float> keep;  // keep probability per word (compared with 16 random bits)
    RowMatrixF syn0, syn1;
    float start_alpha;
    std::uint64_t total_words;  // corpus tokens x epochs
    std::atomic<std::uint64_t> done{0};
    std::atomic<std::uint64_t> effective{0};
    SgnsFn kernel;
};

// The end-of-epoch check: a NaN or infinity in either matrix stops training.
inline void w2v_check_finite(const RowMatrixF& syn0, const RowMatrixF& syn1, int epoch,
                             float start_alpha) {
    if (!syn0.allFinite() || !syn1.allFinite())
        throw NumericError(
            "embedkit::text::train_word2vec: vectors became NaN or infinite in "
            "epoch " +
            std::to_string(epoch + 1) + " (learning rate " + std::to_string(start_alpha) +
            " too high for this corpus?)");
}

// Words trained on as one sentence at most (gensim's limit).
inline constexpr std::size_t w2v_max_sentence = 10000;

// Trains one epoch on the tokens that start in [begin, end) of the file (a sentence ends at a
// newline, at the range's ends and after max_sentence words).
inline void w2v_worker(W2vShared& sh, const std::string& path, std::uint64_t begin,
                       std::uint64_t end, std::uint64_t seed) {
    const Vocabulary& v = *sh.vocab;
    const Word2VecOptions& o = *sh.options;
    W2vTokens tokens(path, "train_word2vec", begin, end, v.lowercase);
    std::string token;
    W2vRandom rng{seed};
    const Eigen::Index dim = o.dim;
    const float* table = w2v_sigmoid_table().data();
    std::vector<std::uint32_t> sentence, targets(static_cast<std::size_t>(o.negative) + 1);
    std::vector<float> neu1(static_cast<std::size_t>(dim)), neu1e(static_cast<std::size_t>(dim));
    std::uint64_t local_done = 0, local_effective = 0;
    float alpha = static_cast<float>(
        learning_rate(sh.start_alpha, sh.done.load(std::memory_order_relaxed), sh.total_words));
    const auto flush = [&] {
        const std::uint64_t now = sh.done.fetch_add(local_done) + local_done;
        sh.effective.fetch_add(local_effective);
        local_done = local_effective = 0;
        alpha = static_cast<float>(learning_rate(sh.start_alpha, now, sh.total_words));
    };
    const NegativeSampler& sampler = *sh.sampler;
    const auto draw_targets = [&](std::uint32_t word) {
        int count = 0;
        targets[static_cast<std::size_t>(count++)] = word;
        for (int d = 0; d < o.negative; ++d) {
            const std::uint32_t t = sampler.draw(rng.next());
            if (t == word) continue;
            targets[static_cast<std::size_t>(count++)] = t;
        }
        return count;
    };
    float* syn0 = sh.syn0.data();
    float* syn1 = sh.syn1.data();
    // Trains on the words gathered in `sentence` (at most max_sentence: longer lines are cut
    // into pieces, as gensim and word2vec.c cut them, so the learning rate and the progress move
    // inside a long line too).
    const auto train_sentence = [&] {
        local_effective += sentence.size();
        const auto n = static_cast<std::int64_t>(sentence.size());
        for (std::int64_t p = 0; p < n; ++p) {
            const std::uint32_t word = sentence[static_cast<std::size_t>(p)];
            const auto b = static_cast<std::int64_t>((rng.next() >> 33) %
                                                     static_cast<std::uint64_t>(o.window));
            const std::int64_t lo = std::max<std::int64_t>(0, p - o.window + b);
            const std::int64_t hi = std::min<std::int64_t>(n - 1, p + o.window - b);
            if (o.model == Word2VecOptions::Model::skipgram) {
                for (std::int64_t c = lo; c <= hi; ++c) {
                    if (c == p) continue;
                    float* l1 =
                        syn0 +
                        static_cast<Eigen::Index>(sentence[static_cast<std::size_t>(c)]) * dim;
                    std::fill(neu1e.begin(), neu1e.end(), 0.0f);
                    const int count = draw_targets(word);
                    sh.kernel(l1, syn1, targets.data(), count, dim, alpha, table, neu1e.data());
                    for (Eigen::Index j = 0; j < dim; ++j)
                        l1[j] += neu1e[static_cast<std::size_t>(j)];
                }
            } else {
                std::fill(neu1.begin(), neu1.end(), 0.0f);
                int cw = 0;
                for (std::int64_t c = lo; c <= hi; ++c) {
                    if (c == p) continue;
                    const float* l1 =
                        syn0 +
                        static_cast<Eigen::Index>(sentence[static_cast<std::size_t>(c)]) * dim;
                    for (Eigen::Index j = 0; j < dim; ++j)
                        neu1[static_cast<std::size_t>(j)] += l1[j];
                    ++cw;
                }
                if (cw == 0) continue;
                const float inv = 1.0f / static_cast<float>(cw);
                for (float& x : neu1) x *= inv;
                std::fill(neu1e.begin(), neu1e.end(), 0.0f);
                const int count = draw_targets(word);
                sh.kernel(neu1.data(), syn1, targets.data(), count, dim, alpha, table,
                          neu1e.data());
                for (std::int64_t c = lo; c <= hi; ++c) {
                    if (c == p) continue;
                    float* l1 =
                        syn0 +
                        static_cast<Eigen::Index>(sentence[static_cast<std::size_t>(c)]) * dim;
                    for (Eigen::Index j = 0; j < dim; ++j)
                        l1[j] += neu1e[static_cast<std::size_t>(j)];
                }
            }
        }
        sentence.clear();
    };
    bool new_line = false;
    while (tokens.next(token, new_line)) {
        if (new_line) {
            train_sentence();
            if (local_done >= 10000) flush();
        }
        ++local_done;
        const auto it = v.index.find(token);
        if (it == v.index.end()) continue;
        const float keep = sh.keep[it->second];
        if (keep < 1.0f && keep < static_cast<float>((rng.next() >> 40) & 0xFFFF) / 65536.0f)
            continue;
        sentence.push_back(it->second);
        if (sentence.size() == w2v_max_sentence) {
            train_sentence();
            if (local_done >= 10000) flush();
        }
    }
    train_sentence();
    flush();
}

}  // namespace detail

/// Trains word vectors on the corpus `path` (the file the vocabulary was built from).
/// Writes what the run did into `stats` when given. Throws ArgumentError for bad options,
/// IoError if the file cannot be read, NumericError if a vector became NaN or infinite (the
/// learning rate is too high for the data).
inline WordVectors train_word2vec(const std::string& path, const Vocabulary& vocab,
                                  const Word2VecOptions& options, Word2VecStats* stats = nullptr) {
    detail::check_w2v_options(options);
    if (vocab.size() == 0) throw ArgumentError("embedkit::text::train_word2vec: empty vocabulary");
    // A vocabulary put together by hand must hold together: every row is indexed under its
    // own word, and the counts are those rows'.
    bool consistent = vocab.counts.size() == vocab.size() && vocab.index.size() == vocab.size() &&
                      vocab.size() < 0xFFFFFFFFu;
    std::uint64_t counted = 0;
    for (std::size_t i = 0; consistent && i < vocab.size(); ++i) {
        const auto it = vocab.index.find(vocab.words[i]);
        consistent = it != vocab.index.end() && it->second == i;
        counted += vocab.counts[i];
    }
    if (!consistent || counted != vocab.train_words || counted == 0)
        throw ArgumentError(
            "embedkit::text::train_word2vec: the vocabulary does not hold together "
            "(words, counts and index must describe the same rows, train_words "
            "their positive sum): build it with build_vocabulary");
    std::uint64_t file_size = 0;
    {
        // Checked before opening: opening a pipe without a writer would block.
        const auto not_regular = [&] {
            throw IoError("embedkit::text::train_word2vec: '" + path +
                          "' is not a regular file (training reads it once per epoch and "
                          "splits it between threads by byte offsets)");
        };
        std::error_code ec;
        const auto status = std::filesystem::status(path, ec);
        if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
            not_regular();
        std::ifstream in = detail::w2v_open(path, "train_word2vec");
        in.seekg(0, std::ios::end);
        const auto size = in.tellg();
        if (size < 0) not_regular();
        file_size = static_cast<std::uint64_t>(size);
    }
    detail::W2vShared sh;
    sh.vocab = &vocab;
    sh.options = &options;
    const NegativeSampler sampler(vocab.counts);
    sh.sampler = &sampler;
    sh.keep.resize(vocab.size());
    for (std::size_t i = 0; i < vocab.size(); ++i)
        sh.keep[i] = static_cast<float>(
            keep_probability(vocab.counts[i], options.sample, vocab.train_words));
    const auto words = static_cast<Eigen::Index>(vocab.size());
    sh.syn0.resize(words, options.dim);
    sh.syn1 = RowMatrixF::Zero(words, options.dim);
    detail::W2vRandom init{options.seed};
    for (Eigen::Index i = 0; i < sh.syn0.size(); ++i)
        sh.syn0.data()[i] = (static_cast<float>((init.next() >> 40) & 0xFFFF) / 32768.0f - 1.0f) /
                            static_cast<float>(options.dim);
    sh.start_alpha = static_cast<float>(
        options.alpha > 0 ? options.alpha
                          : (options.model == Word2VecOptions::Model::skipgram ? 0.025 : 0.05));
    sh.total_words = vocab.corpus_words * static_cast<std::uint64_t>(options.epochs);
    sh.kernel = detail::sgns_kernel(simd::active());
    ProgressBar bar("word2vec", static_cast<std::int64_t>(sh.total_words), options.progress);
    const auto start = std::chrono::steady_clock::now();
    for (int epoch = 0; epoch < options.epochs; ++epoch) {
        std::vector<std::thread> pool;
        std::vector<std::exception_ptr> errors(static_cast<std::size_t>(options.threads));
        std::atomic<bool> running{true};
        // The threads take byte ranges ("pieces") of the file in turn: one piece with one thread
        // (bit-identical reruns), else 16 per thread, so that a thread on a slower or busier
        // core (a laptop's efficiency cores, a shared host) takes fewer instead of holding the
        // others up at the end of the epoch. Each piece has its own random stream.
        const std::uint64_t pieces =
            options.threads == 1 ? 1 : 16 * static_cast<std::uint64_t>(options.threads);
        std::atomic<std::uint64_t> next_piece{0};
        std::atomic<bool> failed{false};  // one thread's error stops the others' next pieces
        for (int t = 0; t < options.threads; ++t) {
            const auto slot = static_cast<std::size_t>(t);
            try {
                pool.emplace_back([&sh, &path, &errors, &next_piece, &failed, &options, slot,
                                   pieces, file_size, epoch] {
                    // Piece c starts at floor(file_size c / pieces), without overflow.
                    const auto at = [&](std::uint64_t c) {
                        return file_size / pieces * c + file_size % pieces * c / pieces;
                    };
                    try {
                        for (std::uint64_t c = next_piece.fetch_add(1);
                             c < pieces && !failed.load(); c = next_piece.fetch_add(1)) {
                            const std::uint64_t seed = detail::splitmix64(
                                options.seed ^
                                detail::splitmix64(static_cast<std::uint64_t>(epoch) << 32 | c));
                            detail::w2v_worker(sh, path, at(c), at(c + 1), seed);
                        }
                    } catch (...) {
                        errors[slot] = std::current_exception();
                        failed.store(true);
                    }
                });
            } catch (...) {  // no thread could be started: finish the started ones first
                for (auto& th : pool) th.join();
                throw;
            }
        }
        std::thread reporter;
        try {
            if (options.progress.style != ProgressOptions::Style::silent)
                reporter = std::thread([&] {
                    while (running.load()) {
                        const std::uint64_t d = sh.done.load();
                        const double secs =
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                                .count();
                        bar.update(static_cast<std::int64_t>(d), [&] {
                            char buf[96];
                            std::snprintf(buf, sizeof buf, "epoch %d/%d  %.0fk words/s  lr %.5f",
                                          epoch + 1, options.epochs,
                                          secs > 0 ? static_cast<double>(d) / secs / 1e3 : 0.0,
                                          learning_rate(sh.start_alpha, d, sh.total_words));
                            return std::string(buf);
                        });
                        std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    }
                });
        } catch (...) {  // the workers run on; stop waiting for them only when they are done
            for (auto& th : pool) th.join();
            throw;
        }
        for (auto& th : pool) th.join();
        running.store(false);
        if (reporter.joinable()) reporter.join();
        for (const std::exception_ptr& error : errors)
            if (error) std::rethrow_exception(error);
        if (epoch == 0 && sh.done.load() != vocab.corpus_words)
            throw ArgumentError("embedkit::text::train_word2vec: '" + path + "' has " +
                                std::to_string(sh.done.load()) +
                                " tokens, the vocabulary was built from a corpus of " +
                                std::to_string(vocab.corpus_words));
        detail::w2v_check_finite(sh.syn0, sh.syn1, epoch, sh.start_alpha);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bar.finish("word2vec: " + std::to_string(options.epochs) + " epochs");
    if (stats != nullptr) {
        stats->seconds = seconds;
        stats->raw_words = sh.done.load();
        stats->effective_words = sh.effective.load();
    }
    WordVectors out;
    out.words = vocab.words;
    out.counts = vocab.counts;
    out.vectors = std::move(sh.syn0);
    return out;
}

// ---- Files ------------------------------------------------------------------------------------

namespace detail {

inline void w2v_check_writable(const WordVectors& wv, const char* fn) {
    if (wv.vectors.cols() < 1)
        throw DimensionError(std::string("embedkit::text::") + fn +
                             ": vectors need at least one dimension");
    if (static_cast<Eigen::Index>(wv.words.size()) != wv.vectors.rows())
        throw DimensionError(std::string("embedkit::text::") + fn + ": " +
                             std::to_string(wv.words.size()) + " words but " +
                             std::to_string(wv.vectors.rows()) + " vectors");
    for (const std::string& w : wv.words)
        if (w.empty() || std::any_of(w.begin(), w.end(), w2v_space))
            throw ArgumentError(std::string("embedkit::text::") + fn + ": the word '" + w +
                                "' is empty or holds whitespace, which the format cannot store");
}

}  // namespace detail

namespace detail {

// printf's "%.6f" (word2vec.c's "%lf") in the "C" locale, whatever the program's locale.
inline std::size_t w2v_fixed6(double v, char* out, std::size_t size) {
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
    return static_cast<std::size_t>(
        std::to_chars(out, out + size, v, std::chars_format::fixed, 6).ptr - out);
#else
    const int n = std::snprintf(out, size, "%.6f", v);
    const char point = *std::localeconv()->decimal_point;
    for (int i = 0; i < n; ++i)
        if (out[i] == point) out[i] = '.';
    return static_cast<std::size_t>(n);
#endif
}

// A number at s (no blank before it) in the "C" locale, whatever the program's locale: decimal
// or exponent form, an optional sign, inf and nan; no hexadecimal. Returns the end of the
// number, or nullptr if there is none or it rounds beyond float's largest (then `range` is
// false); a value below half float's smallest subnormal (about 7e-46) reads as zero of its sign,
// as strtof rounds it. The portable form (any standard library): strtod where the locale's
// decimal point is '.', else a stream in the classic locale (which reads no inf or nan and
// refuses "1e": only under a locale whose decimal point is not '.' without from_chars).
inline const char* w2v_parse_float_portable(const char* s, const char* end, float& v, bool& range) {
    range = true;
    if (s < end && *s == '+' && s + 1 < end && s[1] != '-' && s[1] != '+') ++s;
    std::size_t n = 0;
    while (s + n < end && !w2v_space(s[n])) ++n;
    const std::string word(s, n);
    const std::size_t digit = !word.empty() && (word[0] == '-' || word[0] == '+') ? 1 : 0;
    if (word.size() > digit + 1 && word[digit] == '0' && (word[digit + 1] | 0x20) == 'x')
        return nullptr;  // hexadecimal, which from_chars does not read either
    double d = 0;
    std::size_t used = 0;
    if (*std::localeconv()->decimal_point == '.') {
        char* stop = nullptr;
        errno = 0;
        d = std::strtod(word.c_str(), &stop);
        used = static_cast<std::size_t>(stop - word.c_str());
        if (errno == ERANGE && std::isinf(d)) range = false;
    } else {
        std::istringstream in(word);
        in.imbue(std::locale::classic());
        if (in >> d)
            used = in.eof() ? n : static_cast<std::size_t>(in.tellg());
        else if (std::fabs(d) == std::numeric_limits<double>::max())
            range = false;  // the stream's mark of an overflow
    }
    if (range && std::isfinite(d) && std::isinf(static_cast<float>(d)))
        range = false;  // rounds beyond float's largest (3.4028235e38 itself is kept)
    if (!range || used == 0) return nullptr;
    v = static_cast<float>(d);
    return s + used;
}

#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
// The same with std::from_chars (libstdc++ 11 and later), which reports out of range both
// beyond float's largest and where a value rounds to zero: read again as a double.
inline const char* w2v_parse_float_charconv(const char* s, const char* end, float& v, bool& range) {
    range = true;
    if (s < end && *s == '+' && s + 1 < end && s[1] != '-' && s[1] != '+') ++s;
    const auto r = std::from_chars(s, end, v, std::chars_format::general);
    if (r.ec == std::errc()) return r.ptr;
    if (r.ec != std::errc::result_out_of_range) return nullptr;
    double d = 0;
    const auto rd = std::from_chars(s, end, d, std::chars_format::general);
    if (rd.ec == std::errc::result_out_of_range)  // beyond double too: strtod tells which way
        return w2v_parse_float_portable(s, end, v, range);
    if (rd.ec != std::errc() || std::isinf(static_cast<float>(d))) {
        range = rd.ec != std::errc() ? range : false;
        return nullptr;
    }
    v = static_cast<float>(d);  // below half float's smallest subnormal: zero of its sign
    return rd.ptr;
}
#endif

inline const char* w2v_parse_float(const char* s, const char* end, float& v, bool& range) {
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
    return w2v_parse_float_charconv(s, end, v, range);
#else
    return w2v_parse_float_portable(s, end, v, range);
#endif
}

}  // namespace detail

/// The bytes of word2vec.c's formats. Text (`-binary 0`): a line "words dim", then per word
/// "word v1 v2 ... vdim \n" with each value printed "%lf " (six decimals), exactly as
/// word2vec.c prints it. Binary (`-binary 1`): "words dim\n", then per word "word ", dim
/// little-endian float32 values and "\n". Throws DimensionError when the word list and the
/// matrix differ in length, ArgumentError for a word that is empty or holds whitespace.
inline std::string word2vec_bytes(const WordVectors& wv, bool binary) {
    detail::w2v_check_writable(wv, binary ? "save_word2vec_binary" : "save_word2vec_text");
    if (binary && !io::detail::host_is_little_endian())
        throw IoError("embedkit::text::save_word2vec_binary: big-endian hosts are not supported");
    std::string buf = std::to_string(wv.words.size()) + " " + std::to_string(wv.dim()) + "\n";
    char num[80];
    const auto row_bytes = static_cast<std::size_t>(wv.dim()) * sizeof(float);
    for (std::size_t i = 0; i < wv.words.size(); ++i) {
        buf += wv.words[i];
        buf += ' ';
        const float* row = wv.vectors.data() + static_cast<Eigen::Index>(i) * wv.dim();
        if (binary) {
            buf.append(reinterpret_cast<const char*>(row), row_bytes);
        } else {
            for (Eigen::Index j = 0; j < wv.dim(); ++j) {
                const std::size_t n =
                    detail::w2v_fixed6(static_cast<double>(row[j]), num, sizeof num - 1);
                num[n] = ' ';
                buf.append(num, n + 1);
            }
        }
        buf += '\n';
    }
    return buf;
}

/// Writes word2vec.c's text format (word2vec_bytes(wv, false)) atomically (io::AtomicFile).
/// Throws as word2vec_bytes, and IoError if the file cannot be written.
inline void save_word2vec_text(const std::string& path, const WordVectors& wv) {
    const std::string bytes = word2vec_bytes(wv, false);
    io::AtomicFile f(path);
    f.write(bytes.data(), bytes.size());
    f.commit();
}

/// Writes word2vec.c's binary format (word2vec_bytes(wv, true)) atomically.
inline void save_word2vec_binary(const std::string& path, const WordVectors& wv) {
    const std::string bytes = word2vec_bytes(wv, true);
    io::AtomicFile f(path);
    f.write(bytes.data(), bytes.size());
    f.commit();
}

namespace detail {

[[noreturn]] inline void w2v_format_error(const std::string& path, const std::string& what) {
    throw FormatError("embedkit::text::load_word2vec: '" + path + "': " + what);
}

// Reads the whole file (vector files are read once, then parsed in memory).
inline std::string w2v_slurp(const std::string& path, const char* fn = "load_word2vec") {
    std::ifstream in = w2v_open(path, fn);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
        throw IoError(std::string("embedkit::text::") + fn + ": read error in '" + path + "'");
    return data;
}

// Parses "words dim" at the start; returns the offset after its newline.
inline std::size_t w2v_header(const std::string& data, const std::string& path, std::int64_t& rows,
                              std::int64_t& dim) {
    const std::size_t nl = data.find('\n');
    if (nl == std::string::npos) w2v_format_error(path, "no header line (\"words dim\")");
    const std::string head = data.substr(0, nl);
    // Two decimal numbers separated by blanks, nothing else (a '\r' before the '\n' allowed).
    long long r = -1, d = -1;
    std::size_t q = 0;
    const auto number = [&](long long& out) {
        while (q < head.size() && (head[q] == ' ' || head[q] == '\t')) ++q;
        const std::size_t start = q;
        out = 0;
        while (q < head.size() && head[q] >= '0' && head[q] <= '9' && q - start < 12)
            out = out * 10 + (head[q++] - '0');
        return q > start && (q >= head.size() || !(head[q] >= '0' && head[q] <= '9'));
    };
    const bool two = number(r) && number(d);
    while (q < head.size() && (head[q] == ' ' || head[q] == '\t' || head[q] == '\r')) ++q;
    if (!two || q != head.size() || r < 0 || d < 1)
        w2v_format_error(path, "header \"" + head.substr(0, 80) +
                                   "\" is not two numbers \"words dim\" (words >= 0, dim >= 1)");
    if (d > (1 << 20) || r > (std::int64_t(1) << 31))
        w2v_format_error(path,
                         "header \"" + head + "\" asks for more than 2^31 words or 2^20 dims");
    rows = r;
    dim = d;
    return nl + 1;
}

}  // namespace detail

inline WordVectors parse_word2vec(const std::string& data, bool binary,
                                  const std::string& path = "(bytes)");

/// Reads word2vec's text or binary format (as word2vec.c and gensim write them; `binary`
/// chooses). Words are kept byte for byte; counts are 0. Throws FormatError naming the file
/// and the problem (bad header, truncated row, a value that is not a number, more or fewer
/// rows than the header says, a duplicate word), IoError if the file cannot be read.
inline WordVectors load_word2vec(const std::string& path, bool binary) {
    return parse_word2vec(detail::w2v_slurp(path), binary, path);
}

/// load_word2vec's parser on bytes in memory; `path` names them in messages.
inline WordVectors parse_word2vec(const std::string& data, bool binary, const std::string& path) {
    std::int64_t rows = 0, dim = 0;
    std::size_t p = detail::w2v_header(data, path, rows, dim);
    if (binary && !io::detail::host_is_little_endian())
        throw IoError("embedkit::text::load_word2vec: big-endian hosts are not supported");
    WordVectors wv;
    if (static_cast<std::uint64_t>(rows) * static_cast<std::uint64_t>(dim) * 4 >
        data.size() * 2 + 1024)
        detail::w2v_format_error(path, "header says " + std::to_string(rows) + " x " +
                                           std::to_string(dim) + ", more than the file holds");
    wv.vectors.resize(rows, dim);
    // The shortest row is a one-byte word, a blank and its values (4 bytes each in binary, a
    // blank and a digit each in text): no more words than that fit are reserved.
    const auto shortest = static_cast<std::size_t>(binary ? 2 + 4 * dim : 1 + 2 * dim);
    wv.words.reserve(std::min(static_cast<std::size_t>(rows), (data.size() - p) / shortest + 1));
    std::unordered_map<std::string, std::int64_t> seen;
    const std::size_t n = data.size();
    for (std::int64_t r = 0; r < rows; ++r) {
        const std::string where = "row " + std::to_string(r + 1) + " of " + std::to_string(rows);
        while (p < n && detail::w2v_space(data[p])) ++p;  // gensim's binary rows may lack '\n'
        std::size_t e = p;
        while (e < n && !detail::w2v_space(data[e])) ++e;
        if (e >= n || e == p || (data[e] != ' ' && data[e] != '\t'))
            detail::w2v_format_error(path, where + ": truncated or missing word");
        std::string word = data.substr(p, e - p);
        p = e + 1;
        if (!seen.emplace(word, r).second)
            detail::w2v_format_error(path, where + ": the word '" + word + "' appears twice");
        float* out = wv.vectors.data() + r * dim;
        if (binary) {
            const auto bytes = static_cast<std::size_t>(dim) * sizeof(float);
            if (n - p < bytes) detail::w2v_format_error(path, where + ": truncated vector");
            std::memcpy(out, data.data() + p, bytes);
            p += bytes;
        } else {
            for (std::int64_t j = 0; j < dim; ++j) {
                while (p < n && (data[p] == ' ' || data[p] == '\t')) ++p;
                if (p >= n || data[p] == '\n' || data[p] == '\r')
                    detail::w2v_format_error(path, where + ": " + std::to_string(j) +
                                                       " values, header says " +
                                                       std::to_string(dim));
                const char* start = data.data() + p;
                const char* last = data.data() + n;
                float v = 0;
                bool range = true;
                const char* stop = detail::w2v_space(*start)
                                       ? nullptr
                                       : detail::w2v_parse_float(start, last, v, range);
                if (stop == nullptr || (stop < last && *stop != ' ' && *stop != '\t' &&
                                        *stop != '\n' && *stop != '\r'))
                    detail::w2v_format_error(path, where + ": value " + std::to_string(j + 1) +
                                                       " is not a number" +
                                                       (range ? "" : " in float's range"));
                out[j] = v;
                p = static_cast<std::size_t>(stop - data.data());
            }
            while (p < n && (data[p] == ' ' || data[p] == '\t' || data[p] == '\r')) ++p;
            if (p < n && data[p] != '\n')
                detail::w2v_format_error(
                    path, where + ": more values than the header's " + std::to_string(dim));
        }
        wv.words.push_back(std::move(word));
    }
    while (p < n && (data[p] == '\n' || data[p] == '\r' || data[p] == ' ')) ++p;
    if (p < n)
        detail::w2v_format_error(path, "more rows than the header's " + std::to_string(rows));
    wv.counts.assign(wv.words.size(), 0);
    return wv;
}

/// Writes the vectors as a float32 .npy matrix (io::write_npy; numpy.load reads it) and the
/// words as a vocabulary file: one "word<TAB>count" line per row, in row order, the words'
/// bytes as they are (UTF-8 from a UTF-8 corpus); counts 0 when `wv.counts` is empty. Each
/// file is replaced atomically, the .npy first: if the second write fails, the pair disagrees
/// and load_word2vec_npy says so (W2V-44). Throws as word2vec_bytes, DimensionError when counts are
/// neither empty nor one per word, IoError if a file cannot be written.
inline void save_word2vec_npy(const std::string& npy_path, const std::string& vocab_path,
                              const WordVectors& wv) {
    detail::w2v_check_writable(wv, "save_word2vec_npy");
    if (!wv.counts.empty() && wv.counts.size() != wv.words.size())
        throw DimensionError(
            "embedkit::text::save_word2vec_npy: " + std::to_string(wv.words.size()) +
            " words but " + std::to_string(wv.counts.size()) + " counts");
    std::string tsv;
    for (std::size_t i = 0; i < wv.size(); ++i)
        tsv += wv.words[i] + '\t' + std::to_string(wv.counts.empty() ? 0 : wv.counts[i]) + '\n';
    io::write_npy(npy_path, wv.vectors);
    io::AtomicFile f(vocab_path);
    f.write(tsv.data(), tsv.size());
    f.commit();
}

/// Reads what save_word2vec_npy writes: a float32 .npy matrix (io::read_npy's rows and
/// errors) and its vocabulary file. Throws FormatError for a vocabulary line that is not
/// "word<TAB>count" (a word without whitespace, a decimal count), a word on two lines, or a
/// line count other than the matrix's rows; IoError if a file cannot be read.
inline WordVectors load_word2vec_npy(const std::string& npy_path, const std::string& vocab_path) {
    WordVectors wv;
    wv.vectors = io::read_npy<float>(npy_path);
    const std::string data = detail::w2v_slurp(vocab_path, "load_word2vec_npy");
    const auto bad = [&](std::size_t line, const std::string& what) {
        throw FormatError("embedkit::text::load_word2vec_npy: '" + vocab_path + "' line " +
                          std::to_string(line) + ": " + what);
    };
    std::unordered_map<std::string, std::size_t> seen;
    std::size_t p = 0;
    while (p < data.size()) {
        std::size_t nl = data.find('\n', p);
        if (nl == std::string::npos) nl = data.size();
        std::string line = data.substr(p, nl - p);
        p = nl + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::size_t number = wv.words.size() + 1;
        const std::size_t tab = line.find('\t');
        if (tab == std::string::npos || tab == 0) bad(number, "not \"word<TAB>count\"");
        std::string word = line.substr(0, tab);
        if (std::any_of(word.begin(), word.end(), detail::w2v_space))
            bad(number, "the word holds whitespace");
        const std::string digits = line.substr(tab + 1);
        std::uint64_t count = 0;
        const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), count);
        if (digits.empty() || r.ec != std::errc() || r.ptr != digits.data() + digits.size())
            bad(number, "the count '" + digits.substr(0, 40) + "' is not a decimal number");
        if (!seen.emplace(word, number).second)
            bad(number, "the word '" + word + "' is also on line " + std::to_string(seen[word]));
        wv.words.push_back(std::move(word));
        wv.counts.push_back(count);
    }
    if (static_cast<Eigen::Index>(wv.words.size()) != wv.vectors.rows())
        throw FormatError("embedkit::text::load_word2vec_npy: '" + vocab_path + "' names " +
                          std::to_string(wv.words.size()) + " words, '" + npy_path + "' holds " +
                          std::to_string(wv.vectors.rows()) + " rows");
    return wv;
}

// ---- Queries and evaluation --------------------------------------------------------------------

/// A word and its score (cosine, or the 3CosMul objective).
struct ScoredWord {
    std::string word;
    float score;
};

/// How an analogy "a is to b as c is to ?" is answered (Levy and Goldberg 2014):
/// add: argmax cos(d, b) - cos(d, a) + cos(d, c) (3CosAdd, word2vec's);
/// mul: argmax s(d, b) s(d, c) / (s(d, a) + 1e-6) with s = (1 + cos) / 2 (3CosMul).
enum class AnalogyMethod { add, mul };

/// How WordIndex matches words: byte for byte, or with ASCII letters lower-cased on both sides
/// (gensim's case_insensitive evaluation): a query word stands for the first (most frequent) of
/// its case variants ("paris" finds "Paris" before "PARIS"), every variant stays a candidate
/// answer, and the variants of the query words are left out of the answers.
enum class WordCase { exact, fold };

/// The first `restrict` rows of word vectors (all if 0), each scaled to unit length, for
/// queries; row i of unit() is the vectors' row i. Zero vectors stay zero. A word given on
/// two rows is found at the first; answers leave out every row of a query word.
class WordIndex {
public:
    explicit WordIndex(const WordVectors& wv, std::size_t restrict = 0,
                       WordCase match = WordCase::exact)
        : wv_(&wv), fold_(match == WordCase::fold) {
        const auto first =
            static_cast<Eigen::Index>(restrict == 0 ? wv.size() : std::min(restrict, wv.size()));
        if (first == 0) throw ArgumentError("embedkit::text::WordIndex: no words");
        if (static_cast<Eigen::Index>(wv.words.size()) != wv.vectors.rows())
            throw DimensionError("embedkit::text::WordIndex: " + std::to_string(wv.words.size()) +
                                 " words but " + std::to_string(wv.vectors.rows()) + " vectors");
        rows_ = first;
        canonical_.resize(static_cast<std::size_t>(rows_));
        variants_.assign(static_cast<std::size_t>(rows_), 0);
        for (Eigen::Index i = 0; i < rows_; ++i) {  // the first of a repeat or variant wins
            const std::string& w = wv.words[static_cast<std::size_t>(i)];
            const Eigen::Index c = index_.emplace(fold_ ? fold(w) : w, i).first->second;
            canonical_[static_cast<std::size_t>(i)] = c;
            ++variants_[static_cast<std::size_t>(c)];
        }
        unit_ = wv.vectors.topRows(rows_);
        for (Eigen::Index i = 0; i < rows_; ++i) {
            const float n = unit_.row(i).norm();
            if (n > 0) unit_.row(i) /= n;
        }
    }

    /// The index refers to `wv`, which must outlive it (a temporary is refused).
    explicit WordIndex(WordVectors&&, std::size_t = 0, WordCase = WordCase::exact) = delete;

    /// The row of `word` among the indexed words (its first row, or its first variant's when
    /// folding), or -1.
    Eigen::Index find(const std::string& word) const {
        const auto it = index_.find(fold_ ? fold(word) : word);
        return it == index_.end() ? -1 : it->second;
    }
    /// The indexed rows at unit length (row i is the vectors' row i).
    const RowMatrixF& unit() const noexcept { return unit_; }
    /// The word of row i.
    const std::string& word(Eigen::Index i) const {
        return wv_->words[static_cast<std::size_t>(i)];
    }

    /// The k words closest to `word` by cosine (itself excluded), through top_k.
    /// Throws ArgumentError if the word is not indexed or k < 1.
    std::vector<ScoredWord> nearest(const std::string& w, Eigen::Index k) const {
        const Eigen::Index i = require(w, "nearest");
        check_k(k, "nearest");
        return nearest_to(unit_.row(i), k, {i});
    }

    /// Answers "a is to b as c is to ?" (king - man + woman: a = man, b = king, c = woman),
    /// the query words excluded. Throws ArgumentError if a word is not indexed or k < 1.
    std::vector<ScoredWord> analogy(const std::string& a, const std::string& b,
                                    const std::string& c, Eigen::Index k,
                                    AnalogyMethod method = AnalogyMethod::add) const {
        const Eigen::Index ia = require(a, "analogy"), ib = require(b, "analogy"),
                           ic = require(c, "analogy");
        check_k(k, "analogy");
        if (method == AnalogyMethod::add) {
            // The cosine to b - a + c (its ranking is 3CosAdd's).
            VectorF q = (unit_.row(ib) - unit_.row(ia) + unit_.row(ic)).transpose();
            const float n = q.norm();
            if (n > 0) q /= n;
            return nearest_to(q.transpose(), k, {ia, ib, ic});
        }
        const VectorF sa = unit_ * unit_.row(ia).transpose(),
                      sb = unit_ * unit_.row(ib).transpose(),
                      sc = unit_ * unit_.row(ic).transpose();
        std::vector<std::pair<float, Eigen::Index>> all;
        all.reserve(static_cast<std::size_t>(rows_));
        for (Eigen::Index j = 0; j < rows_; ++j) {
            const Eigen::Index cj = canonical_[static_cast<std::size_t>(j)];
            if (cj == ia || cj == ib || cj == ic) continue;
            const float v = (1 + sb[j]) / 2 * ((1 + sc[j]) / 2) / ((1 + sa[j]) / 2 + 1e-6f);
            all.push_back({v, j});
        }
        const auto take = std::min<std::size_t>(static_cast<std::size_t>(k), all.size());
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(take), all.end(),
                          [](const auto& x, const auto& y) {
                              // Larger first, NaN after every number, then lower row first.
                              const bool xn = std::isnan(x.first), yn = std::isnan(y.first);
                              if (xn != yn) return yn;
                              if (!xn && x.first != y.first) return x.first > y.first;
                              return x.second < y.second;
                          });
        std::vector<ScoredWord> out;
        for (std::size_t t = 0; t < take; ++t) out.push_back({word(all[t].second), all[t].first});
        return out;
    }

private:
    static std::string fold(std::string w) {
        detail::w2v_lower(w);
        return w;
    }
    static void check_k(Eigen::Index k, const char* fn) {
        if (k < 1)
            throw ArgumentError(std::string("embedkit::text::WordIndex::") + fn +
                                ": k must be >= 1, got " + std::to_string(k));
    }
    Eigen::Index require(const std::string& w, const char* fn) const {
        const Eigen::Index i = find(w);
        if (i < 0)
            throw ArgumentError(std::string("embedkit::text::WordIndex::") + fn + ": '" + w +
                                "' is not among the " + std::to_string(rows_) + " indexed words");
        return i;
    }
    template <class Row>
    std::vector<ScoredWord> nearest_to(const Row& q, Eigen::Index k,
                                       std::initializer_list<Eigen::Index> skip) const {
        const RowMatrixF query = q;
        // Enough candidates that k remain once every row of the skipped words is left out.
        Eigen::Index want = std::min(rows_, k);
        for (const Eigen::Index s : skip)
            want = std::min(rows_, want + variants_[static_cast<std::size_t>(s)]);
        const TopK<float> top = top_k(query, unit_, want, Metric::dot);
        std::vector<ScoredWord> out;
        for (Eigen::Index t = 0;
             t < top.indices.cols() && static_cast<Eigen::Index>(out.size()) < k; ++t) {
            const Eigen::Index j = top.indices(0, t);
            const Eigen::Index c = canonical_[static_cast<std::size_t>(j)];
            if (std::find(skip.begin(), skip.end(), c) != skip.end()) continue;
            out.push_back({word(j), top.scores(0, t)});
        }
        return out;
    }

    const WordVectors* wv_;
    bool fold_;
    Eigen::Index rows_ = 0;
    std::vector<Eigen::Index> canonical_;  // row -> the row its word (or folded word) finds
    std::vector<Eigen::Index> variants_;   // row -> how many rows find it
    RowMatrixF unit_;
    std::unordered_map<std::string, Eigen::Index> index_;
};

/// Accuracy on an analogy file, per section and overall.
struct AnalogyReport {
    struct Section {
        std::string name;
        std::int64_t questions = 0;  ///< in the file
        std::int64_t covered = 0;    ///< all four words indexed
        std::int64_t correct = 0;
        double accuracy() const { return covered ? double(correct) / double(covered) : 0; }
    };
    std::vector<Section> sections;
    Section total{"total"};
};

/// Evaluates analogies in the `questions-words.txt` format (": section" lines, then
/// "a b c d" lines: d is the answer to a : b :: c : ?) over the first `restrict` words (30,000
/// by convention), case-insensitively as gensim's case_insensitive evaluation (ASCII;
/// WordCase::fold). A question counts when all four words are indexed; it is correct when the
/// best answer (every case variant of the query words excluded) is d in any case.
/// Throws IoError if the file cannot be read, FormatError for a line of other than 4 words.
inline AnalogyReport evaluate_analogies(const WordVectors& wv, const std::string& path,
                                        std::size_t restrict = 30000,
                                        AnalogyMethod method = AnalogyMethod::add) {
    const WordIndex index(wv, restrict, WordCase::fold);
    std::ifstream in = detail::w2v_open(path, "evaluate_analogies");
    AnalogyReport report;
    std::string line, token;
    std::int64_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (line[0] == ':') {
            std::size_t b = 1;
            while (b < line.size() && line[b] == ' ') ++b;
            report.sections.push_back({line.substr(b)});
            continue;
        }
        if (report.sections.empty()) report.sections.push_back({"(no section)"});
        std::vector<std::string> w;
        detail::for_each_token(line, true, token, [&](const std::string& t) { w.push_back(t); });
        if (w.size() != 4)
            throw FormatError("embedkit::text::evaluate_analogies: '" + path + "' line " +
                              std::to_string(number) + " has " + std::to_string(w.size()) +
                              " words, expected 4");
        AnalogyReport::Section& s = report.sections.back();
        ++s.questions;
        if (index.find(w[0]) < 0 || index.find(w[1]) < 0 || index.find(w[2]) < 0 ||
            index.find(w[3]) < 0)
            continue;
        ++s.covered;
        const auto best = index.analogy(w[0], w[1], w[2], 1, method);
        if (!best.empty() && index.find(best[0].word) == index.find(w[3])) ++s.correct;
    }
    for (const auto& s : report.sections) {
        report.total.questions += s.questions;
        report.total.covered += s.covered;
        report.total.correct += s.correct;
    }
    return report;
}

/// Spearman correlation between the model's cosine and human scores on a word-pair file.
struct SimilarityReport {
    std::int64_t pairs = 0;    ///< in the file
    std::int64_t covered = 0;  ///< both words known
    double spearman = 0;
};

namespace detail {

inline std::vector<double> average_ranks(const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> rank(v.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i;
        while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
        const double r = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
        for (std::size_t t = i; t <= j; ++t) rank[order[t]] = r;
        i = j + 1;
    }
    return rank;
}

}  // namespace detail

/// Spearman's rank correlation (average ranks for ties) of two equally long lists; 0 when
/// fewer than two values or a list is constant.
inline double spearman(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size())
        throw DimensionError("embedkit::text::spearman: lists of " + std::to_string(x.size()) +
                             " and " + std::to_string(y.size()) + " values");
    if (x.size() < 2) return 0;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
            throw ArgumentError("embedkit::text::spearman: value " + std::to_string(i) +
                                " is NaN or infinite");
    const auto rx = detail::average_ranks(x), ry = detail::average_ranks(y);
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < rx.size(); ++i) mx += rx[i], my += ry[i];
    mx /= double(rx.size());
    my /= double(ry.size());
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < rx.size(); ++i) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0;
}

/// Evaluates word similarity on a WordSim-353-style file: "word1<sep>word2<sep>score" per
/// line (tabs or spaces), lines starting with '#' skipped, case-insensitively as
/// evaluate_analogies. Pairs with an unknown word are left out (reported as coverage).
/// Throws IoError if the file cannot be read, FormatError for a malformed line.
inline SimilarityReport evaluate_similarity(const WordVectors& wv, const std::string& path,
                                            std::size_t restrict = 0) {
    const WordIndex index(wv, restrict, WordCase::fold);
    std::ifstream in = detail::w2v_open(path, "evaluate_similarity");
    SimilarityReport report;
    std::vector<double> model, human;
    std::string line, token;
    std::int64_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> w;
        detail::for_each_token(line, true, token, [&](const std::string& t) { w.push_back(t); });
        if (w.empty()) continue;
        char* end = nullptr;
        const double score = w.size() == 3 ? std::strtod(w[2].c_str(), &end) : 0;
        if (w.size() != 3 || end == w[2].c_str() || *end != '\0' || !std::isfinite(score))
            throw FormatError("embedkit::text::evaluate_similarity: '" + path + "' line " +
                              std::to_string(number) +
                              " is not \"word word score\" with a finite score");
        ++report.pairs;
        const Eigen::Index a = index.find(w[0]), b = index.find(w[1]);
        if (a < 0 || b < 0) continue;
        const double cosine = static_cast<double>(index.unit().row(a).dot(index.unit().row(b)));
        if (!std::isfinite(cosine)) continue;  // a vector holding NaN or infinity: not covered
        ++report.covered;
        model.push_back(cosine);
        human.push_back(score);
    }
    report.spearman = spearman(model, human);
    return report;
}

}  // namespace embedkit::text
