// WordPiece tokenizer rules, one case per rule, on small vocabularies (so each expectation can
// be read off the test) and on the committed all-MiniLM-L6-v2 vocabulary (expected ids from the
// reference, tokenizers 0.19.1). The full corpus and every code point are in
// test_wordpiece_reference.cpp.
#include "text_test_util.hpp"

#include <embedkit/text/wordpiece.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace text = embedkit::text;
using text::Encoding;
using text::TextSpan;
using text::WordPieceOptions;
using text::WordPieceTokenizer;

// A small vocabulary: ids 0..4 are [PAD] [UNK] [CLS] [SEP] [MASK], then the words given.
WordPieceTokenizer small(std::vector<std::string> words, WordPieceOptions o = {}) {
    std::vector<std::string> v = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    v.insert(v.end(), words.begin(), words.end());
    return WordPieceTokenizer(std::move(v), std::move(o));
}

// The tokens of an encoding, [CLS]/[SEP] included.
std::vector<std::string> tokens(const WordPieceTokenizer& t, const Encoding& e) {
    std::vector<std::string> out;
    for (const auto id : e.ids) out.push_back(t.token_of(id));
    return out;
}

std::vector<std::string> tok(const WordPieceTokenizer& t, const std::string& s,
                             std::size_t max_length = WordPieceTokenizer::no_limit) {
    return tokens(t, t.encode(s, max_length));
}

using V = std::vector<std::string>;

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        path = std::filesystem::temp_directory_path() /
               ("embedkit_text_" +
                std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string write(const std::string& name, const std::string& bytes) const {
        const auto p = (path / name).string();
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }
};

}  // namespace

TEST_CASE("wordpiece: the empty text is [CLS] [SEP] with empty spans") {
    const auto& t = texttest::minilm();
    const Encoding e = t.encode("");
    CHECK(e.ids == std::vector<std::int32_t>{101, 102});
    CHECK(e.offsets == std::vector<TextSpan>{{0, 0}, {0, 0}});
    CHECK(t.encode(" \t\n\u3000").ids == std::vector<std::int32_t>{101, 102});
    CHECK(t.encode(std::string("\0\0", 2)).ids == std::vector<std::int32_t>{101, 102});
}

TEST_CASE("wordpiece: the reference's ids and byte offsets for a sentence") {
    // tokenizers 0.19.1: [101, 7592, 1010, 2088, 999, 1746, 1861, 100, 102], char offsets
    // (0,5) (5,6) (7,12) (12,13) (14,15) (15,16) (17,118); here in bytes.
    const auto& t = texttest::minilm();
    const std::string s = "Hello, world! \xE4\xB8\xAD\xE6\x96\x87 " + std::string(101, 'a');
    const Encoding e = t.encode(s);
    CHECK(e.ids == std::vector<std::int32_t>{101, 7592, 1010, 2088, 999, 1746, 1861, 100, 102});
    CHECK(e.offsets ==
          std::vector<TextSpan>{
              {0, 0}, {0, 5}, {5, 6}, {7, 12}, {12, 13}, {14, 17}, {17, 20}, {21, 122}, {0, 0}});
}

TEST_CASE("wordpiece: greedy longest match with the continuing-subword prefix") {
    const auto t = small({"un", "##aff", "##able", "##a", "##ff", "unaff", "able"});
    CHECK(tok(t, "unaffable") == V{"[CLS]", "unaff", "##able", "[SEP]"});
    const auto u = small({"un", "##aff", "##able"});
    CHECK(tok(u, "unaffable") == V{"[CLS]", "un", "##aff", "##able", "[SEP]"});
    const Encoding e = u.encode("x unaffable");
    CHECK(e.offsets == std::vector<TextSpan>{{0, 0}, {0, 1}, {2, 4}, {4, 7}, {7, 11}, {0, 0}});
    CHECK(tokens(u, e) == V{"[CLS]", "[UNK]", "un", "##aff", "##able", "[SEP]"});
    // A piece inside a word is only matched with the prefix.
    CHECK(tok(small({"un", "able"}), "unable") == V{"[CLS]", "[UNK]", "[SEP]"});
    // Another prefix.
    WordPieceOptions o;
    o.continuing_subword_prefix = "@@";
    CHECK(tok(small({"un", "@@able"}, o), "unable") == V{"[CLS]", "un", "@@able", "[SEP]"});
    // The real vocabulary: unaffable -> un ##aff ##able (ids from the reference).
    CHECK(texttest::minilm().encode("unaffable").ids ==
          std::vector<std::int32_t>{101, 14477, 20961, 3468, 102});
}

