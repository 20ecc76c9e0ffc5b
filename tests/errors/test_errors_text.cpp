// Bad-input rows (text): the WordPiece tokenizer fed invalid UTF-8, bad vocabularies and bad
// arguments. Each EMBEDKIT_ERROR_ROW is one row of docs/ERRORS.md (same ID, type and message
// fragment).
#include "error_rows.hpp"

#include <embedkit/embedkit.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

namespace text = embedkit::text;
using V = std::vector<std::string>;

const V good = {"[UNK]", "[CLS]", "[SEP]", "a"};

struct VocabFiles {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("embedkit_errors_text_" + std::to_string(std::random_device{}()));
    VocabFiles() { std::filesystem::create_directories(dir); }
    ~VocabFiles() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::filesystem::path write(const std::string& name, const std::string& bytes) const {
        const auto p = dir / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }
};

}  // namespace

TEST_CASE("errors table: WordPiece tokenizer") {
    const text::WordPieceTokenizer t(good);
    EMBEDKIT_ERROR_ROW("TOK-01", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer::encode: invalid UTF-8 at byte 3 (an "
                       "overlong encoding)",
                       (void)t.encode("abc\xE0\x80\xAF", 16));
    const std::vector<std::string> texts = {"a", "b", "\xED\xA0\x80"};
    EMBEDKIT_ERROR_ROW("TOK-02", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer::encode_batch: text 2: invalid UTF-8 "
                       "at byte 0 (a surrogate code point (U+D800..U+DFFF))",
                       (void)t.encode_batch(texts, 16));
    EMBEDKIT_ERROR_ROW("TOK-03", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer::encode: max_length must be at least 2 "
                       "(room for [CLS] and [SEP]), got 1",
                       (void)t.encode("a", 1));
    EMBEDKIT_ERROR_ROW("TOK-04", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer: the vocabulary has no sep token "
                       "'[SEP]'",
                       text::WordPieceTokenizer(V{"[UNK]", "[CLS]", "a"}));
    EMBEDKIT_ERROR_ROW("TOK-05", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer: vocabulary token 4: token 'a' repeats "
                       "token 3",
                       text::WordPieceTokenizer(V{"[UNK]", "[CLS]", "[SEP]", "a", "a"}));
    EMBEDKIT_ERROR_ROW("TOK-06", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer: vocabulary token 2: empty token",
                       text::WordPieceTokenizer(V{"[UNK]", "[CLS]", "", "[SEP]"}));
    EMBEDKIT_ERROR_ROW("TOK-07", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer: vocabulary token 3: invalid UTF-8 at "
                       "byte 1 (a byte that never occurs in UTF-8)",
                       text::WordPieceTokenizer(V{"[UNK]", "[CLS]", "[SEP]", "a\xFF"}));
    EMBEDKIT_ERROR_ROW("TOK-08", embedkit::ArgumentError,
                       "embedkit::text::WordPieceTokenizer::token_of: id 4 is outside the "
                       "vocabulary of 4 tokens",
                       (void)t.token_of(4));

    const VocabFiles files;
    EMBEDKIT_ERROR_ROW("TOK-09", embedkit::IoError,
                       "embedkit::text::WordPieceTokenizer::from_vocab_file: cannot open '",
                       text::WordPieceTokenizer::from_vocab_file(files.dir / "missing.txt"));
    const auto nocls = files.write("nocls.txt", "[UNK]\n[SEP]\na\n");
    EMBEDKIT_ERROR_ROW("TOK-10", embedkit::FormatError, "has no cls token '[CLS]'",
                       text::WordPieceTokenizer::from_vocab_file(nocls));
    const auto dup = files.write("dup.txt", "[UNK]\n[CLS]\n[SEP]\nx\nx\n");
    EMBEDKIT_ERROR_ROW("TOK-11", embedkit::FormatError, "line 5: token 'x' repeats line 4",
                       text::WordPieceTokenizer::from_vocab_file(dup));
    const auto empty = files.write("empty.txt", "[UNK]\n\n[CLS]\n[SEP]\n");
    EMBEDKIT_ERROR_ROW("TOK-12", embedkit::FormatError, "line 2: empty token",
                       text::WordPieceTokenizer::from_vocab_file(empty));
    const auto bad = files.write("bad.txt", "[UNK]\n[CLS]\n[SEP]\nx\xC3\n");
    EMBEDKIT_ERROR_ROW("TOK-13", embedkit::FormatError,
                       "line 4: invalid UTF-8 at byte 1 (a truncated sequence)",
                       text::WordPieceTokenizer::from_vocab_file(bad));
    const auto cr = files.write("cr.txt", "[UNK]\n[CLS]\n[SEP]\na\rb\n");
    EMBEDKIT_ERROR_ROW("TOK-14", embedkit::FormatError, "line 4: a carriage return inside the line",
                       text::WordPieceTokenizer::from_vocab_file(cr));
}
