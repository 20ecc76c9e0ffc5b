// Bad-input rows (I/O): the JSON reader (io/json.hpp) and safetensors files
// (io/safetensors.hpp). Each EMBEDKIT_ERROR_ROW is one row of docs/ERRORS.md (same ID, type and
// message fragment).
#include "error_rows.hpp"

#include "../io/io_test_util.hpp"

#include <embedkit/io/json.hpp>
#include <embedkit/io/safetensors.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

namespace io = embedkit::io;
using iotest::read_file;
using iotest::TempDir;
using iotest::write_file;

void parse(const std::string& text) { io::parse_json(text, "t.json"); }

// A safetensors file: the 8-byte length, `header` as given, `data`.
std::string st_bytes(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i)
        out[static_cast<std::size_t>(i)] =
            static_cast<char>((std::uint64_t(header.size()) >> (8 * i)) & 0xFFu);
    return out + header + data;
}

void open_bytes(const std::string& bytes) {
    io::SafetensorsView v(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                          "t.safetensors");
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
    return "{\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
           ",\"data_offsets\":" + offsets + "}}";
}

}  // namespace

TEST_CASE("errors io: JSON files and text") {
    TempDir dir;
    EMBEDKIT_ERROR_ROW("JSON-01", embedkit::IoError, "read_json_file: cannot open",
                       io::read_json_file(dir.file("missing.json")));
    EMBEDKIT_ERROR_ROW("JSON-02", embedkit::IoError, "is a folder, not a file",
                       io::read_json_file(dir.path().string()));
    // A sparse file one byte over the limit.
    const std::string big = dir.file("big.json");
    write_file(big, "");
    REQUIRE(::truncate(big.c_str(), static_cast<off_t>(io::json_max_file_bytes + 1)) == 0);
    EMBEDKIT_ERROR_ROW("JSON-03", embedkit::FormatError,
                       "file larger than 67108864 bytes, the limit of read_json_file",
                       io::read_json_file(big));
    EMBEDKIT_ERROR_ROW("JSON-04", embedkit::FormatError,
                       "byte 0 (line 1, column 1): unexpected end of input, expected a value",
                       parse(""));
    EMBEDKIT_ERROR_ROW("JSON-05", embedkit::FormatError,
                       "unexpected character 'x' after the top-level value", parse("{} x"));
    EMBEDKIT_ERROR_ROW("JSON-06", embedkit::FormatError, "a number with a leading zero",
                       parse("[012]"));
    EMBEDKIT_ERROR_ROW("JSON-07", embedkit::FormatError,
                       "in a string (it must be written as an escape)", parse("\"a\tb\""));
    EMBEDKIT_ERROR_ROW("JSON-08", embedkit::FormatError, "lone low surrogate \\uDC00",
                       parse("\"\\uDC00\""));
    EMBEDKIT_ERROR_ROW("JSON-09", embedkit::FormatError,
                       "high surrogate \\uD800 not followed by a low surrogate",
                       parse("\"\\uD800\""));
    EMBEDKIT_ERROR_ROW("JSON-10", embedkit::FormatError, "invalid UTF-8 (byte 0xC0) in a string",
                       parse("\"\xC0\xAF\""));
    EMBEDKIT_ERROR_ROW("JSON-11", embedkit::FormatError, "invalid escape '\\q' in a string",
                       parse("\"\\q\""));
    EMBEDKIT_ERROR_ROW("JSON-12", embedkit::FormatError, "containers nested deeper than 128 levels",
                       parse(std::string(129, '[') + std::string(129, ']')));
    EMBEDKIT_ERROR_ROW("JSON-13", embedkit::FormatError,
                       "byte 8 (line 2, column 1): duplicate key \"a\"",
                       parse("{\"a\":1,\n\"a\":2}"));
    EMBEDKIT_ERROR_ROW("JSON-14", embedkit::FormatError, "number 1e999 is out of range of double",
                       parse("1e999"));
    EMBEDKIT_ERROR_ROW("JSON-15", embedkit::FormatError,
                       "the text starts with a UTF-8 byte order mark", parse("\xEF\xBB\xBF{}"));
    EMBEDKIT_ERROR_ROW("JSON-16", embedkit::FormatError, "unterminated string",
                       parse("{\"a\": \"b}"));
}