TEST_CASE("wordpiece: an unmatchable word is one [UNK] spanning the whole word") {
    const auto t = small({"ab", "##c"});
    const Encoding e = t.encode("abc abd ab");
    CHECK(tokens(t, e) == V{"[CLS]", "ab", "##c", "[UNK]", "ab", "[SEP]"});
    CHECK(e.offsets[3] == TextSpan{4, 7});
}

TEST_CASE("wordpiece: words over max_input_chars_per_word code points (not bytes) are [UNK]") {
    const auto t = small({"e", "##e", "a", "##a"});
    std::string e100, e101;
    for (int i = 0; i < 100; ++i) e100 += "\xC3\xA9";  // é: 2 bytes, strip_accents -> e
    e101 = e100 + "\xC3\xA9";
    CHECK(t.encode(e100).ids.size() == 102);
    const Encoding u = t.encode(e101);
    CHECK(tokens(t, u) == V{"[CLS]", "[UNK]", "[SEP]"});
    CHECK(u.offsets[1] == TextSpan{0, 202});
    CHECK(t.encode(std::string(100, 'a')).ids.size() == 102);
    CHECK(t.encode(std::string(101, 'a')).ids.size() == 3);
    WordPieceOptions o;
    o.max_input_chars_per_word = 3;
    const auto s = small({"a", "##a"}, o);
    CHECK(tok(s, "aaa aaaa") == V{"[CLS]", "a", "##a", "##a", "[UNK]", "[SEP]"});
    // Reference (tokenizers 0.19.1): 100 é -> pieces, 101 é -> [UNK] (0, 202 bytes).
    CHECK(texttest::minilm().encode(e100).ids.size() == 52);
    CHECK(texttest::minilm().encode(e101).ids == std::vector<std::int32_t>{101, 100, 102});
}

TEST_CASE("wordpiece: whitespace and punctuation split, symbols do not") {
    const auto t = small({"a", "b", ",", "!",
                          "\xE2\x82\xAC"
                          "5",
                          "\xC2\xA9"
                          "x",
                          "#", "##b", "\xE3\x80\x82"});
    CHECK(tok(t, "a,b") == V{"[CLS]", "a", ",", "b", "[SEP]"});
    CHECK(tok(t, "a!!b") == V{"[CLS]", "a", "!", "!", "b", "[SEP]"});
    CHECK(tok(t, "a#b") == V{"[CLS]", "a", "#", "b", "[SEP]"});  // ASCII punctuation
    CHECK(tok(t,
              "\xE2\x82\xAC"
              "5 \xC2\xA9x") == V{"[CLS]",
                                  "\xE2\x82\xAC"
                                  "5",
                                  "\xC2\xA9"
                                  "x",
                                  "[SEP]"});
    CHECK(tok(t,
              "a\xE3\x80\x82"
              "b") == V{"[CLS]", "a", "\xE3\x80\x82", "b", "[SEP]"});  // 。 is P*
    CHECK(tok(t,
              "a\tb\nb\r a\xE2\x80\xA8"
              "b\xE2\x80\xA9"
              "a\xC2\xA0"
              "b\xE3\x80\x80"
              "a") == V{"[CLS]", "a", "b", "b", "a", "b", "a", "b", "a", "[SEP]"});
}

