// Fuzz target: word2vec vector files (text/word2vec.hpp, parse_word2vec) on arbitrary bytes.
// Input: byte 0 bit 0 chooses the binary format, the rest is the file. Checked on every file
// that parses: one row per word, every word non-empty, free of whitespace and unique; written
// again with word2vec_bytes and parsed back, the words are the same and the values the same
// bits (binary) or within the text format's six decimals (text; NaN stays NaN, infinities stay).
#include "fuzz_util.hpp"

#include <embedkit/text/word2vec.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_set>

namespace {

constexpr const char* target = "fuzz_word2vec";
namespace text = embedkit::text;

bool has_space(const std::string& w) {
    for (const char c : w)
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return true;
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    const bool binary = in.flag();
    const std::string bytes(reinterpret_cast<const char*>(in.rest()), in.left());
    text::WordVectors wv;
    try {
        wv = text::parse_word2vec(bytes, binary, "fuzz");
    } catch (const embedkit::Error&) {
        return 0;  // a rejected file: the expected outcome for malformed input
    }
    FUZZ_CHECK(target, static_cast<Eigen::Index>(wv.words.size()) == wv.vectors.rows());
    FUZZ_CHECK(target, wv.counts.size() == wv.words.size());
    std::unordered_set<std::string> seen;
    for (const std::string& w : wv.words) {
        FUZZ_CHECK(target, !w.empty());
        FUZZ_CHECK(target, !has_space(w));
        FUZZ_CHECK(target, seen.insert(w).second);
    }
    if (wv.words.empty()) return 0;
    const text::WordVectors again =
        text::parse_word2vec(text::word2vec_bytes(wv, binary), binary, "again");
    FUZZ_CHECK(target, again.words == wv.words);
    FUZZ_CHECK(target, again.vectors.rows() == wv.vectors.rows() &&
                           again.vectors.cols() == wv.vectors.cols());
    for (Eigen::Index i = 0; i < wv.vectors.size(); ++i) {
        const float a = wv.vectors.data()[i], b = again.vectors.data()[i];
        if (binary) {
            FUZZ_CHECK(target, std::memcmp(&a, &b, sizeof a) == 0);
        } else if (std::isnan(a)) {
            FUZZ_CHECK(target, std::isnan(b));
        } else if (std::isinf(a)) {
            FUZZ_CHECK(target, b == a);
        } else {
            FUZZ_CHECK(target,
                       std::fabs(double(a) - double(b)) <= 5.01e-7 + 1e-6 * std::fabs(double(a)));
        }
    }
    return 0;
}