TEST_CASE("errors io: JSON typed accessors") {
    const io::JsonDocument d = io::parse_json(
        "{\"hidden_size\": \"384\", \"heads\": 1.5, \"layers\": 0, \"dims\": [1, 2]}",
        "models/x/config.json");
    const io::JsonValue& c = d.root();
    EMBEDKIT_ERROR_ROW("JSON-17", embedkit::FormatError,
                       "'models/x/config.json': \"hidden_size\" must be an integer, got string",
                       c.at("hidden_size").as_int64());
    EMBEDKIT_ERROR_ROW("JSON-18", embedkit::FormatError,
                       "\"heads\" must be an integer (int64), got 1.5", c.at("heads").as_int64());
    EMBEDKIT_ERROR_ROW("JSON-19", embedkit::FormatError,
                       "the top-level value lacks the required member \"vocab_size\"",
                       c.at("vocab_size"));
    EMBEDKIT_ERROR_ROW("JSON-20", embedkit::FormatError,
                       "\"layers\" must be an integer from 1 to 4096, got 0",
                       c.at("layers").as_int64(1, 4096));
    EMBEDKIT_ERROR_ROW("JSON-21", embedkit::FormatError, "\"dims\" has 2 elements, element 5",
                       c.at("dims").at(std::size_t(5)));
    EMBEDKIT_ERROR_ROW("JSON-22", embedkit::FormatError, "\"dims\" must be an object, got array",
                       c.at("dims").as_object());
    EMBEDKIT_ERROR_ROW("JSON-23", embedkit::ArgumentError, "json_quote: invalid UTF-8 at byte 1",
                       io::json_quote("a\xFF"));
}