TEST_CASE("wordpiece: clean_text drops NUL, U+FFFD, controls and format characters") {
    const auto t = small({"ab", "a", "b"});
    for (const std::string& mid :
         {std::string(1, '\0'), std::string("\xEF\xBF\xBD"), std::string("\x7F"),
          std::string("\x01"), std::string("\xE2\x80\x8B"), std::string("\xC2\xAD")}) {
        INFO("dropped: ", mid.size(), " bytes");
        const Encoding e = t.encode("a" + mid + "b");
        CHECK(tokens(t, e) == V{"[CLS]", "ab", "[SEP]"});
        CHECK(e.offsets[1] == TextSpan{0, mid.size() + 2});
    }
    WordPieceOptions o;
    o.clean_text = false;
    const auto raw = small({"ab", "a", "b"}, o);
    CHECK(tok(raw, std::string("a\0b", 3)) == V{"[CLS]", "[UNK]", "[SEP]"});
    // Without cleaning, whitespace still splits (the pre-tokenizer's own rule).
    CHECK(tok(raw,
              "a\tb\xE2\x80\xA8"
              "a") == V{"[CLS]", "a", "b", "a", "[SEP]"});
    // Reference: "a\0b a\uFFFDb a\u200Bb a\u2028b a\x7Fb".
    const std::string s = std::string("a\0b", 3) +
                          " a\xEF\xBF\xBD"
                          "b a\xE2\x80\x8B"
                          "b a\xE2\x80\xA8"
                          "b a\x7F"
                          "b";
    CHECK(texttest::minilm().encode(s).ids ==
          std::vector<std::int32_t>{101, 11113, 11113, 11113, 1037, 1038, 11113, 102});
}

TEST_CASE("wordpiece: CJK ideographs are words of their own unless tokenize_chinese_chars is off") {
    const std::string zhong = "\xE4\xB8\xAD", wen = "\xE6\x96\x87";
    const auto t = small({zhong, wen, "a", zhong + wen});
    CHECK(tok(t, "a" + zhong + wen + "a") == V{"[CLS]", "a", zhong, wen, "a", "[SEP]"});
    WordPieceOptions o;
    o.tokenize_chinese_chars = false;
    const auto n = small({zhong, wen, "a", zhong + wen}, o);
    CHECK(tok(n, zhong + wen) == V{"[CLS]", zhong + wen, "[SEP]"});
    // Hangul is not among the CJK ideographs: 한국 stays one word.
    const auto k = small({"\xED\x95\x9C\xEA\xB5\xAD"}, [] {
        WordPieceOptions keep;
        keep.strip_accents = false;
        return keep;
    }());
    CHECK(tok(k, "\xED\x95\x9C\xEA\xB5\xAD") == V{"[CLS]", "\xED\x95\x9C\xEA\xB5\xAD", "[SEP]"});
}

TEST_CASE("wordpiece: marks reorder by combining class, and offsets follow the reference") {
    // NFD sorts a run of marks by class; the mark filter then drops Mn only as the reference's
    // (older) tables say. Reference (tokenizers 0.19.1), byte offsets:
    //   "d" U+064D (class 29, dropped) U+111C0 (class 9, kept): [UNK] (0, 3): U+111C0 moves
    //   before U+064D and takes its place, so the word ends where U+064D ends.
    //   "n" "é" U+1D16E (216, kept) U+20D3 (1, dropped): the run U+0301 U+1D16E U+20D3 sorts to
    //   U+20D3 U+1D16E U+0301; U+1D16E takes U+20D3's place (the second code point of the run),
    //   so the word ends at the end of the text.
    const auto& t = texttest::minilm();
    const Encoding a = t.encode("d\xD9\x8D\xF0\x91\x87\x80");
    CHECK(a.ids == std::vector<std::int32_t>{101, 100, 102});
    CHECK(a.offsets[1] == TextSpan{0, 3});
    const Encoding b = t.encode("n\xC3\xA9\xF0\x9D\x85\xAE\xE2\x83\x93");
    CHECK(b.ids == std::vector<std::int32_t>{101, 100, 102});
    CHECK(b.offsets[1] == TextSpan{0, 10});
    // Without strip_accents nothing is decomposed or reordered.
    WordPieceOptions keep;
    keep.strip_accents = false;
    const WordPieceTokenizer k(t.vocabulary(), keep);
    CHECK(k.encode("d\xD9\x8D\xF0\x91\x87\x80").offsets[1] == TextSpan{0, 7});
}

