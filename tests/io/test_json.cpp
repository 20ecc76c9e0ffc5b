// json.hpp: every grammar rule of RFC 8259 accepted and rejected, escapes and surrogate
// pairs, exact int64 integers, the nesting limit, duplicate keys, error positions, the typed
// accessors' messages, and a config.json-like document.
#include "io_test_util.hpp"

#include <embedkit/core/error.hpp>
#include <embedkit/io/json.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using embedkit::ArgumentError;
using embedkit::FormatError;
using embedkit::IoError;
using iotest::check_throws;
namespace io = embedkit::io;

io::JsonDocument parse_text(const std::string& text) { return io::parse_json(text, "t.json"); }

void rejects(const std::string& text, const std::string& fragment) {
    INFO("text: ", text);
    check_throws<FormatError>([&] { parse_text(text); },
                              {"embedkit::io::json: 't.json'", fragment});
}

}  // namespace

TEST_CASE("json: literals, numbers and strings at the top level") {
    CHECK(parse_text("null").root().is_null());
    CHECK(parse_text("true").root().as_bool());
    CHECK_FALSE(parse_text(" false ").root().as_bool());
    CHECK(parse_text("\"hi\"").root().as_string() == "hi");
    CHECK(parse_text("0").root().as_int64() == 0);
    CHECK(parse_text("-0").root().as_int64() == 0);
    CHECK(std::signbit(parse_text("-0").root().as_double()));
    CHECK(parse_text("12").root().as_double() == 12.0);
    CHECK(parse_text("-3.25e2").root().as_double() == -325.0);
    CHECK(parse_text("1E+2").root().as_double() == 100.0);
    CHECK(parse_text("1e-2").root().as_double() == 0.01);
    CHECK(parse_text("0.5").root().as_double() == 0.5);
    CHECK(parse_text(" \t\r\n[ ]\n").root().as_array().empty());
    CHECK(parse_text("{}").root().as_object().empty());
}

TEST_CASE("json: integers are exact over all of int64, through double only beyond it") {
    const io::JsonDocument max = parse_text("9223372036854775807");
    CHECK(max.root().is_integer());
    CHECK(max.root().as_int64() == std::numeric_limits<std::int64_t>::max());
    CHECK(parse_text("-9223372036854775808").root().as_int64() ==
          std::numeric_limits<std::int64_t>::min());
    // 2^53 + 1 is not a double; as_int64 must still be exact.
    CHECK(parse_text("9007199254740993").root().as_int64() == 9007199254740993LL);
    const io::JsonDocument big = parse_text("9223372036854775808");  // 2^63
    CHECK(big.root().is_number());
    CHECK_FALSE(big.root().is_integer());
    CHECK(big.root().as_double() == 9223372036854775808.0);
    check_throws<FormatError>([&] { big.root().as_int64(); }, {"must be an integer (int64)"});
    CHECK_FALSE(parse_text("1.0").root().is_integer());
    CHECK_FALSE(parse_text("1e2").root().is_integer());
    CHECK(parse_text("123456789012345678901234567890").root().as_double() == 1.2345678901234568e29);
    // Underflow rounds to zero; overflow is refused (no JSON value is infinite).
    CHECK(parse_text("1e-400").root().as_double() == 0.0);
    CHECK(std::signbit(parse_text("-1e-400").root().as_double()));
    CHECK(parse_text("0.000001e-320").root().as_double() == 0.0);
    CHECK(parse_text("4.9e-324").root().as_double() > 0.0);  // the smallest subnormal
    rejects("1e400", "is out of range of double");
    rejects("-123e99999", "is out of range of double");
}

TEST_CASE("json: number grammar") {
    rejects("01", "leading zero");
    rejects("-01", "leading zero");
    rejects("00", "leading zero");
    rejects("+1", "unexpected character '+'");
    rejects("-", "a number needs a digit after '-'");
    rejects("-a", "a number needs a digit after '-'");
    rejects("1.", "a number needs a digit after '.'");
    rejects(".5", "unexpected character '.'");
    rejects("1e", "a number needs a digit in its exponent");
    rejects("1e+", "a number needs a digit in its exponent");
    rejects("0x10", "unexpected character 'x' after the top-level value");
    rejects("NaN", "expected a value");
    rejects("Infinity", "expected a value");
    rejects("1 2", "unexpected character '2' after the top-level value");
}