TEST_CASE("errors io: safetensors files") {
    TempDir dir;
    const std::string d24(24, '\0');
    EMBEDKIT_ERROR_ROW("ST-01", embedkit::IoError, "SafetensorsFile: cannot open",
                       io::SafetensorsFile f(dir.file("missing.safetensors")));
    EMBEDKIT_ERROR_ROW("ST-02", embedkit::IoError, "is a folder, not a safetensors file",
                       io::SafetensorsFile f(dir.path().string()));
    write_file(dir.file("empty.safetensors"), "");
    EMBEDKIT_ERROR_ROW("ST-03", embedkit::FormatError,
                       "file too short for a safetensors header (0 bytes",
                       io::SafetensorsFile f(dir.file("empty.safetensors")));
    std::string past = st_bytes("{}", "");
    past[0] = '\xE8';
    past[1] = '\x03';  // 1000
    EMBEDKIT_ERROR_ROW("ST-04", embedkit::FormatError,
                       "truncated header (needs 1008 bytes, file has 10)", open_bytes(past));
    std::string huge = st_bytes("{}", "");
    huge[4] = '\x01';  // 2^32 + 2
    EMBEDKIT_ERROR_ROW("ST-05", embedkit::FormatError,
                       "header of 4294967298 bytes, more than the reader's limit of 100000000",
                       open_bytes(huge));
    EMBEDKIT_ERROR_ROW("ST-06", embedkit::FormatError,
                       "the header is not a JSON object (it must start with '{')",
                       open_bytes(st_bytes("[]", "")));
    EMBEDKIT_ERROR_ROW("ST-07", embedkit::FormatError,
                       "'t.safetensors': header: byte 6 (line 1, column 7): unexpected end",
                       open_bytes(st_bytes("{\"a\": ", "")));
    EMBEDKIT_ERROR_ROW("ST-08", embedkit::FormatError,
                       "tensor 'x': entry must be an object, got number",
                       open_bytes(st_bytes("{\"x\": 3}", "")));
    EMBEDKIT_ERROR_ROW("ST-09", embedkit::FormatError,
                       "tensor 'x': entry lacks one of dtype, shape, data_offsets",
                       open_bytes(st_bytes("{\"x\": {\"dtype\": \"F32\"}}", "")));
    EMBEDKIT_ERROR_ROW(
        "ST-10", embedkit::FormatError, "tensor 'x': unknown field 'offsets'",
        open_bytes(st_bytes("{\"x\": {\"dtype\": \"F32\", \"shape\": [], \"offsets\": []}}", "")));
    EMBEDKIT_ERROR_ROW("ST-11", embedkit::FormatError,
                       "tensor 'x' has unsupported dtype 'F8_E4M3' (embedkit reads F64, F32, "
                       "F16, BF16, I64, I32, I16, I8, U8, BOOL)",
                       open_bytes(st_bytes(entry("x", "F8_E4M3", "[4]", "[0,4]"), d24)));
    EMBEDKIT_ERROR_ROW("ST-12", embedkit::FormatError,
                       "tensor 'x': shape must hold integers from 0 to 2^63 - 1, got -1",
                       open_bytes(st_bytes(entry("x", "F32", "[-1]", "[0,4]"), d24)));
    EMBEDKIT_ERROR_ROW(
        "ST-13", embedkit::FormatError,
        "tensor 'x': shape [4294967296, 4294967296] overflows 64 bits",
        open_bytes(st_bytes(entry("x", "F32", "[4294967296,4294967296]", "[0,0]"), d24)));
    EMBEDKIT_ERROR_ROW("ST-14", embedkit::FormatError,
                       "tensor 'x' has shape [2, 3] of F32, which needs 24 bytes, but "
                       "data_offsets [0, 20] hold 20",
                       open_bytes(st_bytes(entry("x", "F32", "[2,3]", "[0,20]"), d24)));
    EMBEDKIT_ERROR_ROW("ST-15", embedkit::FormatError,
                       "tensor 'x': data_offsets [0, 28] reach past the data buffer of 24 bytes",
                       open_bytes(st_bytes(entry("x", "F32", "[7]", "[0,28]"), d24)));
    EMBEDKIT_ERROR_ROW("ST-16", embedkit::FormatError,
                       "tensor 'x': data_offsets [8, 4] end before they begin",
                       open_bytes(st_bytes(entry("x", "F32", "[0]", "[8,4]"), d24)));
    EMBEDKIT_ERROR_ROW(
        "ST-17", embedkit::FormatError, "tensors 'a' [0, 12) and 'b' [8, 20) overlap",
        open_bytes(st_bytes("{\"a\":{\"dtype\":\"U8\",\"shape\":[12],\"data_offsets\":[0,12]},"
                            "\"b\":{\"dtype\":\"U8\",\"shape\":[12],\"data_offsets\":[8,20]}}",
                            d24)));
    EMBEDKIT_ERROR_ROW("ST-18", embedkit::FormatError,
                       "tensor 'x': data_offsets must be an array of two integers [begin, end]",
                       open_bytes(st_bytes(entry("x", "F32", "[1]", "[4]"), d24)));
    EMBEDKIT_ERROR_ROW("ST-19", embedkit::FormatError,
                       "__metadata__ must be an object of strings, but 'n' is number",
                       open_bytes(st_bytes("{\"__metadata__\": {\"n\": 1}}", "")));
}