TEST_CASE("wordpiece: lowercase is per code point, without context") {
    WordPieceOptions o;
    o.strip_accents = false;
    const auto t = small({"\xCF\x83\xCE\xB1\xCF\x83",
                          "stra\xC3\x9F"
                          "e",
                          "i\xCC\x87", "\xC7\x86"},
                         o);
    // ΣΑΣ -> σασ (a final sigma stays σ, not ς)
    CHECK(tok(t, "\xCE\xA3\xCE\x91\xCE\xA3") == V{"[CLS]", "\xCF\x83\xCE\xB1\xCF\x83", "[SEP]"});
    CHECK(tok(t,
              "STRA\xC3\x9F"
              "E") == V{"[CLS]",
                        "stra\xC3\x9F"
                        "e",
                        "[SEP]"});                                  // ß stays
    CHECK(tok(t, "\xC4\xB0") == V{"[CLS]", "i\xCC\x87", "[SEP]"});  // İ -> i + U+0307
    CHECK(tok(t, "\xC7\x85") == V{"[CLS]", "\xC7\x86", "[SEP]"});   // ǅ -> ǆ
    WordPieceOptions cased;
    cased.lowercase = false;
    const auto c = small({"Hello", "hello"}, cased);
    CHECK(tok(c, "Hello") == V{"[CLS]", "Hello", "[SEP]"});
}

TEST_CASE("wordpiece: strip_accents follows lowercase unless set") {
    const std::string e_acute = "\xC3\xA9", e_comb = "e\xCC\x81";
    const auto def = small({"e", "cafe"});
    CHECK(tok(def, "CAF" + e_acute) == V{"[CLS]", "cafe", "[SEP]"});
    CHECK(tok(def, "caf" + e_comb) == V{"[CLS]", "cafe", "[SEP]"});
    WordPieceOptions keep;
    keep.strip_accents = false;
    CHECK(tok(small({"caf" + e_acute}, keep), "CAF\xC3\x89") ==
          V{"[CLS]", "caf" + e_acute, "[SEP]"});
    WordPieceOptions cased;
    cased.lowercase = false;  // strip_accents unset: off too
    CHECK(tok(small({"Caf" + e_acute}, cased), "Caf" + e_acute) ==
          V{"[CLS]", "Caf" + e_acute, "[SEP]"});
    WordPieceOptions cased_strip;
    cased_strip.lowercase = false;
    cased_strip.strip_accents = true;
    CHECK(tok(small({"Cafe"}, cased_strip), "Caf" + e_acute) == V{"[CLS]", "Cafe", "[SEP]"});
    // Hangul syllables decompose to jamo when accents are stripped: 한 -> ᄒ ᅡ ᆫ.
    CHECK(tok(small({"\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"}), "\xED\x95\x9C") ==
          V{"[CLS]", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "[SEP]"});
    // İstanbul -> istanbul (NFD splits off U+0307, which is then dropped).
    CHECK(texttest::minilm().encode("\xC4\xB0stanbul").ids ==
          std::vector<std::int32_t>{101, 9960, 102});
}

TEST_CASE("wordpiece: special token strings in the text are those tokens") {
    const auto& t = texttest::minilm();
    // Reference: 'hello [SEP] world' -> [101, 7592, 102, 2088, 102]; 'a[CLS]b' ->
    // [101, 1037, 101, 1038, 102]; '[MASK][UNK]x' -> [101, 103, 100, 1060, 102]; '[sep]' is text.
    CHECK(t.encode("hello [SEP] world").ids ==
          std::vector<std::int32_t>{101, 7592, 102, 2088, 102});
    const Encoding e = t.encode("a[CLS]b");
    CHECK(e.ids == std::vector<std::int32_t>{101, 1037, 101, 1038, 102});
    CHECK(e.offsets[2] == TextSpan{1, 6});
    CHECK(t.encode("[MASK][UNK]x").ids == std::vector<std::int32_t>{101, 103, 100, 1060, 102});
    CHECK(t.encode("[PAD]").ids == std::vector<std::int32_t>{101, 0, 102});
    CHECK(t.encode("[sep]").ids == std::vector<std::int32_t>{101, 1031, 19802, 1033, 102});
    WordPieceOptions o;
    o.split_special_tokens = true;
    const WordPieceTokenizer s(t.vocabulary(), o);
    CHECK(s.encode("[SEP]").ids == std::vector<std::int32_t>{101, 1031, 19802, 1033, 102});
}

