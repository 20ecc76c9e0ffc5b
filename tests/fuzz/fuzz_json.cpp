// Fuzz target: the JSON reader (io::parse_json). Input: the whole text (no mode byte). Checked
// on success: every object member is found by its key (hash index and scan), paths name every
// value, and the tree written back as JSON (strings through io::json_quote, numbers that were
// not integer literals in scientific notation) parses again to the same tree, bit for bit.
#include "fuzz_util.hpp"

#include <embedkit/io/json.hpp>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr const char* target = "fuzz_json";
namespace io = embedkit::io;

void write(const io::JsonValue& v, std::string& out) {
    switch (v.type()) {
        case io::JsonType::null:
            out += "null";
            return;
        case io::JsonType::boolean:
            out += v.as_bool() ? "true" : "false";
            return;
        case io::JsonType::number:
            if (v.is_integer()) {
                out += std::to_string(v.as_int64());
                if (v.as_int64() == 0 && std::signbit(v.as_double()))
                    out.insert(out.size() - 1, "-");
            } else {
                char buf[40];
                const auto r = std::to_chars(buf, buf + sizeof buf, v.as_double(),
                                             std::chars_format::scientific);
                out.append(buf, r.ptr);
            }
            return;
        case io::JsonType::string:
            out += io::json_quote(v.as_string());
            return;
        case io::JsonType::array: {
            out += '[';
            bool first = true;
            for (const io::JsonValue& e : v.as_array()) {
                if (!first) out += ',';
                first = false;
                write(e, out);
            }
            out += ']';
            return;
        }
        case io::JsonType::object: {
            out += '{';
            bool first = true;
            for (const io::JsonMember& m : v.as_object()) {
                if (!first) out += ',';
                first = false;
                out += io::json_quote(m.key);
                out += ':';
                write(m.value, out);
            }
            out += '}';
            return;
        }
    }
}

std::uint64_t double_bits(double d) {
    std::uint64_t b;
    std::memcpy(&b, &d, 8);
    return b;
}

void same(const io::JsonValue& a, const io::JsonValue& b) {
    FUZZ_CHECK(target, a.type() == b.type());
    FUZZ_CHECK(target, a.size() == b.size());
    switch (a.type()) {
        case io::JsonType::boolean:
            FUZZ_CHECK(target, a.as_bool() == b.as_bool());
            break;
        case io::JsonType::number:
            FUZZ_CHECK(target, a.is_integer() == b.is_integer());
            FUZZ_CHECK(target, double_bits(a.as_double()) == double_bits(b.as_double()));
            if (a.is_integer()) FUZZ_CHECK(target, a.as_int64() == b.as_int64());
            break;
        case io::JsonType::string:
            FUZZ_CHECK(target, a.as_string() == b.as_string());
            break;
        case io::JsonType::array:
            for (std::size_t i = 0; i < a.size(); ++i) same(a.at(i), b.at(i));
            break;
        case io::JsonType::object:
            for (std::size_t i = 0; i < a.size(); ++i) {
                FUZZ_CHECK(target, a.as_object()[i].key == b.as_object()[i].key);
                same(a.as_object()[i].value, b.as_object()[i].value);
            }
            break;
        case io::JsonType::null:
            break;
    }
}

// Every member is found by its key; a container's elements know their place.
void check_tree(const io::JsonValue& v, std::size_t depth) {
    FUZZ_CHECK(target, depth <= io::json_max_depth);
    FUZZ_CHECK(target, v.line() >= 1 && v.column() >= 1);
    if (v.is_object()) {
        const io::JsonObject& o = v.as_object();
        for (const io::JsonMember& m : o) {
            FUZZ_CHECK(target, o.find(m.key) == &m.value);
            FUZZ_CHECK(target, v.find(m.key) == &m.value);
            check_tree(m.value, depth + 1);
        }
        FUZZ_CHECK(target, o.find("\xFF not a key") == nullptr);  // invalid UTF-8: never a key
    } else if (v.is_array()) {
        for (const io::JsonValue& e : v.as_array()) check_tree(e, depth + 1);
        if (!v.as_array().empty()) FUZZ_CHECK(target, !v.as_array().back().path().empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const io::JsonDocument doc = io::parse_json(text, "fuzz.json");
        check_tree(doc.root(), 0);
        std::string again;
        write(doc.root(), again);
        const io::JsonDocument doc2 = io::parse_json(again, "again.json");
        same(doc.root(), doc2.root());
    } catch (const embedkit::Error&) {
        // A rejected text: the expected outcome for malformed input.
    }
    return 0;
}