TEST_CASE("errors io: safetensors truncated at every byte offset") {
    TempDir dir;
    const std::string p = dir.file("t.safetensors");
    const float x[6] = {1, 2, 3, 4, 5, 6};
    io::write_safetensors(p, {io::safetensors_f32("x", {2, 3}, x)});
    const std::string whole = read_file(p);
    const std::size_t data = whole.size() - 24;
    for (std::size_t n = 0; n < 8; ++n)
        EMBEDKIT_ERROR_ROW("ST-20", embedkit::FormatError,
                           "file too short for a safetensors header",
                           open_bytes(whole.substr(0, n)));
    for (std::size_t n = 8; n < data; ++n)
        EMBEDKIT_ERROR_ROW("ST-21", embedkit::FormatError, "truncated header (needs",
                           open_bytes(whole.substr(0, n)));
    for (std::size_t n = data; n < whole.size(); ++n)
        EMBEDKIT_ERROR_ROW("ST-22", embedkit::FormatError, "reach past the data buffer",
                           open_bytes(whole.substr(0, n)));
}

TEST_CASE("errors io: safetensors reads and writes") {
    TempDir dir;
    const std::string p = dir.file("m.safetensors");
    std::vector<float> w(384 * 384, 0.0f);
    const std::int64_t ids[2] = {0, 1};
    io::write_safetensors(p, {io::safetensors_f32("q.weight", {384, 384}, w.data()),
                              io::safetensors_i64("position_ids", {1, 2}, ids)});
    const io::SafetensorsFile f(p);
    EMBEDKIT_ERROR_ROW("ST-23", embedkit::FormatError,
                       "tensor 'position_ids' has dtype I64, read_f32 reads F32, F16 or BF16",
                       f.read_f32("position_ids"));
    EMBEDKIT_ERROR_ROW("ST-24", embedkit::FormatError,
                       "tensor 'q.weight' has shape [384, 384], expected [384, 128]",
                       f.read_matrix("q.weight", 384, 128));
    EMBEDKIT_ERROR_ROW("ST-25", embedkit::FormatError,
                       "no tensor named 'pooler.dense.weight' (the file holds 2 tensors)",
                       f.read_vector("pooler.dense.weight", 384));
    EMBEDKIT_ERROR_ROW("ST-26", embedkit::ArgumentError,
                       "read_matrix: rows and cols must be non-negative, got -1 and 384",
                       f.read_matrix("q.weight", -1, 384));
    EMBEDKIT_ERROR_ROW("ST-27", embedkit::FormatError,
                       "tensor 'q.weight' has dtype F32, read_i64 reads I64",
                       f.read_i64("q.weight"));
    const float x[2] = {1, 2};
    const std::string out = dir.file("w.safetensors");
    EMBEDKIT_ERROR_ROW("ST-28", embedkit::ArgumentError, "tensor name 'a' appears twice",
                       io::write_safetensors(out, {io::safetensors_f32("a", {2}, x),
                                                   io::safetensors_f32("a", {2}, x)}));
    io::SafetensorsInput bad = io::safetensors_f32("a", {2}, x);
    bad.shape = {3};
    EMBEDKIT_ERROR_ROW("ST-29", embedkit::ArgumentError,
                       "tensor 'a' of shape [3] and dtype F32 has 8 bytes, it needs 3 x 4",
                       io::write_safetensors(out, {bad}));
    EMBEDKIT_ERROR_ROW("ST-30", embedkit::ArgumentError, "'__metadata__' is reserved",
                       io::write_safetensors(out, {io::safetensors_f32("__metadata__", {2}, x)}));
    EMBEDKIT_ERROR_ROW(
        "ST-31", embedkit::ArgumentError, "a name or metadata string is not valid UTF-8",
        io::write_safetensors(out, {io::safetensors_f32("a", {2}, x)}, {{"k", "\xFF"}}));
    EMBEDKIT_ERROR_ROW("ST-32", embedkit::IoError, "cannot create a temporary file beside",
                       io::write_safetensors(dir.file("no/folder.safetensors"),
                                             {io::safetensors_f32("a", {2}, x)}));
    CHECK(dir.entries() == std::vector<std::string>{"m.safetensors"});
}