TEST_CASE("wordpiece: truncation keeps max_length ids, [CLS] and [SEP] included") {
    const auto t = small({"un", "##aff", "##able", "a"});
    CHECK(tok(t, "unaffable unaffable", 5) == V{"[CLS]", "un", "##aff", "##able", "[SEP]"});
    CHECK(tok(t, "unaffable unaffable", 4) == V{"[CLS]", "un", "##aff", "[SEP]"});  // cuts a word
    CHECK(tok(t, "a a a", 2) == V{"[CLS]", "[SEP]"});
    CHECK(tok(t, "a a a", 6) == V{"[CLS]", "a", "a", "a", "[SEP]"});
    CHECK(tok(t, "a [MASK] a", 4) == V{"[CLS]", "a", "[MASK]", "[SEP]"});
    CHECK(tok(t, "a [MASK] a", 3) == V{"[CLS]", "a", "[SEP]"});
    std::string many;
    for (int i = 0; i < 300; ++i) many += "a ";
    CHECK(t.encode(many, 256).ids.size() == 256);
    CHECK(t.encode(many).ids.size() == 302);
    CHECK_THROWS_AS(t.encode("a", 1), embedkit::ArgumentError);
    CHECK_THROWS_AS(t.encode("a", 0), embedkit::ArgumentError);
}

TEST_CASE("wordpiece: offsets are bytes of the original text") {
    const auto& t = texttest::minilm();
    // "ﬁ ǅ ẞ Straße": reference char offsets (0,1) (2,3) (4,5) (6,8) (8,11).
    const Encoding e = t.encode(
        "\xEF\xAC\x81 \xC7\x85 \xE1\xBA\x9E Stra\xC3\x9F"
        "e");
    CHECK(e.ids == std::vector<std::int32_t>{101, 1984, 100, 1096, 2358, 27807, 102});
    CHECK(e.offsets ==
          std::vector<TextSpan>{{0, 0}, {0, 3}, {4, 6}, {7, 10}, {11, 13}, {13, 18}, {0, 0}});
}

TEST_CASE("wordpiece: encode_batch equals encode per text, and errors name the text") {
    const auto& t = texttest::minilm();
    const std::vector<std::string> texts = {"first text", "", "\xE4\xB8\xAD \xC3\xA9t\xC3\xA9",
                                            "[SEP] again"};
    const auto batch = t.encode_batch(texts, 5);
    REQUIRE(batch.size() == texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        CHECK(batch[i].ids == t.encode(texts[i], 5).ids);
        CHECK(batch[i].offsets == t.encode(texts[i], 5).offsets);
    }
    const std::vector<std::string_view> views = {"ok", "bad \xC3("};
    try {
        (void)t.encode_batch(views, 16);
        FAIL("no exception");
    } catch (const embedkit::ArgumentError& e) {
        CHECK(std::string(e.what()) ==
              "embedkit::text::WordPieceTokenizer::encode_batch: text 1: invalid UTF-8 at byte 4 "
              "(a truncated sequence)");
    }
}

TEST_CASE("wordpiece: invalid UTF-8 is refused with its byte offset") {
    const auto& t = texttest::minilm();
    const std::pair<std::string, std::string> cases[] = {
        {"abc\xC0\xAF", "byte 3 (a byte that never occurs in UTF-8)"},
        {"\xE0\x80\xAF", "byte 0 (an overlong encoding)"},
        {"ok \xED\xA0\x80", "byte 3 (a surrogate code point (U+D800..U+DFFF))"},
        {"\xF4\x90\x80\x80", "byte 0 (a code point above U+10FFFF)"},
        {"12345\xE2\x82", "byte 5 (a truncated sequence)"},
        {"a\x80", "byte 1 (a continuation byte without a lead byte)"},
    };
    for (const auto& c : cases) {
        try {
            (void)t.encode(c.first);
            FAIL("no exception for ", c.second);
        } catch (const embedkit::ArgumentError& e) {
            CHECK(std::string(e.what()) ==
                  "embedkit::text::WordPieceTokenizer::encode: invalid UTF-8 at " + c.second);
        }
    }
}