TEST_CASE("json: literals and structure") {
    rejects("", "unexpected end of input");
    rejects("   ", "unexpected end of input");
    rejects("tru", "expected a value");
    rejects("nul", "expected a value");
    rejects("True", "expected a value");
    rejects("[1,]", "expected a value");
    rejects("[,1]", "expected a value");
    rejects("[1 2]", "expected ',' or ']'");
    rejects("[1", "expected ',' or ']'");
    rejects("{\"a\":1,}", "expected a string key");
    rejects("{\"a\" 1}", "expected ':'");
    rejects("{a:1}", "expected a string key");
    rejects("{'a':1}", "expected a string key");
    rejects("{\"a\":1", "expected ',' or '}'");
    rejects("{\"a\":}", "expected a value");
    rejects("[]]", "after the top-level value");
    rejects("{} x", "after the top-level value");
    rejects("\xEF\xBB\xBF{}", "byte order mark");
    rejects("\f1", "unexpected byte 0x0C");  // form feed is not JSON whitespace
    rejects("[1] // comment", "after the top-level value");
}

TEST_CASE("json: string escapes and UTF-8") {
    CHECK(parse_text(R"("\"\\\/\b\f\n\r\t")").root().as_string() == "\"\\/\b\f\n\r\t");
    CHECK(parse_text(R"("\u0041\u00e9\u20AC")").root().as_string() == "A\xC3\xA9\xE2\x82\xAC");
    CHECK(parse_text(R"("\u0000")").root().as_string() == std::string(1, '\0'));
    // A surrogate pair is one code point: U+1F600 as 4 UTF-8 bytes.
    CHECK(parse_text(R"("\uD83D\uDE00")").root().as_string() == "\xF0\x9F\x98\x80");
    CHECK(parse_text(R"("\udbff\udfff")").root().as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF
    // Raw UTF-8 passes through unchanged.
    CHECK(parse_text("\"h\xC3\xA9llo \xF0\x9F\x98\x80\"").root().as_string() ==
          "h\xC3\xA9llo \xF0\x9F\x98\x80");
    rejects(R"("\uD83D")", "high surrogate \\uD83D not followed by a low surrogate");
    rejects(R"("\uD83Dx")", "not followed by a low surrogate");
    rejects(R"("\uD83D\u0041")", "not followed by a low surrogate");
    rejects(R"("\uDE00")", "lone low surrogate \\uDE00");
    rejects(R"("\u12")", "truncated \\u escape");
    rejects(R"("\u12G4")", "invalid \\u escape");
    rejects(R"("\x")", "invalid escape '\\x'");
    rejects(R"("\')", "invalid escape");
    rejects("\"a\nb\"", "control character");
    rejects(std::string("\"a\x01\""), "control character");
    rejects("\"abc", "unterminated string");
    rejects("\"abc\\", "unterminated string");
    rejects("\"\xC3\"", "invalid UTF-8");              // truncated sequence
    rejects("\"\xC0\xAF\"", "invalid UTF-8");          // overlong '/'
    rejects("\"\xE0\x80\xAF\"", "invalid UTF-8");      // overlong, 3 bytes
    rejects("\"\xED\xA0\x80\"", "invalid UTF-8");      // UTF-8-encoded surrogate U+D800
    rejects("\"\xF4\x90\x80\x80\"", "invalid UTF-8");  // above U+10FFFF
    rejects("\"\xFF\"", "invalid UTF-8");
    rejects("\"\x80\"", "invalid UTF-8");
    rejects("\xC3\xA9", "unexpected byte 0xC3");  // non-ASCII outside a string
}

TEST_CASE("json: nesting is limited, without deep recursion") {
    const auto nested = [](std::size_t depth) {
        return std::string(depth, '[') + std::string(depth, ']');
    };
    CHECK(parse_text(nested(io::json_max_depth)).root().is_array());
    rejects(nested(io::json_max_depth + 1), "nested deeper than 128 levels");
    // Hostile input far beyond the limit stops at the limit.
    rejects(std::string(1000000, '['), "nested deeper than 128 levels");
    std::string objects;
    for (int i = 0; i < 200; ++i) objects += "{\"a\":";
    rejects(objects, "nested deeper than 128 levels");
}

TEST_CASE("json: duplicate keys are refused, naming the key and its position") {
    check_throws<FormatError>([] { parse_text("{\"a\": 1,\n \"b\": 2, \"a\": 3}"); },
                              {"byte 18 (line 2, column 10)", "duplicate key \"a\""});
    // Large objects (hash index) too.
    std::string big = "{";
    for (int i = 0; i < 100; ++i)
        big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
    big += "\"k42\":0}";
    rejects(big, "duplicate key \"k42\"");
    // Keys equal after decoding escapes are duplicates.
    rejects(R"({"a":1,"\u0061":2})", "duplicate key \"a\"");
    // The same key in different objects is fine.
    CHECK(parse_text(R"({"a":{"a":1},"b":{"a":2}})").root().at("b").at("a").as_int64() == 2);
}

TEST_CASE("json: error positions count bytes, lines and columns") {
    check_throws<FormatError>([] { parse_text("{\n  \"x\": tru\n}"); },
                              {"'t.json': byte 9 (line 2, column 8): unexpected character 't'"});
    check_throws<FormatError>([] { parse_text("[1,\r\n2,\n\"\x01\"]"); },
                              {"byte 9 (line 3, column 2): control character byte 0x01"});
    check_throws<FormatError>([] { parse_text("[\"abc"); },
                              {"byte 1 (line 1, column 2): unterminated string"});
}

TEST_CASE("json: objects keep file order and find keys in large objects") {
    const io::JsonDocument d = parse_text(R"({"z": 1, "a": 2, "m": [true, null, "s"]})");
    const io::JsonObject& o = d.root().as_object();
    REQUIRE(o.size() == 3);
    CHECK(o[0].key == "z");
    CHECK(o[1].key == "a");
    CHECK(o[2].key == "m");
    std::vector<std::string> keys;
    for (const io::JsonMember& m : o) keys.push_back(m.key);
    CHECK(keys == std::vector<std::string>{"z", "a", "m"});
    CHECK(d.root().find("a")->as_int64() == 2);
    CHECK(d.root().find("q") == nullptr);
    CHECK(d.root().at("m").find("x") == nullptr);  // not an object
    CHECK(d.root().at("m").size() == 3);
    CHECK(d.root().at("m").at(std::size_t(2)).as_string() == "s");

    std::string big = "{";
    for (int i = 0; i < 5000; ++i)
        big +=
            (i ? "," : "") + std::string("\"tok") + std::to_string(i) + "\":" + std::to_string(i);
    big += "}";
    const io::JsonDocument vocab = parse_text(big);
    const io::JsonObject& v = vocab.root().as_object();
    REQUIRE(v.size() == 5000);
    for (int i = 0; i < 5000; ++i) {
        const io::JsonValue* x = v.find("tok" + std::to_string(i));
        REQUIRE(x != nullptr);
        CHECK(x->as_int64() == i);
        CHECK(v[static_cast<std::size_t>(i)].key == "tok" + std::to_string(i));
    }
    CHECK_FALSE(v.contains("tok5000"));
    CHECK_FALSE(v.contains(""));
}

TEST_CASE("json: typed accessors name the source, the key path and the position") {
    const std::string text = R"({
  "hidden_size": "384",
  "layers": [{"heads": 12.5}, {"name": null}],
  "ratio": 1e3,
  "nested": {"deep": {"x": [1, 2]}}
})";
    const io::JsonDocument d = io::parse_json(text, "models/x/config.json");
    const io::JsonValue& c = d.root();
    CHECK(d.source() == "models/x/config.json");
    CHECK(c.at("hidden_size").source() == "models/x/config.json");
    check_throws<FormatError>(
        [&] { c.at("hidden_size").as_int64(); },
        {"embedkit::io::json: 'models/x/config.json': \"hidden_size\" must be an integer, got "
         "string (byte 19, line 2, column 18)"});
    check_throws<FormatError>([&] { c.at("layers").at(std::size_t(0)).at("heads").as_int64(); },
                              {"\"layers\"[0].\"heads\" must be an integer (int64), got 12.5"});
    check_throws<FormatError>([&] { c.at("layers").at(std::size_t(1)).at("name").as_string(); },
                              {"\"layers\"[1].\"name\" must be a string, got null"});
    check_throws<FormatError>([&] { c.at("layers").at(std::size_t(2)); },
                              {"\"layers\" has 2 elements, element 2 was asked for"});
    check_throws<FormatError>([&] { c.at("vocab_size"); },
                              {"'models/x/config.json': the top-level value lacks the required "
                               "member \"vocab_size\""});
    check_throws<FormatError>([&] { c.at("nested").at("deep").at("y"); },
                              {"\"nested\".\"deep\" lacks the required member \"y\""});
    check_throws<FormatError>([&] { c.at("ratio").as_bool(); }, {"must be a boolean, got number"});
    check_throws<FormatError>([&] { c.as_array(); },
                              {"the top-level value must be an array, got object (byte 0, line "
                               "1, column 1)"});
    check_throws<FormatError>([&] { c.at("layers").as_object(); },
                              {"\"layers\" must be an object, got array"});
    check_throws<FormatError>([&] { c.at("nested").as_double(); },
                              {"\"nested\" must be a number, got object"});
    CHECK(c.at("ratio").as_double() == 1000.0);
    CHECK(c.at("nested").at("deep").at("x").at(std::size_t(1)).as_int64(0, 10) == 2);
    check_throws<FormatError>(
        [&] { c.at("nested").at("deep").at("x").at(std::size_t(0)).as_int64(5, 10); },
        {"\"nested\".\"deep\".\"x\"[0] must be an integer from 5 to 10, got 1"});
    check_throws<FormatError>([&] { c.at("ratio").fail("must be below 100"); },
                              {"\"ratio\" must be below 100 (byte"});
    CHECK(c.at("nested").at("deep").path() == "\"nested\".\"deep\"");
    CHECK(c.path().empty());
    CHECK(c.at("ratio").line() == 4);
    CHECK(c.at("ratio").column() == 12);
}

