// The WordPiece tokenizer against the reference (tokenizers 0.19.1 / transformers 4.44.2
// BertTokenizerFast): every line of the committed corpus under the default options and a few
// hundred under each other option set, and "a<c>b" for every code point c under every option
// set. The data come from scripts/tokenizer_reference.py and scripts/make_unicode_tables.py.
#include "text_test_util.hpp"

#include <embedkit/text/wordpiece.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace text = embedkit::text;

std::vector<std::string> fields(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    std::string f;
    while (in >> f) out.push_back(f);
    return out;
}

}  // namespace

TEST_CASE("wordpiece reference: every corpus line encodes as the reference does") {
    const auto corpus_lines =
        texttest::lines_of(texttest::read_file(texttest::data_path("corpus.txt")));
    std::vector<std::string> corpus;
    for (const auto& l : corpus_lines) corpus.push_back(texttest::unescape(l));
    REQUIRE(corpus.size() >= 20000);
    const auto ref = texttest::lines_of(texttest::read_file(texttest::data_path("corpus_ids.txt")));

    std::unique_ptr<text::WordPieceTokenizer> tok;
    std::string config;
    std::size_t max_length = 0;
    std::map<std::string, std::size_t> checked;
    std::size_t mismatches = 0, id_lines = 0, truncated = 0;
    text::Encoding enc;
    for (const std::string& line : ref) {
        if (line.empty() || line[0] == '#') continue;
        const auto f = fields(line);
        if (f[0] == "config") {
            REQUIRE(f.size() == 7);
            config = f[1];
            max_length = std::stoul(f[2]);
            tok = std::make_unique<text::WordPieceTokenizer>(
                texttest::minilm().vocabulary(), texttest::options_from(f[3], f[4], f[5], f[6]));
            continue;
        }
        REQUIRE(tok);
        const std::size_t i = std::stoul(f[1]);
        REQUIRE(i < corpus.size());
        tok->encode(corpus[i], max_length, enc);
        if (f[0] == "h") {
            ++checked[config];
            if (enc.ids.size() == max_length) ++truncated;
            if (texttest::encoding_hash(enc) != std::stoull(f[2], nullptr, 16)) {
                ++mismatches;
                if (mismatches <= 20)
                    FAIL_CHECK(
                        "config ", config, ", corpus line ", i + 1, ": '", corpus[i],
                        "' encodes as ", texttest::describe(enc),
                        "(reference hash differs; rerun scripts/tokenizer_reference.py to compare)");
            }
        } else if (f[0] == "ids") {
            ++id_lines;
            std::vector<std::int32_t> want;
            for (std::size_t k = 2; k < f.size(); ++k) want.push_back(std::stoi(f[k]));
            CHECK_MESSAGE(enc.ids == want, "config ", config, ", corpus line ", i + 1, ": ",
                          texttest::describe(enc));
        }
    }
    CHECK(mismatches == 0);
    CHECK(checked["default"] == corpus.size());
    CHECK(checked.size() == 6);
    CHECK(id_lines > 300);
    CHECK(truncated > 50);  // the corpus reaches the 256 limit
    MESSAGE("checked ", checked["default"], " default lines, ", id_lines, " id lists, ", truncated,
            " truncated encodings");
}

TEST_CASE("wordpiece reference: \"a<c>b\" for every code point, under every option set") {
    const auto ref = texttest::lines_of(texttest::read_file(texttest::data_path("codepoints.txt")));
    std::size_t row = 0;
    int configs = 0;
    text::Encoding enc;
    while (row < ref.size()) {
        const std::string& line = ref[row++];
        if (line.empty() || line[0] == '#') continue;
        const auto f = fields(line);
        REQUIRE(f.size() == 7);
        REQUIRE(f[0] == "config");
        ++configs;
        const std::string config = f[1];
        const auto block = static_cast<std::uint32_t>(std::stoul(f[2]));
        const text::WordPieceTokenizer tok(texttest::minilm().vocabulary(),
                                           texttest::options_from(f[3], f[4], f[5], f[6]));
        int bad_blocks = 0;
        for (std::uint32_t first = 0; first < 0x110000; first += block) {
            REQUIRE(row < ref.size());
            const std::uint64_t want = std::stoull(ref[row++], nullptr, 16);
            std::uint64_t h = texttest::fnv_offset;
            std::string s;
            for (std::uint32_t c = first; c < first + block; ++c) {
                if (c >= 0xD800 && c <= 0xDFFF) continue;
                s = "a";
                text::detail::append_utf8(s, static_cast<char32_t>(c));
                s += 'b';
                tok.encode(s, text::WordPieceTokenizer::no_limit, enc);
                h = texttest::encoding_hash(enc, texttest::fnv_u32(h, c));
            }
            if (h != want && ++bad_blocks <= 10) {
                // Name the block and show what each of its code points gave, for comparison
                // with the reference (scripts/make_unicode_tables.py).
                std::string ours;
                for (std::uint32_t c = first; c < first + block && c < first + 64; ++c) {
                    if (c >= 0xD800 && c <= 0xDFFF) continue;
                    s = "a";
                    text::detail::append_utf8(s, static_cast<char32_t>(c));
                    s += 'b';
                    tok.encode(s, text::WordPieceTokenizer::no_limit, enc);
                    ours += "\n  U+" + std::to_string(c) + ": " + texttest::describe(enc);
                }
                FAIL_CHECK("config ", config, ": code points ", first, "..", first + block - 1,
                           " differ from the reference; the first 64 (decimal) give:", ours);
            }
        }
        CHECK_MESSAGE(bad_blocks == 0, "config ", config, ": ", bad_blocks, " blocks differ");
    }
    CHECK(configs == 6);
}