TEST_CASE("wordpiece: vocabulary look-ups and special ids") {
    const auto& t = texttest::minilm();
    CHECK(t.vocab_size() == 30522);
    CHECK(t.cls_id() == 101);
    CHECK(t.sep_id() == 102);
    CHECK(t.unk_id() == 100);
    CHECK(t.pad_id() == 0);
    CHECK(t.mask_id() == 103);
    CHECK(t.id_of("hello") == 7592);
    CHECK(t.id_of("##able") == 3085);
    CHECK_FALSE(t.id_of("no-such-token").has_value());
    CHECK_FALSE(t.id_of("").has_value());
    CHECK(t.token_of(7592) == "hello");
    CHECK_THROWS_AS(t.token_of(-1), embedkit::ArgumentError);
    CHECK_THROWS_AS(t.token_of(30522), embedkit::ArgumentError);
    const auto s = small({"x"});
    CHECK_FALSE(small({"x"},
                      [] {
                          WordPieceOptions o;
                          o.mask_token = "<mask>";
                          return o;
                      }())
                    .mask_id()
                    .has_value());
    CHECK(s.mask_id() == 4);
}

TEST_CASE("wordpiece: the vocabulary file format") {
    TempDir dir;
    const auto crlf = dir.write("crlf.txt", "[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s");
    const auto t = WordPieceTokenizer::from_vocab_file(crlf);
    CHECK(t.vocab_size() == 5);
    CHECK(t.encode("hellos").ids == std::vector<std::int32_t>{1, 3, 4, 2});
    const auto dup = dir.write("dup.txt", "[UNK]\n[CLS]\n[SEP]\nx\nx\n");
    CHECK_THROWS_WITH_AS(WordPieceTokenizer::from_vocab_file(dup),
                         doctest::Contains("line 5: token 'x' repeats line 4"),
                         embedkit::FormatError);
    const auto empty = dir.write("empty.txt", "[UNK]\n\n[CLS]\n[SEP]\n");
    CHECK_THROWS_WITH_AS(WordPieceTokenizer::from_vocab_file(empty),
                         doctest::Contains("line 2: empty token"), embedkit::FormatError);
    const auto nosep = dir.write("nosep.txt", "[UNK]\n[CLS]\n");
    CHECK_THROWS_WITH_AS(WordPieceTokenizer::from_vocab_file(nosep),
                         doctest::Contains("has no sep token '[SEP]'"), embedkit::FormatError);
    CHECK_THROWS_AS(WordPieceTokenizer::from_vocab_file(dir.path / "missing.txt"),
                    embedkit::IoError);
    CHECK_THROWS_AS(WordPieceTokenizer(V{"[UNK]", "[CLS]", "[SEP]", "[UNK]"}),
                    embedkit::ArgumentError);
    CHECK_THROWS_AS(WordPieceTokenizer(V{"[UNK]", "[CLS]", "[SEP]", ""}), embedkit::ArgumentError);
    CHECK_THROWS_AS(WordPieceTokenizer(V{"[UNK]", "[CLS]", "[SEP]", "\xFF"}),
                    embedkit::ArgumentError);
    CHECK_THROWS_AS(WordPieceTokenizer(V{"[CLS]", "[SEP]"}), embedkit::ArgumentError);
}

TEST_CASE("wordpiece: copies and moves keep working, const encodes run on several threads") {
    const auto& ref = texttest::minilm();
    WordPieceTokenizer copy = ref;
    WordPieceTokenizer moved = std::move(copy);
    const auto corpus = texttest::lines_of(texttest::read_file(texttest::data_path("corpus.txt")));
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < corpus.size(); i += 7)
        texts.push_back(texttest::unescape(corpus[i]));
    const auto want = moved.encode_batch(texts, 256);
    std::vector<int> bad(4, 0);
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k)
        threads.emplace_back([&, k] {
            for (std::size_t i = static_cast<std::size_t>(k); i < texts.size(); i += 4)
                if (ref.encode(texts[i], 256).ids != want[i].ids)
                    ++bad[static_cast<std::size_t>(k)];
        });
    for (auto& th : threads) th.join();
    CHECK(bad == std::vector<int>(4, 0));
}