TEST_CASE("json: a config.json-like document reads naturally") {
    const std::string text = R"({
  "_name_or_path": "nreimers/MiniLM-L6-H384-uncased",
  "architectures": ["BertModel"],
  "attention_probs_dropout_prob": 0.1,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_size": 384,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "num_attention_heads": 12,
  "num_hidden_layers": 6,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "transformers_version": "4.8.2",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
})";
    const io::JsonDocument doc = io::parse_json(text, "config.json");
    const io::JsonValue& c = doc.root();
    CHECK(c.at("hidden_size").as_int64(1, 1 << 20) == 384);
    CHECK(c.at("layer_norm_eps").as_double() == 1e-12);
    CHECK(c.at("hidden_act").as_string() == "gelu");
    CHECK(c.at("architectures").at(std::size_t(0)).as_string() == "BertModel");
    CHECK_FALSE(c.at("gradient_checkpointing").as_bool());
    CHECK(c.at("vocab_size").as_int64() == 30522);
    const io::JsonValue* chunk = c.find("chunk_size_feed_forward");
    CHECK(chunk == nullptr);
    CHECK(c.size() == 16);
}

TEST_CASE("json: read_json_file reads files and reports what it cannot read") {
    iotest::TempDir dir;
    const std::string p = dir.file("c.json");
    iotest::write_file(p, "{\"a\": [1, 2, 3]}");
    const io::JsonDocument d = io::read_json_file(p);
    CHECK(d.root().at("a").size() == 3);
    CHECK(d.source() == p);
    check_throws<IoError>([&] { io::read_json_file(dir.file("missing.json")); },
                          {"read_json_file: cannot open", "missing.json"});
    check_throws<IoError>([&] { io::read_json_file(dir.path().string()); },
                          {"is a folder, not a file"});
    iotest::write_file(p, "{\"a\": }");
    check_throws<FormatError>([&] { io::read_json_file(p); },
                              {"embedkit::io::json: '" + p + "': byte 6"});
    iotest::write_file(p, "");  // made sparse: one byte over the limit
    REQUIRE(::truncate(p.c_str(), static_cast<off_t>(io::json_max_file_bytes + 1)) == 0);
    check_throws<FormatError>([&] { io::read_json_file(p); },
                              {"file larger than 67108864 bytes, the limit of read_json_file"});
}

TEST_CASE("json: json_quote writes what parse_json reads back") {
    const std::string s = std::string("a\"b\\c\n\x01\x1F/ \xC3\xA9\xF0\x9F\x98\x80") + '\0';
    const std::string q = io::json_quote(s);
    CHECK(q == "\"a\\\"b\\\\c\\u000a\\u0001\\u001f/ \xC3\xA9\xF0\x9F\x98\x80\\u0000\"");
    CHECK(parse_text(q).root().as_string() == s);
    check_throws<ArgumentError>([] { io::json_quote("\xC3"); }, {"invalid UTF-8 at byte 0"});
}
