// Shared helpers of the text tests: the committed test data, corpus escapes, FNV-1a hashes
// of encodings (as scripts/tokenizer_reference.py computes them) and option sets by name.
#pragma once

#include <embedkit/text/wordpiece.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace texttest {

inline std::string data_path(const std::string& name) {
    return std::string(EMBEDKIT_TEXT_DATA_DIR) + "/" + name;
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

/// The corpus escapes of scripts/make_tokenizer_corpus.py: \\ \n \r \0.
inline std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char c = s[++i];
            out += c == 'n' ? '\n' : c == 'r' ? '\r' : c == '0' ? '\0' : c;
        } else {
            out += s[i];
        }
    }
    return out;
}

inline const embedkit::text::WordPieceTokenizer& minilm() {
    static const auto t =
        embedkit::text::WordPieceTokenizer::from_vocab_file(data_path("vocab.txt"));
    return t;
}

inline constexpr std::uint64_t fnv_offset = 0xCBF29CE484222325ull;

inline std::uint64_t fnv_u32(std::uint64_t h, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        h ^= (v >> (8 * i)) & 0xFFu;
        h *= 0x100000001B3ull;
    }
    return h;
}

/// FNV-1a 64 over LE uint32s: count, then (id, begin, end) per token.
inline std::uint64_t encoding_hash(const embedkit::text::Encoding& e,
                                   std::uint64_t h = fnv_offset) {
    h = fnv_u32(h, static_cast<std::uint32_t>(e.ids.size()));
    for (std::size_t i = 0; i < e.ids.size(); ++i) {
        h = fnv_u32(h, static_cast<std::uint32_t>(e.ids[i]));
        h = fnv_u32(h, static_cast<std::uint32_t>(e.offsets[i].begin));
        h = fnv_u32(h, static_cast<std::uint32_t>(e.offsets[i].end));
    }
    return h;
}

inline std::string describe(const embedkit::text::Encoding& e) {
    std::string s;
    for (std::size_t i = 0; i < e.ids.size(); ++i)
        s += std::to_string(e.ids[i]) + "(" + std::to_string(e.offsets[i].begin) + "," +
             std::to_string(e.offsets[i].end) + ") ";
    return s;
}

/// Options from a "config" line's fields: lowercase, strip_accents, chinese, clean_text, each
/// "1", "0" or "-" (unset: strip_accents follows lowercase).
inline embedkit::text::WordPieceOptions options_from(const std::string& lower,
                                                     const std::string& strip,
                                                     const std::string& chinese,
                                                     const std::string& clean) {
    embedkit::text::WordPieceOptions o;
    o.lowercase = lower == "1";
    if (strip != "-") o.strip_accents = strip == "1";
    o.tokenize_chinese_chars = chinese == "1";
    o.clean_text = clean == "1";
    return o;
}

}  // namespace texttest
